"""``make run``: serve the API with gunicorn, with an embedded S3 server unless S3_ENDPOINT_URL is set.

What a person sees, in order: one line of refusal if another ``make run`` holds ./.data/ or the
port is taken (then nothing is started or touched); the S3 server's address; the API's address,
once it answers; and on Ctrl-C (or SIGTERM, or the terminal closing) what was stopped, within
about five seconds. If either server ends on its own, the other is stopped and the console says
which one it was. The embedded server keeps its data under ./.data/, so datasets survive a restart.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from deploy import embedded_s3

DATA = Path(".data")
S3_DATA = DATA / "seaweedfs"
S3_LOG = DATA / "seaweedfs.log"
LOCK = DATA / "make-run.lock"
GUNICORN_CONFIG = Path(__file__).with_name("gunicorn.conf.py")
# How long a stop waits for each server before killing it; they stop side by side, so a Ctrl-C
# is done within about STOP_TIMEOUT. gunicorn gives a worker that has not ended GUNICORN_GRACE
# seconds (its graceful_timeout), then kills it itself.
GUNICORN_GRACE = 3
STOP_TIMEOUT = 4
STARTUP_TIMEOUT = 60
POLL_INTERVAL = 0.25
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Refusal(Exception):
    """make run cannot go on; the message says why, in one line."""


def main() -> int:
    # SIGTERM (a supervisor, `kill`) and SIGHUP (the terminal closed) unwind like Ctrl-C, so
    # both servers are stopped rather than left running without us.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.default_int_handler)
    env = dict(os.environ)
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("PORT", "8000")
    try:
        return serve(env)
    except Refusal as refusal:
        say(f"make run: {refusal}")
        return 1


def serve(env: dict[str, str]) -> int:
    """Start what is needed, watch it, and stop it all when told or when one part ends."""
    embedded = not env.get("S3_ENDPOINT_URL")
    # The lock comes before anything else, so a second make run leaves the first one's files alone.
    lock = claim(LOCK) if embedded else None
    try:
        check_port_free(env["HOST"], env["PORT"])
        with embedded_s3_server(env) if embedded else no_server() as s3:
            gunicorn = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(GUNICORN_CONFIG),
                    f"--graceful-timeout={GUNICORN_GRACE}",
                ],
                env=env,
                # Its own process group: a Ctrl-C reaches it once, from us, so it stops the same
                # way after a Ctrl-C, a SIGTERM or a SIGHUP, and its workers only from gunicorn.
                start_new_session=True,
            )
            try:
                wait_for_api(gunicorn, s3, env)
                say(f"API on {api_url(env)} (Swagger UI at /docs); Ctrl-C stops")
                return watch(gunicorn, s3)
            except KeyboardInterrupt:
                return 0
            finally:
                for stop_signal in STOP_SIGNALS:  # a second Ctrl-C must not cut the stop short
                    signal.signal(stop_signal, signal.SIG_IGN)
                stop_all(gunicorn, s3)
    except KeyboardInterrupt:  # during the S3 server's start-up
        return 0
    finally:
        if lock is not None:
            lock.close()


def claim(lock_path: Path) -> IO[str]:
    """Hold ``lock_path`` (flock) for as long as this process runs, with our pid in it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path.open("a+")  # not "w": a refused start must not empty the holder's pid
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise Refusal(
            f"another make run (pid {holder}) is using {lock_path.parent}/; stop it first "
            "(Ctrl-C in its terminal), or start this one in another folder"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def check_port_free(host: str, port: str) -> None:
    """Refuse before starting anything if something already listens where the API would."""
    if not port.isdigit():
        raise Refusal(f"PORT must be a port number, not {port!r}")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise Refusal(f"HOST {host!r} is not an address of this machine ({error.strerror})") from None
    with socket.socket(family, kind) as probe:
        # As gunicorn binds: a port whose last connections are still closing (TIME_WAIT) is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise Refusal(
                f"cannot listen on {host}:{port} ({error.strerror}); stop what uses it, "
                f"or pick another port: PORT={int(port) + 1} make run"
            ) from None


