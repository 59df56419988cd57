"""Whatever a client sends, the real server answers sensibly and stores nothing it should not.

Every file of JSONTestSuite (https://github.com/nst/JSONTestSuite, MIT, copied into tests/data with its
licence), bodies that are empty, mistyped, cut short or declared absurdly long, hostile file names and
hostile ids, all against gunicorn on SeaweedFS with a bucket of its own.
"""

import io
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import requests
from openpyxl import load_workbook
from werkzeug.http import parse_options_header

from tests.probes import all_datasets, api_server, assert_error, raw_request, upload_json, wait_for

SUITE = Path(__file__).parent / "data" / "JSONTestSuite" / "test_parsing"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SMALL_LIMIT = 1000
FORM_HEAD = b'--zz\r\nContent-Disposition: form-data; name="file"; '


def suite_files(prefix: str) -> list[Path]:
    return sorted(SUITE.glob(f"{prefix}_*.json"))


@pytest.fixture(scope="module")
def api_server_of_module(s3_server, tmp_path_factory):
    with api_server(s3_server, "bad-input", tmp_path_factory.mktemp("bad-input")) as server:
        yield server


@pytest.fixture(scope="module")
def api(api_server_of_module) -> str:
    return api_server_of_module.url


@pytest.fixture(scope="module")
def small_api(s3_server, tmp_path_factory):
    """A server that takes uploads of at most SMALL_LIMIT bytes."""
    settings = {"MAX_UPLOAD_BYTES": str(SMALL_LIMIT)}
    with api_server(s3_server, "small-limit", tmp_path_factory.mktemp("small"), **settings) as server:
        yield server.url


def post_file(url: str, path: Path) -> requests.Response:
    return requests.post(
        f"{url}/datasets/", files={"file": (path.name, path.read_bytes(), "application/json")}, timeout=60
    )


def in_parallel(function, items) -> list:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(function, items))


def test_the_suite_is_all_there():
    counts = {prefix: len(suite_files(prefix)) for prefix in "yni"}
    assert counts == {"y": 95, "n": 188, "i": 35}


def test_every_accepted_file_of_the_suite_is_stored_whole_and_exports(api):
    def check(path: Path) -> str | None:
        response = post_file(api, path)
        if response.status_code != 201:
            return f"{path.name}: upload {response.status_code} {response.text[:200]}"
        dataset = response.json()
        content = requests.get(f"{api}/datasets/{dataset['id']}/content/", timeout=60)
        if content.content != path.read_bytes() or dataset["size"] != path.stat().st_size:
            return f"{path.name}: stored bytes differ"
        export = requests.get(f"{api}/datasets/{dataset['id']}/excel/", timeout=60)
        if export.status_code != 200 or export.headers["Content-Type"] != XLSX:
            return f"{path.name}: export {export.status_code} {export.text[:200]}"
        load_workbook(io.BytesIO(export.content), read_only=True).close()
        return None

    failures = [failure for failure in in_parallel(check, suite_files("y")) if failure]
    assert failures == []


def test_every_rejected_file_of_the_suite_is_400_and_leaves_nothing(api):
    before = {dataset["id"] for dataset in all_datasets(api)}

    def check(path: Path) -> str | None:
        response = post_file(api, path)
        message = response.json().get("message", "") if response.status_code == 400 else ""
        # A NUL among the first bytes is how UTF-16 and UTF-32 text begins: the refusal says so.
        wide = b"\0" in path.read_bytes()[:4] and message.startswith("The file is UTF-")
        if not (message.startswith("Invalid JSON") or wide):
            return f"{path.name}: {response.status_code} {response.text[:200]}"
        return None

    failures = [failure for failure in in_parallel(check, suite_files("n")) if failure]
    assert failures == []
    assert {dataset["id"] for dataset in all_datasets(api)} == before


