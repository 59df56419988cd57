"""dsclient run as a user runs it: a real process against the real server.

The expected answers come from the API itself (fetched here with requests) or from the local
files the tests write, never from constants that repeat what the server computes.
"""

from __future__ import annotations

import fcntl
import gzip
import io
import json
import os
import pty
import socket
import stat
import struct
import subprocess
import sys
import termios
import threading
import venv
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from dsclient.api import DatasetsApi, content_disposition_filename
from dsclient.cli import main, safe_filename, xlsx_name
from dsclient.output import human_size

CLIENT_DIR = Path(__file__).resolve().parent.parent / "client"
TOKENS = ("secret-token-1", "secret-token-2")
STAND_IN_ID = "01KB0000000000000000000000"
CONTRACT_USAGE = [
    "dsclient [options] list",
    "dsclient [options] upload <file>...",
    "dsclient [options] info <id>",
    "dsclient [options] delete <id>...",
    "dsclient [options] tables <id> [--root=<pointer>]",
    "dsclient [options] excel <id> [--root=<pointer>] [-o <path>]",
    "dsclient [options] csv <id> [--table=<name>] [--root=<pointer>] [-o <path>]",
    "dsclient [options] download <id> [-o <path>]",
    "dsclient (-h | --help | --version)",
]


@dataclass
class Run:
    status: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode()

    def json(self) -> object:
        return json.loads(self.stdout)


