"""`make run`'s launcher, run as a terminal runs it: its console, Ctrl-C, a second start, failures.

Each test starts ``python -m deploy.run_local`` in a folder of its own, in its own process group
(a terminal's foreground job), with its console in a file, and reads that console as a person would.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from deploy.embedded_s3 import free_port
from tests.servers import ROOT

# The contract's "within a few seconds"; the issue asked for five.
STOP_WITHIN = 5.0


@dataclass
class Launcher:
    process: subprocess.Popen
    console_file: Path
    url: str

    @property
    def console(self) -> str:
        return self.console_file.read_text()

    def s3_endpoint(self) -> str:
        [endpoint] = re.findall(r"embedded S3 \(SeaweedFS\) at (http://127\.0\.0\.1:\d+)", self.console)
        return endpoint

    def wait_for(self, line_start: str, timeout: float = 90) -> None:
        """Wait until a console line starts with ``line_start``, or fail showing the console."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.startswith(line_start) for line in self.console.splitlines()):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line starting {line_start!r} on the console:\n{self.console[-3000:]}")

    def ctrl_c(self) -> tuple[int, float]:
        """What a terminal does on Ctrl-C: SIGINT to the whole foreground job. Exit status, seconds."""
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        status = self.process.wait(timeout=60)
        return status, time.monotonic() - started


def launch(folder: Path, port: int, console_name: str = "console.log") -> Launcher:
    env = {**os.environ, "PORT": str(port), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("S3_ENDPOINT_URL", None)
    console = folder / console_name
    with open(console, "ab") as out:  # a file, not a pipe: a full pipe would stall the server's logging
        process = subprocess.Popen(
            [sys.executable, "-m", "deploy.run_local"],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Launcher(process, console, f"http://127.0.0.1:{port}")


@pytest.fixture
def running(tmp_path: Path):
    """A make run that is serving; stopped afterwards whatever the test did."""
    launcher = launch(tmp_path, free_port())
    launcher.wait_for("API on ")
    yield launcher
    if launcher.process.poll() is None:
        launcher.ctrl_c()


def answers(address: str) -> bool:
    try:
        requests.get(address, timeout=2)
        return True
    except requests.ConnectionError:
        return False


def launcher_lines(console: str) -> list[str]:
    """The launcher's own lines, without gunicorn's and the app's log lines."""
    return [line for line in console.splitlines() if not re.match(r"\[?\d{4}-\d\d-\d\d|127\.0\.0\.1 ", line)]


def test_the_console_of_a_start_and_a_ctrl_c(running: Launcher) -> None:
    s3_endpoint = running.s3_endpoint()
    # The address is printed once the API answers there, after the S3 server's.
    assert requests.get(running.url + "/healthz", timeout=5).status_code == 200
    status, seconds = running.ctrl_c()
    assert status == 0
    assert seconds < STOP_WITHIN, running.console
    first, second, last = launcher_lines(running.console)
    assert first == f"embedded S3 (SeaweedFS) at {s3_endpoint}, data in .data/seaweedfs/"
    assert second == f"API on {running.url}/ (Swagger UI at /docs); Ctrl-C stops"
    assert re.fullmatch(r"make run: stopped the API and the embedded S3 server in \d+\.\d s", last), (
        running.console
    )
    assert not answers(running.url) and not answers(s3_endpoint)


def test_datasets_survive_a_restart_and_sigterm_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    first = launch(tmp_path, port)
    first.wait_for("API on ")
    try:
        body = b'[{"kept": true}]'
        created = requests.post(f"{first.url}/datasets/", files={"file": ("kept.json", body)}).json()
    finally:
        assert first.ctrl_c()[0] == 0

    second = launch(tmp_path, port, console_name="second.log")
    second.wait_for("API on ")
    try:
        assert requests.get(f"{second.url}/datasets/{created['id']}/").json() == created
        assert requests.get(f"{second.url}/datasets/{created['id']}/content/").content == body
    finally:
        second.process.terminate()  # SIGTERM to the launcher alone, as a supervisor would send it
        assert second.process.wait(timeout=STOP_WITHIN) == 0
    second.wait_for("make run: stopped the API and the embedded S3 server")
    assert not answers(second.url) and not answers(second.s3_endpoint())


def test_a_second_make_run_on_the_same_data_refuses_in_one_line(running: Launcher, tmp_path: Path) -> None:
    s3_log = tmp_path / ".data" / "seaweedfs.log"
    s3_log_before = s3_log.read_bytes()

    second = launch(tmp_path, free_port(), console_name="second.log")

    assert second.process.wait(timeout=30) == 1
    assert second.console == (
        f"make run: another make run (pid {running.process.pid}) is using .data/; stop it first "
        "(Ctrl-C in its terminal), or start this one in another folder\n"
    )
    assert s3_log.read_bytes()[: len(s3_log_before)] == s3_log_before
    created = requests.post(f"{running.url}/datasets/", files={"file": ("still.json", b"[1]")})
    assert created.status_code == 201
    assert (tmp_path / ".data" / "make-run.lock").read_text() == f"{running.process.pid}\n"


def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        launcher = launch(tmp_path, port)
        assert launcher.process.wait(timeout=30) == 1
    assert launcher.console == (
        f"make run: cannot listen on 127.0.0.1:{port} (Address already in use); stop what uses it, "
        f"or pick another port: PORT={port + 1} make run\n"
    )
    assert not (tmp_path / ".data" / "seaweedfs").exists()


def weed_pid(data_dir: Path) -> int:
    """The weed process serving ``data_dir``, found by its command line."""
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"-dir={data_dir}".encode() in command:
            return int(entry.name)
    raise AssertionError(f"no weed process for {data_dir}")


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds weed through /proc")
def test_when_the_embedded_s3_dies_make_run_says_so_and_stops(running: Launcher, tmp_path: Path) -> None:
    os.kill(weed_pid((tmp_path / ".data" / "seaweedfs").resolve()), signal.SIGKILL)

    assert running.process.wait(timeout=STOP_WITHIN + 2) == 1
    lines = launcher_lines(running.console)
    assert lines[-2] == (
        "make run: the embedded S3 server (SeaweedFS) was killed by SIGKILL; its log is "
        ".data/seaweedfs.log; stopping the rest"
    )
    assert lines[-1].startswith("make run: stopped the API and the embedded S3 server in ")
    assert not answers(running.url)
