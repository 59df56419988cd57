"""Real server processes for integration tests and benchmarks: gunicorn serving the API."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from deploy.embedded_s3 import EmbeddedS3, free_port

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


@dataclass
class ApiServer:
    process: subprocess.Popen
    url: str
    log: Path | None = None  # where its output goes, when it is a file
    local_cache: Path | None = None  # its own disk cache of exports, removed when it stops

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.local_cache is not None:
            shutil.rmtree(self.local_cache, ignore_errors=True)


def s3_environment(s3: EmbeddedS3, bucket: str) -> dict[str, str]:
    """The settings that point the API at ``s3`` and a bucket of its own."""
    return {
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_REGION": "us-east-1",
    }


def start_api(
    settings: dict[str, str], log: IO | int = subprocess.DEVNULL, port: int | None = None
) -> ApiServer:
    """Start gunicorn with our config and ``settings`` on a free port; return once /healthz answers.
    Unless ``settings`` name one, the server has a disk cache of exports of its own, apart from its
    temporary files (it is a cache, not a temporary file: the tests that watch those leave it out)."""
    port = port or free_port()
    local_cache = None
    if "LOCAL_CACHE_DIR" not in settings:
        local_cache = Path(tempfile.mkdtemp(prefix="datasets-api-local-cache-"))
        settings = {**settings, "LOCAL_CACHE_DIR": str(local_cache)}
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "API_TOKENS": "", **settings}
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ApiServer(process, f"http://127.0.0.1:{port}", local_cache=local_cache)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(server.url + "/healthz", timeout=2)
            return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"the API did not start on {server.url}") from None
            time.sleep(0.2)