def dsclient(*args: str, cwd: Path, url: str | None = None, token: str | None = None) -> Run:
    """Run ``python -m dsclient`` with a clean environment: only DSCLIENT_URL/TOKEN as given."""
    env = {k: v for k, v in os.environ.items() if k not in ("DSCLIENT_URL", "DSCLIENT_TOKEN")}
    env["PYTHONPATH"] = str(CLIENT_DIR)  # this checkout's client, even before make reinstalls it
    if url is not None:
        env["DSCLIENT_URL"] = url
    if token is not None:
        env["DSCLIENT_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-m", "dsclient", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr
    return Run(done.returncode, done.stdout, stderr)


def api_get(url: str, path: str, token: str | None = None, **params: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url + path, params=params, headers=headers, timeout=30)


def all_datasets(url: str, token: str | None = None) -> list[dict]:
    """The API's own listing, every page, as the ground truth for ``list``."""
    items: list[dict] = []
    cursor = None
    while True:
        page = api_get(url, "/datasets/", token, limit=7, **({"cursor": cursor} if cursor else {})).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def write_json(path: Path, value: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def upload_one(path: Path, url: str) -> dict:
    run = dsclient("--json", "upload", str(path), cwd=path.parent, url=url)
    assert run.status == 0, run.stderr
    [dataset] = run.json()
    return dataset


def free_port() -> int:
    """A port nothing listens on: bound by us for a moment, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def records(tmp_path: Path) -> Path:
    return write_json(tmp_path / "records.json", [{"name": "Ada", "address": {"city": "London"}}, {"n": 2}])


# --- the command line itself -----------------------------------------------------------------


def test_version_is_the_installed_package_version(tmp_path: Path) -> None:
    run = dsclient("--version", cwd=tmp_path)
    assert (run.status, run.text, run.stderr) == (0, version("dsclient") + "\n", "")


def test_help_shows_the_contract_usage(tmp_path: Path) -> None:
    run = dsclient("--help", cwd=tmp_path)
    assert run.status == 0
    for line in CONTRACT_USAGE:
        assert line in run.text
    for option in ("--url=<url>", "--token=<tok>", "--json", "-q, --quiet", "DSCLIENT_URL", "DSCLIENT_TOKEN"):
        assert option in run.text


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["lst"],
        ["info"],
        ["delete"],
        ["upload"],
        ["-q", "tables"],
        ["list", "extra"],
        ["--bogus", "list"],
        ["-o", "x", "list"],
    ],
)
def test_usage_errors_exit_2_with_the_usage(tmp_path: Path, args: list[str]) -> None:
    run = dsclient(*args, cwd=tmp_path)
    assert run.status == 2
    assert run.stdout == b""
    assert run.stderr.startswith("dsclient: error: ")
    assert CONTRACT_USAGE[0] in run.stderr


def test_an_address_that_is_not_http_is_a_usage_error(tmp_path: Path) -> None:
    run = dsclient("--url", "127.0.0.1:8000", "list", cwd=tmp_path)
    assert run.status == 2
    assert "127.0.0.1:8000" in run.stderr


def test_unreachable_api_is_one_line_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = dsclient("--url", url, "list", cwd=tmp_path)
    assert run.status == 1
    assert run.stdout == b""
    assert run.stderr.count("\n") == 1
    assert url in run.stderr
    assert "make run" in run.stderr


# --- upload, list, info ------------------------------------------------------------------------


def test_upload_several_files_prints_the_api_datasets(tmp_path: Path, live_server: str) -> None:
    first = write_json(tmp_path / "first.json", {"a": 1})
    second = write_json(tmp_path / "zweite Datei é.json", [1, 2, 3, "vier"])

    run = dsclient("--json", "upload", first.name, second.name, cwd=tmp_path, url=live_server)

    assert run.status == 0, run.stderr
    assert run.stderr == ""
    uploaded = run.json()
    assert [d["filename"] for d in uploaded] == [first.name, second.name]
    assert [d["size"] for d in uploaded] == [first.stat().st_size, second.stat().st_size]
    for dataset in uploaded:
        assert api_get(live_server, f"/datasets/{dataset['id']}/").json() == dataset


def test_upload_without_json_prints_a_table_of_the_new_datasets(tmp_path: Path, live_server: str) -> None:
    # json.dumps of 2,046 characters is 2,048 bytes with its quotes: exactly 2.0 KiB.
    data = write_json(tmp_path / "two-kib.json", "x" * 2046)

    run = dsclient("upload", data.name, cwd=tmp_path, url=live_server)

    assert run.status == 0, run.stderr
    header, row = run.text.splitlines()
    assert header.split() == ["ID", "FILENAME", "SIZE", "CREATED"]
    dataset_id, filename, *size_and_time = row.split()
    assert filename == data.name
    assert size_and_time[:2] == ["2.0", "KiB"]
    assert api_get(live_server, f"/datasets/{dataset_id}/").json()["filename"] == data.name


def test_list_json_is_exactly_the_api_listing(tmp_path: Path, live_server: str, records: Path) -> None:
    upload_one(records, live_server)
    run = dsclient("list", "--json", cwd=tmp_path, url=live_server)
    assert run.status == 0, run.stderr
    assert run.json() == all_datasets(live_server)


def test_list_table_has_a_row_per_dataset(tmp_path: Path, live_server: str, records: Path) -> None:
    dataset = upload_one(records, live_server)
    run = dsclient("list", cwd=tmp_path, url=live_server)
    assert run.status == 0, run.stderr
    header, *rows = run.text.splitlines()
    assert header.split() == ["ID", "FILENAME", "SIZE", "CREATED"]
    assert [row.split()[0] for row in rows] == [d["id"] for d in all_datasets(live_server)]
    [row] = [row for row in rows if row.startswith(dataset["id"])]
    assert f"{records.stat().st_size} B" in row
    assert dataset["created_at"][:10] in row


def test_list_follows_every_page(tmp_path: Path, live_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process, with pages of two, so a handful of datasets spans several pages."""
    for number in range(5):
        upload_one(write_json(tmp_path / f"page-{number}.json", {"number": number}), live_server)
    assert api_get(live_server, "/datasets/", limit=2).json()["next_cursor"]
    monkeypatch.setattr(DatasetsApi, "page_size", 2)
    stdout, stderr = io.StringIO(), io.StringIO()

    status = main(["--url", live_server, "--json", "list"], stdout=stdout, stderr=stderr)

    assert (status, stderr.getvalue()) == (0, "")
    assert json.loads(stdout.getvalue()) == all_datasets(live_server)


def test_info_json_is_the_api_object_and_text_shows_every_field(tmp_path: Path, live_server: str) -> None:
    dataset = upload_one(write_json(tmp_path / "info.json", {"k": "v" * 3000}), live_server)

    as_json = dsclient("info", "--json", dataset["id"], cwd=tmp_path, url=live_server)
    as_text = dsclient("info", dataset["id"], cwd=tmp_path, url=live_server)

    assert as_json.status == as_text.status == 0
    assert as_json.json() == api_get(live_server, f"/datasets/{dataset['id']}/").json()
    fields = dict(line.split(None, 1) for line in as_text.text.splitlines())
    assert fields.keys() == dataset.keys()
    assert fields["id"] == dataset["id"]
    assert fields["filename"] == "info.json"
    assert fields["size"].startswith(f"{dataset['size']} bytes (")


def test_dsclient_url_from_the_environment_and_url_option_wins(tmp_path: Path, live_server: str) -> None:
    from_env = dsclient("--json", "list", cwd=tmp_path, url=live_server)
    unreachable = f"http://127.0.0.1:{free_port()}"
    overridden = dsclient("--json", "--url", live_server, "list", cwd=tmp_path, url=unreachable)
    assert from_env.status == overridden.status == 0
    assert from_env.json() == overridden.json() == all_datasets(live_server)


def test_a_missing_file_is_caught_before_any_upload(tmp_path: Path, live_server: str, records: Path) -> None:
    before = all_datasets(live_server)
    run = dsclient("upload", records.name, "missing.json", cwd=tmp_path, url=live_server)
    assert run.status == 2
    assert "missing.json" in run.stderr
    assert all_datasets(live_server) == before


def test_a_folder_is_not_an_upload(tmp_path: Path, live_server: str) -> None:
    (tmp_path / "folder.json").mkdir()
    run = dsclient("upload", "folder.json", cwd=tmp_path, url=live_server)
    assert run.status == 2
    assert "folder.json" in run.stderr


def test_a_rejected_file_is_reported_and_the_others_still_upload(tmp_path: Path, live_server: str) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"open": ')
    good = write_json(tmp_path / "good.json", {"ok": True})
    api_message = requests.post(
        live_server + "/datasets/", data=broken.read_bytes(), headers={"Content-Type": "application/json"}
    ).json()["message"]

    run = dsclient("--json", "upload", broken.name, good.name, cwd=tmp_path, url=live_server)

    assert run.status == 1
    assert json.loads(run.stderr) == {"message": f"broken.json: {api_message}"}
    [uploaded] = run.json()
    assert uploaded["filename"] == "good.json"


def test_a_large_file_round_trips_byte_for_byte(tmp_path: Path, live_server: str) -> None:
    big = write_json(tmp_path / "big.json", [{"row": n, "text": "é" * 50} for n in range(40_000)])
    assert big.stat().st_size > 4 * 1024 * 1024
    dataset = upload_one(big, live_server)
    (tmp_path / "out").mkdir()
    run = dsclient("download", dataset["id"], "-o", "out/copy.json", cwd=tmp_path, url=live_server)
    assert run.status == 0, run.stderr
    assert (tmp_path / "out" / "copy.json").read_bytes() == big.read_bytes()


# --- delete ------------------------------------------------------------------------------------


def test_delete_several_ids(tmp_path: Path, live_server: str) -> None:
    a, b, keep = (upload_one(write_json(tmp_path / f"{n}.json", n), live_server) for n in ("a", "b", "keep"))
    run = dsclient("delete", a["id"], b["id"], cwd=tmp_path, url=live_server)
    assert (run.status, run.stdout, run.stderr) == (0, b"", "")
    assert api_get(live_server, f"/datasets/{a['id']}/").status_code == 404
    assert api_get(live_server, f"/datasets/{b['id']}/").status_code == 404
    assert api_get(live_server, f"/datasets/{keep['id']}/").status_code == 200


def test_delete_reports_an_unknown_id_and_deletes_the_rest(tmp_path: Path, live_server: str) -> None:
    dataset = upload_one(write_json(tmp_path / "gone.json", [1]), live_server)
    unknown = "01AAAAAAAAAAAAAAAAAAAAAAAA"
    api_message = api_get(live_server, f"/datasets/{unknown}/").json()["message"]

    run = dsclient("delete", unknown, dataset["id"], cwd=tmp_path, url=live_server)

    assert run.status == 1
    assert run.stderr == f"dsclient: error: {unknown}: {api_message}\n"
    assert api_get(live_server, f"/datasets/{dataset['id']}/").status_code == 404


def test_an_unknown_id_is_the_api_message_and_exit_1(tmp_path: Path, live_server: str) -> None:
    unknown = "01AAAAAAAAAAAAAAAAAAAAAAAA"
    api_message = api_get(live_server, f"/datasets/{unknown}/").json()["message"]
    for command in ("info", "tables", "excel", "csv", "download"):
        run = dsclient(command, unknown, cwd=tmp_path, url=live_server)
        assert (run.status, run.stdout, run.stderr) == (1, b"", f"dsclient: error: {api_message}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("odd_id", ["..", ".", "a/b", "../datasets", "%2e%2e", " "])
def test_an_id_that_looks_like_a_path_stays_an_id(tmp_path: Path, live_server: str, odd_id: str) -> None:
    """The id is one URL segment: never a step up, never a listing, always the API's 404."""
    for command in ("info", "excel", "download"):
        run = dsclient(command, odd_id, cwd=tmp_path, url=live_server)
        assert run.status == 1
        assert run.stdout == b""
        assert run.stderr.startswith("dsclient: error: ") and run.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


# --- excel and download --------------------------------------------------------------------------


def test_excel_writes_the_stem_xlsx_here(tmp_path: Path, live_server: str) -> None:
    dataset = upload_one(write_json(tmp_path / "upload" / "café €.json", [{"a": 1}]), live_server)
    here = tmp_path / "here"
    here.mkdir()

    run = dsclient("excel", dataset["id"], cwd=here, url=live_server)

    assert (run.status, run.stdout, run.stderr) == (0, b"", "")
    written = here / "café €.xlsx"
    assert [p.name for p in here.iterdir()] == [written.name]
    assert written.read_bytes() == api_get(live_server, f"/datasets/{dataset['id']}/excel/").content
    assert "xl/workbook.xml" in zipfile.ZipFile(written).namelist()


def test_excel_to_stdout_and_to_a_named_file(tmp_path: Path, live_server: str, records: Path) -> None:
    dataset = upload_one(records, live_server)
    expected = api_get(live_server, f"/datasets/{dataset['id']}/excel/").content

    to_stdout = dsclient("excel", dataset["id"], "-o", "-", cwd=tmp_path, url=live_server)
    to_file = dsclient("excel", dataset["id"], "-o", "sheet.xlsx", cwd=tmp_path, url=live_server)

    assert (to_stdout.status, to_stdout.stdout, to_stdout.stderr) == (0, expected, "")
    assert (to_file.status, to_file.stdout) == (0, b"")
    assert (tmp_path / "sheet.xlsx").read_bytes() == expected


def test_download_writes_the_original_bytes_under_the_original_name(tmp_path: Path, live_server: str) -> None:
    original = tmp_path / "upload" / "exact bytes.json"
    original.parent.mkdir()
    original.write_bytes(b'  {"spacing" : [1,   2],\n "kept": "\\u00e9"}  \n')
    dataset = upload_one(original, live_server)
    here = tmp_path / "here"
    here.mkdir()

    run = dsclient("download", dataset["id"], cwd=here, url=live_server)

    assert (run.status, run.stdout, run.stderr) == (0, b"", "")
    assert (here / original.name).read_bytes() == original.read_bytes()


def test_download_to_stdout_and_into_a_folder(tmp_path: Path, live_server: str, records: Path) -> None:
    dataset = upload_one(records, live_server)
    (tmp_path / "into").mkdir()

    to_stdout = dsclient("download", dataset["id"], "-o", "-", cwd=tmp_path, url=live_server)
    into_folder = dsclient("download", dataset["id"], "-o", "into/", cwd=tmp_path, url=live_server)

    assert (to_stdout.status, to_stdout.stdout) == (0, records.read_bytes())
    assert into_folder.status == 0
    assert (tmp_path / "into" / records.name).read_bytes() == records.read_bytes()


def test_a_default_name_never_overwrites_but_o_does(tmp_path: Path, live_server: str, records: Path) -> None:
    dataset = upload_one(records, live_server)
    here = tmp_path / "here"
    here.mkdir()
    mine = here / records.name
    mine.write_text("my own file")

    refused = dsclient("download", dataset["id"], cwd=here, url=live_server)
    assert refused.status == 1
    assert f"-o {records.name}" in refused.stderr
    assert mine.read_text() == "my own file"

    replaced = dsclient("download", dataset["id"], "-o", records.name, cwd=here, url=live_server)
    assert replaced.status == 0
    assert mine.read_bytes() == records.read_bytes()


def test_o_through_a_symbolic_link_replaces_the_file_it_points_at(
    tmp_path: Path, live_server: str, records: Path
) -> None:
    dataset = upload_one(records, live_server)
    pointed = tmp_path / "kept" / "copy.json"
    pointed.parent.mkdir()
    pointed.write_text("older")
    (tmp_path / "link.json").symlink_to(pointed)

    run = dsclient("download", dataset["id"], "-o", "link.json", cwd=tmp_path, url=live_server)

    assert run.status == 0, run.stderr
    assert (tmp_path / "link.json").is_symlink()
    assert pointed.read_bytes() == records.read_bytes()


def test_o_a_pipe_writes_into_it_and_leaves_it_a_pipe(
    tmp_path: Path, live_server: str, records: Path
) -> None:
    """As /dev/null or a named pipe would be: never replaced by a regular file."""
    dataset = upload_one(records, live_server)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()

    run = dsclient("download", dataset["id"], "-o", str(pipe), cwd=tmp_path, url=live_server)
    reader.join(timeout=10)

    assert run.status == 0, run.stderr
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert received == [records.read_bytes()]


def test_a_missing_output_folder_is_an_error_without_traceback(tmp_path: Path, live_server: str) -> None:
    dataset = upload_one(write_json(tmp_path / "x.json", 1), live_server)
    run = dsclient("download", dataset["id"], "-o", "no/such/dir/x.json", cwd=tmp_path, url=live_server)
    assert run.status == 1
    assert "no/such/dir/x.json" in run.stderr


class _StandIn(BaseHTTPRequestHandler):
    """A stand-in for the API, quiet about each request; the real server cannot be made to
    misbehave on demand."""

    def created(self, filename: str, size: int) -> None:
        """Answer as the API answers an upload it stored."""
        dataset = {
            "id": STAND_IN_ID,
            "filename": filename,
            "size": size,
            "created_at": "2026-11-26T00:00:00Z",
        }
        body = json.dumps(dataset).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _BreaksOffHandler(_StandIn):
    """Promises a large body, sends a little of it, then hangs up: a download failing midway."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000000")
        self.send_header("Content-Disposition", 'attachment; filename="partial.json"')
        self.end_headers()
        self.wfile.write(b"[" + b"1," * 5000)
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stand-in server answering with ``handler``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _CutChunkedHandler(_StandIn):
    """Streams an export in chunks, as a first export is sent, and hangs up before the last one."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Content-Disposition", 'attachment; filename="cut.csv"')
        self.end_headers()
        chunk = b"a,b\r\n" * 1000
        for _ in range(3):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)


@pytest.mark.parametrize("handler", [_BreaksOffHandler, _CutChunkedHandler])
@pytest.mark.parametrize("output", [[], ["-o", "named.json"]])
def test_a_broken_download_leaves_no_partial_file(
    tmp_path: Path, handler: type[BaseHTTPRequestHandler], output: list[str]
) -> None:
    with serving(handler) as url:
        run = dsclient("download", "any-id", *output, cwd=tmp_path, url=url)
    assert run.status == 1
    assert run.stderr.count("\n") == 1
    assert "broke off" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_broken_download_leaves_the_file_it_would_replace_as_it_was(tmp_path: Path) -> None:
    mine = tmp_path / "named.csv"
    mine.write_text("my own file")
    with serving(_CutChunkedHandler) as url:
        run = dsclient("csv", "any-id", "-o", mine.name, cwd=tmp_path, url=url)
    assert run.status == 1
    assert [p.name for p in tmp_path.iterdir()] == [mine.name]
    assert mine.read_text() == "my own file"


class _AcceptsOnceHandler(_StandIn):
    """Stores the first upload, then hangs up on every later one: a network failing mid-batch."""

    accepted = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).accepted:
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        type(self).accepted += 1
        self.created("a.json", 2)


