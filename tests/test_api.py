"""The HTTP API through a real gunicorn server and a real S3 server, over HTTP only."""

import io
import json
from pathlib import Path

import openpyxl
import pytest
import requests

from service import json_syntax

DATA = Path(__file__).parent / "data"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(url: str, body: bytes, filename: str = "data.json") -> dict:
    response = requests.post(f"{url}/datasets/", files={"file": (filename, body, "application/json")})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_dataset_round_trip(any_s3_live_server):
    url = any_s3_live_server
    body = (DATA / "sample_data_2.json").read_bytes()
    created = requests.post(f"{url}/datasets/", files={"file": ("dir/sample_data_2.json", body)})
    assert created.status_code == 201
    dataset = created.json()
    assert dataset["filename"] == "sample_data_2.json"
    assert dataset["size"] == len(body)
    assert created.headers["Location"] == f"/datasets/{dataset['id']}/"

    assert requests.get(url + created.headers["Location"]).json() == dataset
    listed = requests.get(f"{url}/datasets/", params={"limit": 1000}).json()
    assert dataset in listed["items"]

    content = requests.get(f"{url}/datasets/{dataset['id']}/content/")
    assert content.status_code == 200
    assert content.headers["Content-Type"] == "application/json"
    assert content.content == body

    excel = requests.get(f"{url}/datasets/{dataset['id']}/excel/")
    assert excel.status_code == 200
    assert excel.headers["Content-Type"] == XLSX
    assert excel.headers["Content-Disposition"] == "attachment; filename=sample_data_2.xlsx"
    rows = list(openpyxl.load_workbook(io.BytesIO(excel.content), read_only=True)["data"].values)
    records = json.loads(body)
    assert list(rows[0]) == list(records[0])
    assert len(rows) == len(records) + 1

    assert requests.delete(f"{url}/datasets/{dataset['id']}/").status_code == 204
    for path in ["", "content/", "excel/"]:
        gone = requests.get(f"{url}/datasets/{dataset['id']}/{path}")
        assert gone.status_code == 404
        assert "No dataset" in gone.json()["message"]
    assert requests.delete(f"{url}/datasets/{dataset['id']}/").status_code == 404


def test_a_raw_json_body_is_an_upload(live_server):
    body = b'{"a": {"b": [1, 2]}}'
    response = requests.post(
        f"{live_server}/datasets/",
        data=body,
        params={"filename": "raw.json"},
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201
    assert response.json()["filename"] == "raw.json"
    default = requests.post(
        f"{live_server}/datasets/", data=b"1", headers={"Content-Type": "application/json"}
    )
    assert default.json()["filename"] == "dataset.json"
    stored = requests.get(f"{live_server}/datasets/{response.json()['id']}/content/")
    assert stored.content == body


def test_listing_pages_are_oldest_first_with_cursors(live_server):
    made = [upload(live_server, f"[{n}]".encode())["id"] for n in range(5)]
    first = requests.get(f"{live_server}/datasets/", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{live_server}/datasets/", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert seen[-5:] == made


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "../x"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_400(live_server, params, fragment):
    response = requests.get(f"{live_server}/datasets/", params=params)
    assert response.status_code == 400
    assert fragment in json.dumps(response.json())
    assert "message" in response.json()


def test_invalid_json_is_400_saying_where_and_nothing_is_stored(live_server):
    before = requests.get(f"{live_server}/datasets/", params={"limit": 1000}).json()["items"]
    response = requests.post(
        f"{live_server}/datasets/", files={"file": ("bad.json", b'{"a": 1,\n "b": NaN}')}
    )
    assert response.status_code == 400
    assert "line 2, column 7" in response.json()["message"]
    after = requests.get(f"{live_server}/datasets/", params={"limit": 1000}).json()["items"]
    assert after == before


def test_requests_without_a_file_or_with_other_types_are_refused(live_server):
    no_file = requests.post(f"{live_server}/datasets/", files={"other": ("x.json", b"[]")})
    assert no_file.status_code == 400 and "file" in no_file.json()["message"]
    empty = requests.post(f"{live_server}/datasets/")
    assert empty.status_code == 400
    text = requests.post(f"{live_server}/datasets/", data=b"[]", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415 and "text/plain" in text.json()["message"]


@pytest.mark.parametrize("dataset_id", ["nope", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "..%2f..%2fexports", "A" * 500])
def test_malformed_or_unknown_ids_are_404(live_server, dataset_id):
    for method in ("GET", "DELETE"):
        response = requests.request(method, f"{live_server}/datasets/{dataset_id}/")
        assert response.status_code == 404
        assert response.json()["message"]


def test_flask_errors_are_json_too(live_server):
    missing = requests.get(f"{live_server}/no/such/page")
    assert missing.status_code == 404 and missing.json()["message"]
    not_allowed = requests.put(f"{live_server}/datasets/")
    assert not_allowed.status_code == 405 and not_allowed.json()["message"]


def test_non_ascii_names_follow_rfc_6266(live_server):
    dataset = upload(live_server, b"[1]", "отчёт Q1.json")
    assert dataset["filename"] == "отчёт Q1.json"
    excel = requests.get(f"{live_server}/datasets/{dataset['id']}/excel/")
    disposition = excel.headers["Content-Disposition"]
    assert "filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20Q1.xlsx" in disposition
    assert disposition.startswith("attachment; filename=")


def test_probes_answer(live_server):
    assert requests.get(f"{live_server}/healthz").json() == {"status": "ok"}
    ready = requests.get(f"{live_server}/readyz").json()
    assert ready == {"status": "ready", "validator": json_syntax.VALIDATOR}
    assert ready["validator"].startswith("yajl 2.")  # the fast check runs in the server too


def test_swagger_documents_every_call_with_models_and_errors(live_server):
    spec = requests.get(f"{live_server}/swagger.json").json()
    paths = spec["paths"]
    expected = {
        "/datasets/": {"get", "post"},
        "/datasets/{dataset_id}/": {"get", "delete"},
        "/datasets/{dataset_id}/excel/": {"get"},
        "/datasets/{dataset_id}/content/": {"get"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    assert {"Dataset", "DatasetPage", "Error"} <= set(spec["definitions"])
    post = paths["/datasets/"]["post"]
    assert {"201", "400", "413", "415"} <= set(post["responses"])
    assert any(p["in"] == "formData" and p["type"] == "file" for p in post["parameters"])
    assert "404" in paths["/datasets/{dataset_id}/"]["get"]["responses"]
    assert "422" in paths["/datasets/{dataset_id}/excel/"]["get"]["responses"]
    docs = requests.get(f"{live_server}/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    # Swagger UI's assets come from this server, so /docs works offline.
    assert "//cdn" not in docs.text and "unpkg" not in docs.text