def test_no_implementation_defined_file_of_the_suite_is_a_server_error(api):
    def check(path: Path) -> str | None:
        response = post_file(api, path)
        if response.status_code == 400:
            return None if response.json()["message"] else f"{path.name}: 400 without a message"
        if response.status_code != 201:
            return f"{path.name}: {response.status_code} {response.text[:200]}"
        export = requests.get(f"{api}/datasets/{response.json()['id']}/excel/", timeout=60)
        if export.status_code >= 500:
            return f"{path.name}: export {export.status_code} {export.text[:200]}"
        return None

    failures = [failure for failure in in_parallel(check, suite_files("i")) if failure]
    assert failures == []


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        ({"data": b"", "headers": {"Content-Type": "application/json"}}, 400, "empty"),
        ({"files": {"file": ("empty.json", b"")}}, 400, "empty"),
        ({"data": b"   \n\t ", "headers": {"Content-Type": "application/json"}}, 400, "Invalid JSON"),
        ({}, 400, "No file"),
        ({"data": b"[1]", "headers": {"Content-Type": "text/plain"}}, 415, "text/plain"),
        ({"data": b"[1]", "headers": {"Content-Type": "application/xml"}}, 415, "application/xml"),
        ({"data": b"<a/>", "headers": {"Content-Type": "text/html; charset=utf-8"}}, 415, "text/html"),
        ({"data": b"[1]", "headers": {"Content-Type": "image/png"}}, 415, "image/png"),
        ({"data": {"file": "[1]"}}, 415, "x-www-form-urlencoded"),
        ({"data": b"[1]", "headers": {"Content-Type": ""}}, 415, "content type"),
        ({"files": {"other": ("a.json", b"[1]")}}, 400, "file"),
        ({"files": {"file": (None, b"[1]")}}, 400, "file"),  # a plain field, not a file
        ({"data": b"[1]", "headers": {"Content-Type": "multipart/form-data"}}, 400, "file"),
        ({"data": b"junk", "headers": {"Content-Type": "multipart/form-data; boundary=zz"}}, 400, "file"),
        ({"data": b"[1]"}, 415, "no content type"),
        ({"data": iter([b"[1]"])}, 415, "no content type"),  # chunked: no Content-Length either
    ],
    ids=[
        "empty-raw",
        "empty-file",
        "whitespace-only",
        "no-body",
        "text-plain",
        "xml",
        "html",
        "png",
        "form-urlencoded",
        "no-content-type",
        "multipart-other-field",
        "multipart-field-not-file",
        "multipart-without-boundary",
        "multipart-garbage",
        "body-without-content-type",
        "chunked-body-without-content-type",
    ],
)
def test_bodies_that_are_no_upload_are_refused_with_a_message(api, kwargs, status, fragment):
    before = len(all_datasets(api))
    message = assert_error(requests.post(f"{api}/datasets/", timeout=30, **kwargs), status)
    assert fragment.lower() in message.lower()
    assert len(all_datasets(api)) == before


@pytest.mark.parametrize(
    ("content_type", "body", "said"),
    [
        (
            "multipart/form-data; boundary=zz",
            FORM_HEAD + b'filename="caf\xe9.json"\r\n\r\n[1]\r\n--zz--\r\n',
            "UTF-8",
        ),
        ("multipart/form-data; boundary=zz", FORM_HEAD + b'filename="a.json"\r\n\r\n[1]', "closing boundary"),
        ("multipart/form-data", FORM_HEAD + b'filename="a.json"\r\n\r\n[1]\r\n--zz--\r\n', "boundary"),
    ],
    ids=["latin-1-file-name", "no-closing-boundary", "no-boundary-parameter"],
)
def test_a_form_that_cannot_be_read_says_why_rather_than_no_file(api, content_type, body, said):
    """Werkzeug drops a form it cannot parse without a word, which read as "No file"."""
    response = requests.post(
        f"{api}/datasets/", data=body, headers={"Content-Type": content_type}, timeout=30
    )
    message = assert_error(response, 400)
    assert said in message and "No file" not in message