@pytest.mark.parametrize("as_json", [False, True])
def test_a_batch_cut_off_by_the_network_still_prints_what_was_uploaded(tmp_path: Path, as_json: bool) -> None:
    files = [write_json(tmp_path / name, []) for name in ("a.json", "b.json", "c.json")]
    with serving(type("Handler", (_AcceptsOnceHandler,), {"accepted": 0})) as url:
        run = dsclient("upload", *(["--json"] if as_json else []), *map(str, files), cwd=tmp_path, url=url)
    assert run.status == 1
    assert run.stderr.count("\n") == 1
    if as_json:
        assert [dataset["id"] for dataset in run.json()] == [STAND_IN_ID]
        assert set(json.loads(run.stderr)) == {"message"}
    else:
        assert STAND_IN_ID in run.text and "a.json" in run.text


def stderr_on_a_terminal(
    *args: str, cwd: Path, url: str, rows: int = 24, columns: int = 80, on_output=None
) -> str:
    """Run dsclient with its stderr on a pseudo-terminal sized ``rows`` x ``columns``; what it drew.

    ``on_output(seen)`` is called with everything drawn so far each time more arrives."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "DSCLIENT_TOKEN"} | {
        "DSCLIENT_URL": url,
        "PYTHONPATH": str(CLIENT_DIR),
    }
    with subprocess.Popen(
        [sys.executable, "-m", "dsclient", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    ) as process:
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end closed: the process is done with it
                break
            if not chunk:
                break
            seen += chunk
            if on_output is not None:
                on_output(seen.decode(errors="replace"))
        assert process.wait(timeout=60) == 0, seen
    os.close(controller)
    return seen.decode(errors="replace")


# 0 x 0 is what a pseudo-terminal reports until someone sizes it (`script`, some CI runners).
@pytest.mark.parametrize("rows, columns", [(24, 80), (0, 0)])
def test_progress_bar_only_on_a_terminal_and_not_with_quiet(
    tmp_path: Path, live_server: str, rows: int, columns: int
) -> None:
    dataset = upload_one(write_json(tmp_path / "bar.json", list(range(50_000))), live_server)
    terminal = {"cwd": tmp_path, "url": live_server, "rows": rows, "columns": columns}

    shown = stderr_on_a_terminal("download", dataset["id"], "-o", "with-bar.json", **terminal)
    assert "100%" in shown
    assert "with-bar.json: 100%" in shown
    assert stderr_on_a_terminal("-q", "download", dataset["id"], "-o", "quiet.json", **terminal) == ""
    assert (tmp_path / "with-bar.json").read_bytes() == (tmp_path / "quiet.json").read_bytes()

    uploading = stderr_on_a_terminal("upload", "bar.json", **terminal)
    assert "bar.json: 100%" in uploading


class _ThinksFirstHandler(_StandIn):
    """A first export: nothing at all until ``go`` is set, then the file in chunks."""

    protocol_version = "HTTP/1.1"
    go = threading.Event()

    def do_GET(self) -> None:
        type(self).go.wait(timeout=30)
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Content-Disposition", 'attachment; filename="slow.xlsx"')
        self.end_headers()
        for chunk in (b"PK" * 20_000, b"done"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


def test_progress_shows_from_the_start_while_the_server_makes_a_first_export(tmp_path: Path) -> None:
    handler = type("Handler", (_ThinksFirstHandler,), {"go": threading.Event()})
    waited: list[str] = []

    def on_output(seen: str) -> None:
        if "waiting for the server" in seen and not handler.go.is_set():
            waited.append(seen)
            handler.go.set()  # the server sends its first byte only once the bar is on the terminal

    with serving(handler) as url:
        shown = stderr_on_a_terminal("excel", "some-id", cwd=tmp_path, url=url, on_output=on_output)
    assert waited, shown
    assert "slow.xlsx" in shown and "39.1k" in shown  # the bytes received, though no total was known
    assert (tmp_path / "slow.xlsx").read_bytes() == b"PK" * 20_000 + b"done"


class _RecordsUploadsHandler(_StandIn):
    """Answers every upload as the API would and keeps what was sent, header by header."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.created("upload.json", len(body))


