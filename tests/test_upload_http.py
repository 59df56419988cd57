"""JSON Lines, gzip and encodings through the real server: what a client sends, what it gets back."""

import gzip
import json

import pytest
import requests

from tests.probes import all_datasets, api_server, assert_error, bucket_client, upload_json, wait_for

RECORDS = b'{"name": "Ada", "n": 1}\n{"name": "Grace", "n": 2}\n'
LIMIT = 1_000_000


@pytest.fixture(scope="module")
def api(s3_server, tmp_path_factory):
    settings = {"MAX_UPLOAD_BYTES": str(LIMIT)}
    with api_server(s3_server, "upload-formats", tmp_path_factory.mktemp("formats"), **settings) as server:
        yield server.url


def content(api: str, dataset: dict) -> requests.Response:
    return requests.get(f"{api}/datasets/{dataset['id']}/content/", timeout=30)


def test_json_lines_by_content_type_is_stored_and_served_as_json_lines(api):
    response = upload_json(api, RECORDS, "people", headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["format"] == "jsonl"
    assert requests.get(f"{api}/datasets/{dataset['id']}/", timeout=30).json()["format"] == "jsonl"
    served = content(api, dataset)
    assert served.content == RECORDS and served.headers["Content-Type"] == "application/x-ndjson"


def test_a_mongoexport_style_json_file_is_found_to_be_json_lines(api):
    dataset = upload_json(api, RECORDS, "export.json").json()
    assert dataset["format"] == "jsonl"
    one_text = upload_json(api, b'[{"a": 1}]', "one.json").json()
    assert one_text["format"] == "json"
    assert content(api, one_text).headers["Content-Type"] == "application/json"


def test_a_bad_line_is_a_400_naming_it(api):
    message = assert_error(upload_json(api, RECORDS + b'{"name": "Linus",}\n', "x.jsonl"), 400)
    assert message.startswith("Invalid JSON Lines at line 3, ")


def test_gzip_raw_body_and_gzip_file_are_stored_decompressed(api):
    raw = upload_json(api, gzip.compress(b'[{"a": 1}]'), "a.json", headers={"Content-Encoding": "gzip"})
    assert raw.status_code == 201, raw.text
    assert content(api, raw.json()).content == b'[{"a": 1}]' and raw.json()["size"] == 10
    files = {"file": ("people.jsonl.gz", gzip.compress(RECORDS), "application/gzip")}
    form = requests.post(f"{api}/datasets/", files=files, timeout=30)
    assert form.status_code == 201, form.text
    assert form.json()["format"] == "jsonl" and content(api, form.json()).content == RECORDS


def test_a_gzip_file_is_kept_under_the_name_of_what_it_holds(api):
    """Its bytes are stored decompressed, so ``people.jsonl.gz`` is kept as ``people.jsonl``: the
    original downloads under a name that says what it is, and exports are named after it."""
    files = {"file": ("people.jsonl.gz", gzip.compress(RECORDS), "application/gzip")}
    dataset = requests.post(f"{api}/datasets/", files=files, timeout=30).json()
    assert dataset["filename"] == "people.jsonl"
    assert requests.get(f"{api}/datasets/{dataset['id']}/", timeout=30).json()["filename"] == "people.jsonl"
    assert (
        content(api, dataset).headers["Content-Disposition"].startswith("attachment; filename=people.jsonl")
    )
    csv = requests.get(f"{api}/datasets/{dataset['id']}/csv/", timeout=30)
    assert "filename=people.csv" in csv.headers["Content-Disposition"].split("; ")
    plain = upload_json(api, b"[1]", "not-gzip.json.gz").json()  # a name alone changes nothing
    encoded = upload_json(api, gzip.compress(b"[1]"), "sent.json", headers={"Content-Encoding": "gzip"})
    assert (plain["filename"], encoded.json()["filename"]) == ("not-gzip.json.gz", "sent.json")


def test_encodings_other_than_gzip_and_gzip_on_a_form_are_415(api):
    before = len(all_datasets(api))
    message = assert_error(upload_json(api, b"[1]", headers={"Content-Encoding": "br"}), 415)
    assert "br" in message
    files = {"file": ("a.json", b"[1]")}
    form = requests.post(f"{api}/datasets/", files=files, headers={"Content-Encoding": "gzip"}, timeout=30)
    assert "multipart field 'file'" in assert_error(form, 415)
    assert len(all_datasets(api)) == before


def test_a_gzip_bomb_is_413_and_nothing_is_stored(api):
    before = len(all_datasets(api))
    bomb = gzip.compress(b"[" + b" " * (50 * LIMIT) + b"]", compresslevel=9)
    assert len(bomb) < LIMIT
    for kwargs in (
        {"data": bomb, "headers": {"Content-Type": "application/json", "Content-Encoding": "gzip"}},
        {"files": {"file": ("bomb.json.gz", bomb)}},
    ):
        message = assert_error(requests.post(f"{api}/datasets/", timeout=60, **kwargs), 413)
        assert "decompressed" in message
    assert len(all_datasets(api)) == before


def test_a_bom_is_kept_and_utf16_is_refused_saying_how_to_fix_it(api):
    with_bom = upload_json(api, b'\xef\xbb\xbf[{"a": 1}]', "notepad.json")
    assert with_bom.status_code == 201
    assert content(api, with_bom.json()).content == b'\xef\xbb\xbf[{"a": 1}]'
    for encoding in ("utf-16", "utf-16-be"):
        message = assert_error(upload_json(api, '[{"a": 1}]'.encode(encoding), "powershell.json"), 400)
        assert "UTF-16" in message and "UTF-8" in message


def test_a_multipart_file_goes_to_the_bucket_while_the_form_still_arrives(s3_server, tmp_path):
    """The file part is read as it arrives, not after Werkzeug has spooled the whole form: parts
    of it reach S3 before the form's end has been sent (and nothing is stored until it has)."""
    client = bucket_client(s3_server)
    boundary = "7d0b9e2f4c1a"
    records = json.dumps([{"n": n, "text": "x" * 200} for n in range(60_000)]).encode()  # 13 MB
    seen_in_progress = []

    def form():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.json"\r\n'
            "Content-Type: application/json\r\n\r\n"
        ).encode()
        yield records
        uploading = wait_for(
            lambda: client.list_multipart_uploads(Bucket="streamed-form").get("Uploads"), timeout=30
        )
        seen_in_progress.append(bool(uploading) and not all_datasets(api.url))
        yield f"\r\n--{boundary}--\r\n".encode()

    with api_server(s3_server, "streamed-form", tmp_path) as api:
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        response = requests.post(f"{api.url}/datasets/", data=form(), headers=headers, timeout=60)
        assert response.status_code == 201, response.text
        assert seen_in_progress == [True]
        stored = requests.get(f"{api.url}/datasets/{response.json()['id']}/content/", timeout=30)
        assert stored.content == records