@contextmanager
def embedded_s3_server(env: dict[str, str]) -> Iterator[embedded_s3.EmbeddedS3]:
    """Start SeaweedFS on ./.data/ and point ``env`` at it; the caller stops it."""
    # Credentials for this run only: the server is on loopback and trusts what it is started with.
    access_key, secret_key = "local-" + secrets.token_hex(6), secrets.token_urlsafe(24)
    with open(S3_LOG, "ab") as log:
        try:
            s3 = embedded_s3.start(S3_DATA.resolve(), access_key, secret_key, log=log)
        except embedded_s3.ServerExited as exited:
            raise Refusal(
                f"the embedded S3 server (SeaweedFS) did not start: it {how_it_ended(exited.status)}; "
                f"its log is {S3_LOG}"
            ) from None
    env.update(
        S3_ENDPOINT_URL=s3.endpoint_url, AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key
    )
    say(f"embedded S3 (SeaweedFS) at {s3.endpoint_url}, data in {S3_DATA}/")
    yield s3


@contextmanager
def no_server() -> Iterator[None]:
    """S3_ENDPOINT_URL names the S3 server: there is none of ours to start or stop."""
    yield None


def api_url(env: dict[str, str]) -> str:
    """Where a person on this machine reaches the API (a wildcard HOST answers on loopback)."""
    host = "127.0.0.1" if env["HOST"] in ("", "0.0.0.0", "::") else env["HOST"]
    return f"http://{f'[{host}]' if ':' in host else host}:{env['PORT']}/"


def wait_for_api(gunicorn: subprocess.Popen, s3: embedded_s3.EmbeddedS3 | None, env: dict[str, str]) -> None:
    """Return once /healthz answers; Refusal if a server ends first or it takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        check_running(gunicorn, s3)
        try:
            # A generous timeout: a worker still importing the app answers late, not never.
            urllib.request.urlopen(api_url(env) + "healthz", timeout=10).close()
            return
        except OSError:
            time.sleep(POLL_INTERVAL)
    raise Refusal(f"the API did not answer on {api_url(env)} within {STARTUP_TIMEOUT} s")


def watch(gunicorn: subprocess.Popen, s3: embedded_s3.EmbeddedS3 | None) -> int:
    """Wait until a server ends on its own (Ctrl-C arrives as KeyboardInterrupt meanwhile)."""
    try:
        while True:
            check_running(gunicorn, s3)
            time.sleep(POLL_INTERVAL)
    except Refusal as refusal:
        say(f"make run: {refusal}; stopping the rest")
        return 1


def check_running(gunicorn: subprocess.Popen, s3: embedded_s3.EmbeddedS3 | None) -> None:
    """Refusal naming the server that has ended (polling also reaps it: no zombie is left)."""
    if gunicorn.poll() is not None:
        raise Refusal(f"the API (gunicorn) {how_it_ended(gunicorn.returncode)}")
    if s3 is not None and s3.process.poll() is not None:
        raise Refusal(
            f"the embedded S3 server (SeaweedFS) {how_it_ended(s3.process.returncode)}; its log is {S3_LOG}"
        )


def how_it_ended(returncode: int) -> str:
    """``exited with status 1``, or ``was killed by SIGKILL`` (Popen gives a signal as -N)."""
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def stop_all(gunicorn: subprocess.Popen, s3: embedded_s3.EmbeddedS3 | None) -> None:
    """Stop both servers side by side and say how each one went."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        api = pool.submit(stop_gunicorn, gunicorn)
        storage = pool.submit(s3.stop, STOP_TIMEOUT) if s3 is not None else None
        outcomes = [describe_stop("the API", api.result())]
        if storage is not None:
            outcomes.append(describe_stop("the embedded S3 server", storage.result()))
    say(f"make run: stopped {' and '.join(outcomes)} in {time.monotonic() - started:.1f} s")


def stop_gunicorn(gunicorn: subprocess.Popen) -> bool:
    """SIGINT, gunicorn's quick shutdown; True unless it had to be killed."""
    if gunicorn.poll() is not None:
        return True
    gunicorn.send_signal(signal.SIGINT)
    try:
        gunicorn.wait(timeout=STOP_TIMEOUT)
        return True
    except subprocess.TimeoutExpired:
        gunicorn.kill()
        gunicorn.wait()
        return False


def describe_stop(name: str, by_itself: bool) -> str:
    return name if by_itself else f"{name} (killed: it did not stop within {STOP_TIMEOUT} s)"


def say(line: str) -> None:
    """A line on the console; a closed terminal (SIGHUP) must not stop the clean-up."""
    with suppress(OSError):
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