def test_two_files_in_one_form_are_a_400_not_one_stored_and_one_dropped(api):
    before = len(all_datasets(api))
    files = [("file", ("a.json", b"[1]")), ("file", ("b.json", b"[2]"))]
    message = assert_error(requests.post(f"{api}/datasets/", files=files, timeout=30), 400)
    assert "2 files" in message and "one" in message
    assert len(all_datasets(api)) == before


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=zz"])
def test_a_huge_declared_length_is_413_before_any_of_the_body_is_sent(api, content_type):
    head = f"POST /datasets/ HTTP/1.1\nHost: test\nContent-Type: {content_type}\nContent-Length: {10**15}"
    response = raw_request(api, head, timeout=10)  # not one byte of the body is ever sent
    assert response.status == 413
    assert str(2**30) in response.json()["message"]


def test_forms_beyond_the_form_parsers_limits_are_413_saying_so(api):
    before = len(all_datasets(api))
    many_parts = {f"field{number}": (None, b"x") for number in range(1500)}
    big_field = {"note": (None, b"x" * 1_000_000)}
    for extra in (many_parts, big_field):
        files = {**extra, "file": ("a.json", b"[1]")}
        message = assert_error(requests.post(f"{api}/datasets/", files=files, timeout=30), 413)
        assert "form" in message and "file" in message
    assert len(all_datasets(api)) == before


def test_truncated_raw_bodies_are_400_and_nothing_is_stored(api):
    before = len(all_datasets(api))
    head = "POST /datasets/ HTTP/1.1\nHost: test\nContent-Type: application/json\nContent-Length: 1000"
    # A prefix that is valid JSON on its own must not pass for the whole upload.
    whole_looking = raw_request(api, head, b"[1, 2, 3]", half_close=True)
    assert whole_looking.status == 400 and "Content-Length" in whole_looking.json()["message"]
    broken = raw_request(api, head, b'{"a": [1, 2', half_close=True)
    assert broken.status == 400 and broken.json()["message"]
    multipart = (
        b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n'
        b"Content-Type: application/json\r\n\r\n[1, 2, 3]\r\n--zz--\r\n"
    )
    head = f"POST /datasets/ HTTP/1.1\nHost: test\nContent-Type: multipart/form-data; boundary=zz\nContent-Length: {len(multipart) + 500}"
    # Cut in the part's headers, in the file, before the closing boundary, inside it: the multipart
    # framing never says the file is complete, so none of them may pass for an upload.
    file_start = multipart.index(b"[1")
    for cut in (20, file_start + 4, multipart.index(b"\r\n--zz--"), len(multipart) - 6):
        response = raw_request(api, head, multipart[:cut], half_close=True)
        assert response.status == 400, (cut, response)
    chunked = (
        "POST /datasets/ HTTP/1.1\nHost: test\nContent-Type: application/json\nTransfer-Encoding: chunked"
    )
    cut_chunked = raw_request(api, chunked, b"3\r\n[1,\r\n", half_close=True)
    assert cut_chunked.status == 400 and "ended before it was complete" in cut_chunked.json()["message"]
    assert len(all_datasets(api)) == before


def test_a_client_that_hangs_up_mid_body_leaves_nothing(api_server_of_module):
    server = api_server_of_module
    before = len(all_datasets(server.url))
    parts = urlsplit(server.url)

    def refused_posts() -> int:
        assert server.log is not None
        return server.log.read_text().count('"POST /datasets/ HTTP/1.1" 400')

    refused_before = refused_posts()
    for body in (b"[1,2]", b"[" * 5000):
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(
                b"POST /datasets/ HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n" + body
            )
        # Closed without waiting for an answer.
    # The server has seen both requests end early and refused them (not merely not yet stored them).
    wait_for(lambda: refused_posts() == refused_before + 2, timeout=30)
    requests.get(f"{server.url}/healthz", timeout=5).raise_for_status()
    assert len(all_datasets(server.url)) == before


@pytest.fixture(scope="module")
def impatient_api(s3_server, tmp_path_factory) -> str:
    """A server that gives up on an upload whose client sends nothing for a second."""
    settings = {"UPLOAD_IDLE_TIMEOUT": "1"}
    with api_server(s3_server, "impatient", tmp_path_factory.mktemp("impatient"), **settings) as server:
        yield server.url