@pytest.mark.parametrize(
    "name, content_type, encoding",
    [
        ("plain.json", "application/json", None),
        ("lines.jsonl", "application/x-ndjson", None),
        ("lines.NDJSON", "application/x-ndjson", None),
        ("packed.json.gz", "application/json", "gzip"),
        ("packed.jsonl.gz", "application/x-ndjson", "gzip"),
    ],
)
def test_upload_says_what_a_file_holds(
    tmp_path: Path, name: str, content_type: str, encoding: str | None
) -> None:
    payload = gzip.compress(b'{"a": 1}\n') if encoding else b'{"a": 1}\n'
    (tmp_path / name).write_bytes(payload)
    handler = type("Handler", (_RecordsUploadsHandler,), {"received": []})
    with serving(handler) as url:
        run = dsclient("upload", name, cwd=tmp_path, url=url)
    assert run.status == 0, run.stderr
    [(headers, body)] = handler.received
    assert (headers["Content-Type"], headers.get("Content-Encoding"), body) == (
        content_type,
        encoding,
        payload,
    )


def test_with_json_every_error_is_one_message_object_on_stderr(tmp_path: Path) -> None:
    unreachable = dsclient("--json", "--url", f"http://127.0.0.1:{free_port()}", "list", cwd=tmp_path)
    usage = dsclient("--json", "lst", cwd=tmp_path)
    incomplete = dsclient("--json", "csv", cwd=tmp_path)
    missing = dsclient("--json", "upload", "missing.json", cwd=tmp_path)

    for run, status in ((unreachable, 1), (usage, 2), (incomplete, 2), (missing, 2)):
        assert run.status == status
        assert run.stdout == b""
        [line] = run.stderr.splitlines()
        assert list(json.loads(line)) == ["message"]
    assert "cannot reach the API" in json.loads(unreachable.stderr)["message"]
    assert "'lst'" in json.loads(usage.stderr)["message"]
    assert json.loads(incomplete.stderr)["message"].startswith("'csv' needs more arguments")


