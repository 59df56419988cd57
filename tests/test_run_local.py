"""`make run`'s launcher: embedded S3 plus gunicorn, stopped by Ctrl-C, data kept across restarts."""

import os
import re
import signal
import subprocess
import sys
import time

import requests

from deploy.embedded_s3 import free_port
from tests.servers import ROOT


def start(tmp_path, port: int) -> tuple[subprocess.Popen, str]:
    """Start the launcher as a terminal would; return it and the S3 endpoint it announced."""
    env = {**os.environ, "PORT": str(port), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("S3_ENDPOINT_URL", None)
    output = tmp_path / "make-run.log"
    with open(output, "ab") as log:  # a file, not a pipe: a full pipe would stall the server's logging
        launcher = subprocess.Popen(
            [sys.executable, "-m", "deploy.run_local"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                endpoints = re.findall(
                    r"embedded S3 \(SeaweedFS\) at (http://127\.0\.0\.1:\d+)", output.read_text()
                )
                return launcher, endpoints[-1]
        except requests.RequestException:  # not up yet, or S3 still starting behind it
            time.sleep(0.3)
    ctrl_c(launcher)
    raise AssertionError("make run did not become ready: " + output.read_text()[-2000:])


def ctrl_c(launcher: subprocess.Popen) -> int:
    os.killpg(launcher.pid, signal.SIGINT)
    return launcher.wait(timeout=60)


def assert_stopped(*addresses: str) -> None:
    for address in addresses:
        try:
            requests.get(address, timeout=2)
            raise AssertionError(f"{address} still answers")
        except requests.ConnectionError:
            pass


def test_datasets_survive_a_restart_and_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launcher, s3_endpoint = start(tmp_path, port)
    try:
        body = b'[{"kept": true}]'
        created = requests.post(f"{url}/datasets/", files={"file": ("kept.json", body)}).json()
    finally:
        assert ctrl_c(launcher) == 0
    assert_stopped(url, s3_endpoint)
    assert (tmp_path / ".data" / "seaweedfs").is_dir()

    launcher, s3_endpoint = start(tmp_path, port)
    try:
        assert requests.get(f"{url}/datasets/{created['id']}/").json() == created
        assert requests.get(f"{url}/datasets/{created['id']}/content/").content == body
    finally:
        launcher.terminate()  # SIGTERM to the launcher alone, as a supervisor would send it
        assert launcher.wait(timeout=60) == 0
    assert_stopped(url, s3_endpoint)