def test_a_client_that_stops_sending_is_408_and_frees_its_thread(impatient_api):
    """Without a bound, each such client held a server thread for ever (16 of them, the server)."""
    before = len(all_datasets(impatient_api))
    form = b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n\r\n[1,'
    stalled = [
        ("Content-Type: application/json\nContent-Length: 1000", b"[1, 2"),
        ("Content-Type: application/json\nTransfer-Encoding: chunked", b"5\r\n[1, 2\r\n"),
        ("Content-Type: multipart/form-data; boundary=zz\nContent-Length: 1000", form),
    ]
    for headers, body in stalled:
        # The connection stays open, sending nothing more.
        response = raw_request(impatient_api, f"POST /datasets/ HTTP/1.1\nHost: test\n{headers}", body)
        assert response.status == 408, (headers, response)
        assert "1 s" in response.json()["message"]
    assert len(all_datasets(impatient_api)) == before


def test_a_slow_but_steady_client_is_not_cut_off(impatient_api):
    parts = urlsplit(impatient_api)
    body = b"[" + b"1," * 5 + b"1]"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            b"POST /datasets/ HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        for byte in body:  # the whole upload takes longer than the timeout, no pause does
            time.sleep(0.3)
            sock.sendall(bytes([byte]))
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]


def test_protocol_errors_from_gunicorn_itself_are_json(api):
    bad_length = raw_request(api, "POST /datasets/ HTTP/1.1\nHost: test\nContent-Length: -5", b"[1]")
    assert bad_length.status == 400 and bad_length.headers["content-type"] == "application/json"
    assert bad_length.json()["message"]
    too_long = requests.get(f"{api}/datasets/{'A' * 10_000}/", timeout=10)
    assert_error(too_long, 414)


# (sent, what the API keeps): path parts and control characters go; everything else stays.
FILENAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\win.ini", "win.ini"),
    ("/absolute/data.json", "data.json"),
    ('quo"te.json', 'quo"te.json'),
    ("semi;colon=1.json", "semi;colon=1.json"),
    ("new\nline\r.json", "newline.json"),
    ("x\r\nSet-Cookie: a=b.json", "xSet-Cookie: a=b.json"),
    ("nul\x00byte.json", "nulbyte.json"),
    ("ünïcødé 数据.json", "ünïcødé 数据.json"),
    ("emoji 😀.json", "emoji 😀.json"),
    ("evil\u202egnp.json", "evilgnp.json"),
    ("%2e%2e%2fescape.json", "%2e%2e%2fescape.json"),
    ("a" * 1000 + ".json", "a" * 1000 + ".json"),
    ("..", "dataset.json"),
    ("", "dataset.json"),
]


@pytest.mark.parametrize(("sent", "kept"), FILENAMES, ids=[repr(sent)[:30] for sent, _ in FILENAMES])
def test_hostile_file_names_are_stored_safely_and_echoed_safely(api, sent, kept):
    response = upload_json(api, b'{"a": 1}', filename=sent)
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["filename"] == kept
    assert requests.get(f"{api}/datasets/{dataset['id']}/", timeout=10).json()["filename"] == kept
    for suffix, name in (("content/", kept), ("excel/", PurePosixPath(kept).stem + ".xlsx")):
        download = requests.get(f"{api}/datasets/{dataset['id']}/{suffix}", timeout=30)
        assert download.status_code == 200
        disposition = download.headers["Content-Disposition"]
        disposition.encode("ascii")  # a header carries ASCII; anything else is percent-encoded
        assert "\r" not in disposition and "\n" not in disposition
        kind, options = parse_options_header(disposition)
        assert (kind, options["filename"]) == ("attachment", name)


def test_names_in_multipart_uploads_lose_their_path_parts(api):
    for sent, kept in [("../../etc/passwd", "passwd"), ("dir/sub/data.json", "data.json")]:
        response = requests.post(f"{api}/datasets/", files={"file": (sent, b"[1]")}, timeout=30)
        assert response.status_code == 201 and response.json()["filename"] == kept


