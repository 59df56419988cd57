"""Tools for the robustness tests: raw HTTP over a socket, listings, servers of their own, memory.

``requests`` always sends well-formed requests; the tests that need a lying Content-Length, a body
that stops half-way or headers without a body speak HTTP/1.1 over a plain socket instead.
"""

import codecs
import contextlib
import http.client
import io
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import ijson
import requests

from deploy.embedded_s3 import EmbeddedS3
from service import json_syntax
from tests.servers import ApiServer, s3_environment, start_api


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def raw_request(
    url: str, head: str, body: bytes = b"", *, half_close: bool = False, timeout: float = 10
) -> RawResponse:
    """Send ``head`` (request line and headers, without the blank line) and ``body`` as they are,
    then read one response. With ``half_close`` the sending side is shut after ``body``, as a
    client that hangs up would; otherwise the connection stays open while the response is read."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n\r\n" + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed before a response; got {received!r}")
            received += chunk
        header_block, _, rest = received.partition(b"\r\n\r\n")
        status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return RawResponse(int(status_line.split()[1]), headers, rest[:length])


def all_datasets(url: str, headers: dict[str, str] | None = None) -> list[dict]:
    """Every dataset the API lists, following the cursors."""
    found: list[dict] = []
    params: dict[str, object] = {"limit": 1000}
    while True:
        response = requests.get(f"{url}/datasets/", params=params, headers=headers, timeout=60)
        response.raise_for_status()
        page = response.json()
        found += page["items"]
        if page["next_cursor"] is None:
            return found
        params["cursor"] = page["next_cursor"]


def upload_json(url: str, body: bytes, filename: str = "data.json", **kwargs) -> requests.Response:
    """POST ``body`` as a raw application/json upload."""
    return requests.post(
        f"{url}/datasets/",
        params={"filename": filename},
        data=body,
        headers={"Content-Type": "application/json", **kwargs.pop("headers", {})},
        timeout=kwargs.pop("timeout", 120),
        **kwargs,
    )


def assert_error(response, status: int) -> str:
    """Check ``response`` is the API's JSON error with ``status``; return its message."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"] == "application/json", response.headers
    message = response.json()["message"]
    assert isinstance(message, str) and message.strip()
    return message


@contextlib.contextmanager
def api_server(s3: EmbeddedS3, bucket: str, log_dir: Path, **settings: str) -> Iterator[ApiServer]:
    """gunicorn serving the API on ``s3`` in a bucket of its own, for the length of a ``with``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"gunicorn-{bucket}.log"
    with open(log_path, "ab") as log:
        server = start_api({**s3_environment(s3, bucket), **settings}, log=log)
    server.log = log_path
    try:
        yield server
    finally:
        server.stop()


def worker_pids(server: ApiServer) -> list[int]:
    """The pids of the gunicorn workers (the children of the master process)."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def peak_memory_kib(pid: int) -> int:
    """The process's peak resident set size so far (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise LookupError(f"no VmHWM for {pid}")


def wait_for(predicate, timeout: float, interval: float = 0.2):
    """Poll ``predicate`` until it returns something true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        time.sleep(interval)


def temp_files(pids: list[int], folder: Path) -> dict[str, int]:
    """The files in ``folder`` and the ones under it that the processes ``pids`` hold open, by path,
    with the bytes each takes on disk. Open files count even once unlinked (``tempfile.TemporaryFile``
    has no name on Linux), which a listing of the folder alone would miss."""
    root = str(folder.resolve())
    found: dict[str, int] = {}
    for path in folder.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # removed since the listing
            if path.is_file():
                found[str(path)] = path.stat().st_blocks * 512
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for descriptor in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(FileNotFoundError):  # closed since the listing
                    target = os.readlink(descriptor)
                    if target.startswith(root + "/"):
                        found[target] = descriptor.stat().st_blocks * 512
    return found


def export_files(server: ApiServer, folder: Path) -> dict[str, int]:
    """The temporary files of ``server`` (master and workers) in ``folder``, its TMPDIR, less
    gunicorn's own worker heartbeat files (``wgunicorn-*``): what its exports have left open."""
    found = temp_files([server.process.pid, *worker_pids(server)], folder)
    return {path: size for path, size in found.items() if not Path(path).name.startswith("wgunicorn-")}


@contextlib.contextmanager
def held_response(url: str, path: str) -> Iterator[http.client.HTTPResponse]:
    """GET ``path`` on a connection whose receive buffer is small, so the server can send only a
    little ahead of what the test reads: the test decides how far a streamed response gets. Reading
    a chunked response cut short raises ``http.client.IncompleteRead``; leaving the block early
    closes the connection, as a client that gives up would."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    connection.connect()
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    try:
        connection.request("GET", path)
        yield connection.getresponse()
    finally:
        connection.close()


def export_keys(client, bucket: str, dataset_id: str) -> tuple[list[str], list[str]]:
    """The keys of what is cached for a dataset, and of the multipart uploads still in progress there."""
    prefix = f"exports/{dataset_id}"
    cached = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    uploading = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
    return sorted(item["Key"] for item in cached), sorted(item["Key"] for item in uploading)


def incompressible_records(megabytes: int, child_every: int = 0) -> bytes:
    """A JSON array of about ``megabytes`` MB whose workbook is about half as big (random hex text
    compresses that much), so a streamed export cannot fit in the buffers between server and client.
    With ``child_every``, every so many records hold an array of objects: a child table, which the
    xlsx writer buffers in a temporary file until the end."""
    records = []
    for number in range(megabytes * 1000):
        record: dict[str, object] = {"n": number, "blob": os.urandom(500).hex()}
        if child_every and number % child_every == 0:
            record["items"] = [{"k": number, "v": os.urandom(100).hex()}]
        records.append(record)
    return json.dumps(records).encode()


class Collected(io.BytesIO):
    """What ``upload.receive`` writes its checked bytes to in a test: a file that also takes a
    format and a name."""

    format = ""
    filename = ""


def readable(body: bytes) -> bool:
    """Whether every export reads ``body``, and it is one JSON text: ijson reading numbers exactly
    (Decimal and unbounded int), as the CSV export does (the workbook tries doubles first, and
    this way when they fail); after a UTF-8 byte-order mark, which the contract has the export
    ignore. ijson (yajl) says nothing of a string left open after a whole value (``[1] "abc``),
    which the standard library's parser calls extra data."""
    text = body.removeprefix(codecs.BOM_UTF8)
    try:
        for _event in ijson.basic_parse(io.BytesIO(text), use_float=False):
            pass
    except Exception:  # whatever it raises, it does not read it
        return False
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return error.msg != "Extra data"
    except (RecursionError, ValueError):  # deeper than Python recurses; ijson read it
        return True
    return True


def bucket_client(s3: EmbeddedS3):
    """A plain boto3 client on ``s3``, to look into the bucket behind the API's back."""
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name="us-east-1",
    )


def vouched(check, body: bytes, chunk_size: int) -> bool:
    """Whether a fast ``check`` (json_syntax.FastCheck, json_lines.FastLinesCheck) fed ``body`` in
    chunks of ``chunk_size`` vouches for it, rather than refusing."""
    try:
        for start in range(0, len(body), chunk_size):
            check.feed(body[start : start + chunk_size])
        check.close()
    except json_syntax.Refused:
        return False
    return True
