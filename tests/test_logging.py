"""What the server's log says about a request that fails: one line for an outage, a traceback for a bug."""

import time
from pathlib import Path

import requests

from deploy.embedded_s3 import free_port
from tests.servers import start_api


def test_a_503_for_a_storage_outage_logs_one_line_and_no_traceback(tmp_path: Path) -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    settings = {
        "S3_ENDPOINT_URL": nothing_listens,
        "S3_BUCKET": "outage",
        "AWS_ACCESS_KEY_ID": "outage-access",
        "AWS_SECRET_ACCESS_KEY": "outage-secret",
    }
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "ab") as log:
        server = start_api(settings, log=log)
    try:
        before = log_path.stat().st_size
        answer = requests.get(f"{server.url}/datasets/", timeout=30)
        logged = wait_for_access_line(log_path, before, '"GET /datasets/ HTTP/1.1" 503')
    finally:
        server.stop()
    assert answer.status_code == 503
    # The other worker may still be logging its own start-up meanwhile; the listing's lines are
    # those naming its S3 call or its path.
    about_the_listing = [line for line in logged if "list-type=2" in line or "/datasets/ " in line]
    cause, access = about_the_listing
    assert " WARNING service.storage: S3 unreachable: " in cause
    assert '"GET /datasets/ HTTP/1.1" 503' in access
    assert not [line for line in logged if "Traceback" in line or " ERROR " in line]


def wait_for_access_line(log_path: Path, offset: int, request: str) -> list[str]:
    """The log's lines after ``offset``, once gunicorn's access line for ``request`` is among them
    (it is written after the response, so last)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = log_path.read_bytes()[offset:].decode().splitlines()
        if any(request in line for line in lines):
            return lines
        time.sleep(0.1)
    raise AssertionError(f"no access line for {request} in the log")