@pytest.fixture(scope="module")
def stored(api) -> str:
    response = upload_json(api, b'[{"a": 1}]')
    assert response.status_code == 201
    requests.get(f"{api}/datasets/{response.json()['id']}/excel/", timeout=30).raise_for_status()
    return response.json()["id"]


@pytest.mark.parametrize(
    "template",
    [
        "nope",
        "{id}x",
        "{lower}",
        "{short}",
        "8{tail}",  # a first character past the 48-bit time range
        "%2e%2e",
        "..%2F..%2Fexports",
        "exports%2F{id}.xlsx",
        "datasets%2F{id}",
        "{id}%2F..",
        "{id}%00",
        "%20{id}",
        "%E2%80%AE{id}",
        "%zz",
        "*",
        "\u00fc\u00f1\u00ee",
        "A" * 3000,
    ],
)
def test_hostile_ids_are_404_and_reach_no_other_key(api, stored, template):
    dataset_id = template.format(id=stored, lower=stored.lower(), short=stored[:-1], tail=stored[1:])
    for method, suffix in [("GET", ""), ("GET", "excel/"), ("GET", "content/"), ("DELETE", "")]:
        response = requests.request(method, f"{api}/datasets/{dataset_id}/{suffix}", timeout=10)
        assert_error(response, 404)
    assert requests.get(f"{api}/datasets/{stored}/", timeout=10).status_code == 200


def test_an_upload_over_the_limit_is_413_and_nothing_is_stored(small_api):
    over = b"[" + b"1," * (SMALL_LIMIT // 2) + b"1]"
    assert len(over) > SMALL_LIMIT
    at_limit = b"[" + b" " * (SMALL_LIMIT - 2) + b"]"
    raw = upload_json(small_api, over)
    assert str(SMALL_LIMIT) in assert_error(raw, 413)
    multipart = requests.post(f"{small_api}/datasets/", files={"file": ("big.json", over)}, timeout=30)
    assert str(SMALL_LIMIT) in assert_error(multipart, 413)
    chunked = upload_json(small_api, iter([over[:600], over[600:]]))  # no Content-Length to go by
    assert str(SMALL_LIMIT) in assert_error(chunked, 413)
    declared = raw_request(
        small_api,
        f"POST /datasets/ HTTP/1.1\nHost: test\nContent-Type: application/json\nContent-Length: {10 * SMALL_LIMIT}",
    )
    assert declared.status == 413 and str(SMALL_LIMIT) in declared.json()["message"]
    assert all_datasets(small_api) == []
    accepted = upload_json(small_api, at_limit)
    assert accepted.status_code == 201 and accepted.json()["size"] == SMALL_LIMIT
    assert [dataset["id"] for dataset in all_datasets(small_api)] == [accepted.json()["id"]]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "-1"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"limit": "9" * 30}, "limit"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "\x00"}, "cursor"),
        ({"cursor": "../datasets/x"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter_in_the_message(api, params, name):
    message = assert_error(requests.get(f"{api}/datasets/", params=params, timeout=10), 400)
    assert message.startswith(f"{name}:")


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=zz"])
@pytest.mark.parametrize(
    "chunks",
    [b"3\r\n[1]\r\nzz\r\n", b"3\r\n[1]XX0\r\n\r\n"],
    ids=["chunk-size-not-hexadecimal", "chunk-without-its-crlf"],
)
def test_a_broken_chunked_encoding_is_a_400_and_nothing_is_stored(api, content_type, chunks):
    """gunicorn refuses such a body with its own exception, which Werkzeug does not turn into a
    client error: it was a 500."""
    before = len(all_datasets(api))
    form = b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n\r\n'
    head = f"POST /datasets/ HTTP/1.1\nHost: test\nContent-Type: {content_type}\nTransfer-Encoding: chunked"
    prefix = b"" if content_type == "application/json" else b"%x\r\n%s\r\n" % (len(form), form)
    response = raw_request(api, head, prefix + chunks)
    assert response.status == 400, response.body
    assert "chunked encoding is broken" in response.json()["message"]
    assert len(all_datasets(api)) == before
