"""First exports stream while they are made, and are cached only whole; HEAD converts nothing.

Against gunicorn and SeaweedFS. The API here has a temporary folder of its own (TMPDIR), so the test
can see every temporary file an export makes, named or not (``probes.temp_files``); a client with a
small receive buffer (``probes.held_response``) decides how far a streamed response may get.
"""

import io
import zipfile

import pytest
import requests

from service import exports
from tests.probes import (
    api_server,
    bucket_client,
    export_files,
    export_keys,
    held_response,
    incompressible_records,
    upload_json,
    wait_for,
)

BUCKET = "streaming"
FIRST_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def server(s3_server, tmp_path_factory):
    temp = tmp_path_factory.mktemp("streaming-tmp")
    with api_server(s3_server, BUCKET, tmp_path_factory.mktemp("streaming-api"), TMPDIR=str(temp)) as api:
        api.temp = temp
        yield api


@pytest.fixture(scope="module")
def bucket(s3_server):
    return bucket_client(s3_server)


def big_dataset(server) -> dict:
    """A dataset whose workbook (about 14 MB) is far larger than what the server's relay and the
    socket buffers between it and a client that stops reading can hold (under 9 MB)."""
    return upload_json(server.url, incompressible_records(24, child_every=10), filename="big.json").json()


def open_files(server) -> dict[str, int]:
    return export_files(server, server.temp)


def test_a_first_export_is_sent_while_it_is_made_and_cached_only_once_whole(server, bucket):
    big = big_dataset(server)
    workbook_key = f"exports/{big['id']}/workbook.xlsx"

    with held_response(server.url, f"/datasets/{big['id']}/excel/") as response:
        assert response.status == 200
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.getheader("Content-Length") is None
        first = response.read(FIRST_BYTES)
        # This client has read 64 KB of a 14 MB file: the survey is done and cached, the workbook is
        # being written but cannot be finished until the client reads on, so it is not cached yet.
        cached, _ = export_keys(bucket, BUCKET, big["id"])
        assert cached == [f"exports/{big['id']}/{exports.SURVEY}"]
        rest = response.read()

    workbook = first + rest
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        assert archive.testzip() is None
        assert "xl/worksheets/sheet2.xml" in archive.namelist()  # the child table, appended at the end
    assert export_keys(bucket, BUCKET, big["id"]) == (
        sorted([f"exports/{big['id']}/{exports.SURVEY}", workbook_key]),
        [],
    )
    head = requests.head(f"{server.url}/datasets/{big['id']}/excel/", timeout=60)
    assert head.headers["Content-Length"] == str(len(workbook))
    assert not (server.local_cache / big["id"]).exists()  # a HEAD reads no body, so keeps none
    again = requests.get(f"{server.url}/datasets/{big['id']}/excel/", timeout=60)
    assert again.headers["Content-Length"] == str(len(workbook))
    assert again.content == workbook
    # That relay from the bucket left a copy on the server's disk, which the next request is sent from.
    assert [path.stat().st_size for path in server.local_cache.glob(f"{big['id']}/*")] == [len(workbook)]
    from_disk = requests.get(f"{server.url}/datasets/{big['id']}/excel/", timeout=60)
    assert from_disk.headers["Content-Length"] == str(len(workbook))
    assert from_disk.content == workbook
    assert open_files(server) == {}


def test_a_client_that_leaves_half_way_leaves_no_cache_entry_and_no_temporary_file(server, bucket):
    dataset = big_dataset(server)

    with held_response(server.url, f"/datasets/{dataset['id']}/excel/") as response:
        assert response.read(FIRST_BYTES).startswith(b"PK\x03\x04")
        # Half-way: the child table is being buffered in a temporary file.
        wait_for(lambda: open_files(server), timeout=30)

    # The writer notices at its next chunk, aborts its upload and removes its files.
    wait_for(lambda: open_files(server) == {}, timeout=30)
    wait_for(lambda: export_keys(bucket, BUCKET, dataset["id"])[1] == [], timeout=30)
    assert export_keys(bucket, BUCKET, dataset["id"]) == ([f"exports/{dataset['id']}/{exports.SURVEY}"], [])
    # The next request makes the workbook from the start.
    again = requests.get(f"{server.url}/datasets/{dataset['id']}/excel/", timeout=120)
    with zipfile.ZipFile(io.BytesIO(again.content)) as archive:
        assert archive.testzip() is None


def test_head_answers_from_the_cache_or_with_the_headers_of_a_first_export_without_converting(server, bucket):
    dataset = upload_json(server.url, b'[{"a": 1}, {"a": 2}]', filename="small.json").json()
    url = f"{server.url}/datasets/{dataset['id']}/excel/"

    before = requests.head(url, timeout=30)
    assert before.status_code == 200
    assert (
        before.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert before.headers["Content-Disposition"] == "attachment; filename=small.xlsx"
    assert "Content-Length" not in before.headers
    assert export_keys(bucket, BUCKET, dataset["id"]) == ([], [])  # nothing was converted, not even surveyed

    workbook = requests.get(url, timeout=30).content
    after = requests.head(url, timeout=30)
    assert after.status_code == 200 and after.content == b""
    assert after.headers["Content-Length"] == str(len(workbook))
    assert after.headers["Content-Disposition"] == before.headers["Content-Disposition"]

    # HEAD has no body, so an error is its status alone.
    assert (
        requests.head(f"{server.url}/datasets/0000000000000000000000000A/excel/", timeout=30).status_code
        == 404
    )
    assert requests.head(url, params={"root": "results"}, timeout=30).status_code == 400


def test_a_workbook_made_for_a_first_client_is_the_one_the_cache_serves(server):
    dataset = upload_json(server.url, b'[{"when": "2025-03-14", "n": 1.5, "tags": ["x"]}]').json()
    url = f"{server.url}/datasets/{dataset['id']}/excel/"

    first = requests.get(url, timeout=30)
    second = requests.get(url, timeout=30)

    assert first.headers.get("Transfer-Encoding") == "chunked"
    assert second.headers["Content-Length"] == str(len(first.content))
    assert second.content == first.content