def test_a_rejected_json_upload_prints_what_was_uploaded_and_the_error_as_json(
    tmp_path: Path, live_server: str
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2")
    api_message = requests.post(
        live_server + "/datasets/", data=broken.read_bytes(), headers={"Content-Type": "application/json"}
    ).json()["message"]

    run = dsclient("--json", "upload", broken.name, cwd=tmp_path, url=live_server)

    assert run.status == 1
    assert run.json() == []
    assert json.loads(run.stderr) == {"message": f"broken.json: {api_message}"}


def test_help_states_the_one_rule_for_existing_files(tmp_path: Path) -> None:
    text = " ".join(dsclient("--help", cwd=tmp_path).text.split())
    assert "a file (replaced if it exists;" in text
    assert "never replace a file." in text


# --- tables, csv and root --------------------------------------------------------------------


@pytest.fixture
def orders(tmp_path: Path, live_server: str) -> dict:
    """A dataset whose export has a child table."""
    records = [{"id": 1, "items": [{"sku": "a"}, {"sku": "b"}]}, {"id": 2, "items": [{"sku": "c"}]}]
    return upload_one(write_json(tmp_path / "upload" / "orders.json", records), live_server)


def test_tables_shows_the_api_tables_and_json_is_the_api_object(
    tmp_path: Path, live_server: str, orders: dict
) -> None:
    listing = api_get(live_server, f"/datasets/{orders['id']}/tables/").json()

    as_json = dsclient("--json", "tables", orders["id"], cwd=tmp_path, url=live_server)
    as_text = dsclient("tables", orders["id"], cwd=tmp_path, url=live_server)

    assert as_json.status == as_text.status == 0
    assert as_json.json() == listing
    header, *rows = as_text.text.splitlines()
    assert header.split() == ["TABLE", "PARENT", "ROWS", "COLUMNS"]
    assert [row.split() for row in rows] == [
        [table["name"], table["parent"] or "-", str(table["rows"]), str(len(table["columns"]))]
        for table in listing["tables"]
    ]
    assert len(rows) == 2


def test_csv_writes_each_table_under_the_api_name(tmp_path: Path, live_server: str, orders: dict) -> None:
    child = api_get(live_server, f"/datasets/{orders['id']}/tables/").json()["tables"][1]["name"]
    here = tmp_path / "here"
    here.mkdir()

    main_table = dsclient("csv", orders["id"], cwd=here, url=live_server)
    child_table = dsclient("csv", orders["id"], f"--table={child}", cwd=here, url=live_server)

    assert (main_table.status, main_table.stderr) == (child_table.status, child_table.stderr) == (0, "")
    assert sorted(p.name for p in here.iterdir()) == sorted(["orders.csv", f"orders-{child}.csv"])
    expected_main = api_get(live_server, f"/datasets/{orders['id']}/csv/").content
    expected_child = api_get(live_server, f"/datasets/{orders['id']}/csv/", table=child).content
    assert (here / "orders.csv").read_bytes() == expected_main
    assert (here / f"orders-{child}.csv").read_bytes() == expected_child


def test_an_unknown_table_is_the_api_message(tmp_path: Path, live_server: str, orders: dict) -> None:
    refusal = api_get(live_server, f"/datasets/{orders['id']}/csv/", table="no such table")
    run = dsclient("csv", orders["id"], "--table=no such table", cwd=tmp_path, url=live_server)
    assert refusal.status_code == 404
    assert (run.status, run.stderr) == (1, f"dsclient: error: {refusal.json()['message']}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["upload"]


def test_excel_with_a_root_is_the_api_export_of_that_root(tmp_path: Path, live_server: str) -> None:
    dataset = upload_one(
        write_json(tmp_path / "wrapped.json", {"results": [{"a": 1}, {"a": 2}]}), live_server
    )
    expected = api_get(live_server, f"/datasets/{dataset['id']}/excel/", root="/results").content
    whole = api_get(live_server, f"/datasets/{dataset['id']}/excel/").content

    run = dsclient(
        "excel", dataset["id"], "--root=/results", "-o", "results.xlsx", cwd=tmp_path, url=live_server
    )

    assert run.status == 0, run.stderr
    assert (tmp_path / "results.xlsx").read_bytes() == expected != whole


def test_tables_with_a_root_lists_the_tables_of_that_root(tmp_path: Path, live_server: str) -> None:
    document = {"count": 1, "results": [{"id": 1, "items": [{"sku": "a"}]}]}
    dataset = upload_one(write_json(tmp_path / "wrapped.json", document), live_server)
    expected = api_get(live_server, f"/datasets/{dataset['id']}/tables/", root="/results").json()

    run = dsclient("--json", "tables", dataset["id"], "--root=/results", cwd=tmp_path, url=live_server)

    assert run.status == 0, run.stderr
    assert run.json() == expected
    assert [table["name"] for table in expected["tables"]] == ["data", "items"]


# --- JSON Lines and gzip, stored as what they hold ---------------------------------------------


def test_json_lines_and_gzip_files_are_stored_as_what_they_hold(tmp_path: Path, live_server: str) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b'{"n": 1}\n{"n": 2}\n')
    packed = tmp_path / "packed.json.gz"
    unpacked = json.dumps([{"n": n} for n in range(1000)]).encode()
    packed.write_bytes(gzip.compress(unpacked))

    run = dsclient("--json", "upload", lines.name, packed.name, cwd=tmp_path, url=live_server)

    assert run.status == 0, run.stderr
    as_lines, as_gzip = run.json()
    assert (as_lines["format"], as_lines["size"]) == ("jsonl", lines.stat().st_size)
    assert (as_gzip["format"], as_gzip["size"], as_gzip["filename"]) == ("json", len(unpacked), "packed.json")
    assert api_get(live_server, f"/datasets/{as_gzip['id']}/content/").content == unpacked


# --- names and sizes, which the real server is too well-behaved to exercise ------------------------


@pytest.mark.parametrize(
    "header, name",
    [
        ('attachment; filename="data.xlsx"', "data.xlsx"),
        ("attachment; filename=\"cafe .xlsx\"; filename*=UTF-8''caf%C3%A9%20%E2%82%AC.xlsx", "café €.xlsx"),
        ("attachment; filename*=UTF-8''%E2%82%AC.xlsx; filename=\"EUR.xlsx\"", "€.xlsx"),
        ("attachment", None),
        ("", None),
    ],
)
def test_content_disposition_prefers_the_rfc_6266_utf8_name(header: str, name: str | None) -> None:
    assert content_disposition_filename(header) == name


@pytest.mark.parametrize(
    "suggested, written",
    [
        ("../../.ssh/authorized_keys", "authorized_keys"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\x\\data.json", "data.json"),
        ("red\x1b[31m\n.json", "red[31m.json"),
        ("..", None),
        ("dir/", None),
        ("", None),
    ],
)
def test_a_server_suggested_name_is_only_ever_a_plain_file_name(suggested: str, written: str | None) -> None:
    assert safe_filename(suggested) == written


def test_excel_names_follow_the_api_rule() -> None:
    assert [xlsx_name(n) for n in ("data.json", "a.b.json", "noext", "../x.json", "..")] == [
        "data.xlsx",
        "a.b.xlsx",
        "noext.xlsx",
        "x.xlsx",
        None,
    ]


def test_human_sizes_use_binary_units() -> None:
    sizes = [0, 1023, 1024, 1536, 1024**2 - 1, 5 * 1024**3, 1024**5]
    assert [human_size(n) for n in sizes] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "1.0 MiB",
        "5.0 GiB",
        "1.0 PiB",
    ]


# --- a server that wants a token -----------------------------------------------------------------


def test_token_from_option_or_environment(tmp_path: Path, secured_server: str, records: Path) -> None:
    refusal = api_get(secured_server, "/datasets/")
    assert refusal.status_code == 401

    without = dsclient("list", cwd=tmp_path, url=secured_server)
    wrong = dsclient("--token", "not-a-token", "list", cwd=tmp_path, url=secured_server)
    uploaded = dsclient(
        "--json", "--token", TOKENS[0], "upload", str(records), cwd=tmp_path, url=secured_server
    )
    from_env = dsclient("--json", "list", cwd=tmp_path, url=secured_server, token=TOKENS[1])

    for refused in (without, wrong):
        assert refused.status == 1
        assert refused.stdout == b""
        assert refusal.json()["message"] in refused.stderr
    assert uploaded.status == from_env.status == 0
    [dataset] = uploaded.json()
    assert dataset in from_env.json()
    assert from_env.json() == all_datasets(secured_server, token=TOKENS[0])


# --- packaging -------------------------------------------------------------------------------------


def test_the_client_installs_alone_without_the_server_stack(tmp_path: Path) -> None:
    """``pip install ./client`` into a fresh virtualenv: a working dsclient and no server packages."""
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(CLIENT_DIR)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"], check=True, capture_output=True, text=True
    )
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert {"requests", "docopt-ng", "tqdm"} <= installed
    assert not {"flask", "flask-restx", "boto3", "botocore", "openpyxl", "werkzeug"} & installed

    run = subprocess.run(
        [tmp_path / "venv" / "bin" / "dsclient", "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert (run.returncode, run.stdout) == (0, version("dsclient") + "\n")
