"""GET /datasets/<id>/csv/: one table of the export as CSV, byte for byte, against gunicorn and SeaweedFS."""

import json

import pytest
import requests

from tests.probes import assert_error, upload_json

# Numbers no double holds (every digit must come through), a date (its original text), arrays of
# scalars (JSON text), text needing quotes, formula-like text, and a child table.
DOCUMENT = b"""[
 {"id": 1, "name": "Ada", "price": 12345678901234567890.5, "big": 123456789012345678901234567890,
  "when": "2025-03-14", "tags": ["a", "b"], "ok": true, "gone": null,
  "orders": [{"sku": "=SUM(A1)", "qty": 2}, {"sku": "+1", "qty": 1.10}]},
 {"id": 2, "name": "line\\nbreak, \\"quoted\\"", "price": 0.1, "big": 7,
  "when": "2025-03-14T15:09:26Z", "tags": [], "ok": false, "gone": null, "orders": []}
]"""
MAIN = (
    "data row,id,name,price,big,when,tags,ok,gone\r\n"
    '1,1,Ada,12345678901234567890.5,123456789012345678901234567890,2025-03-14,"[""a"",""b""]",true,\r\n'
    '2,2,"line\nbreak, ""quoted""",0.1,7,2025-03-14T15:09:26Z,[],false,\r\n'
)
ORDERS = "data row,sku,qty\r\n1,=SUM(A1),2\r\n1,+1,1.10\r\n"
ORDERS_FOR_EXCEL = "\ufeffdata row,sku,qty\r\n1,'=SUM(A1),2\r\n1,'+1,1.10\r\n"


@pytest.fixture(scope="module")
def dataset(live_server) -> dict:
    return upload_json(live_server, DOCUMENT, filename="data.json").json()


def csv(live_server: str, dataset: dict, **params: str) -> requests.Response:
    return requests.get(f"{live_server}/datasets/{dataset['id']}/csv/", params=params, timeout=60)


def test_the_main_table_is_the_default_and_keeps_every_digit_and_the_original_text(live_server, dataset):
    response = csv(live_server, dataset)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename=data.csv"
    assert response.content.decode("utf-8") == MAIN
    assert csv(live_server, dataset, table="data").content == response.content


def test_a_child_table_by_name_exact_for_scripts_or_guarded_for_spreadsheets(live_server, dataset):
    exact = csv(live_server, dataset, table="orders")
    for_excel = csv(live_server, dataset, table="orders", excel="true")

    assert exact.headers["Content-Disposition"] == "attachment; filename=data-orders.csv"
    assert exact.content.decode("utf-8") == ORDERS
    assert for_excel.content.decode("utf-8") == ORDERS_FOR_EXCEL
    assert csv(live_server, dataset, table="orders", excel="false").content == exact.content


def test_a_cached_csv_is_the_one_first_made(live_server, dataset):
    first = csv(live_server, dataset, table="orders", excel="1")
    again = csv(live_server, dataset, table="orders", excel="1")

    assert again.headers["Content-Length"] == str(len(again.content))
    assert again.content == first.content


def test_an_unknown_table_is_a_404_naming_the_tables_there_are(live_server, dataset):
    message = assert_error(csv(live_server, dataset, table="nope"), 404)
    assert "nope" in message and "'orders'" in message


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"excel": "maybe"}, 400),
        ({"excel": ""}, 400),
        ({"root": "results"}, 400),
        ({"root": "/nothing"}, 422),
    ],
)
def test_bad_parameters_are_clear_errors(live_server, dataset, params, status):
    assert_error(csv(live_server, dataset, **params), status)


def test_an_unknown_dataset_is_a_404(live_server):
    assert_error(requests.get(f"{live_server}/datasets/0000000000000000000000000A/csv/", timeout=30), 404)


def test_root_exports_the_records_it_points_at(live_server):
    wrapped = {"count": 2, "results": [{"a": 1}, {"a": 2}]}
    dataset = upload_json(live_server, json.dumps(wrapped).encode(), filename="wrapped.json").json()

    whole = csv(live_server, dataset)
    results = csv(live_server, dataset, root="/results")

    assert results.content == b"a\r\n1\r\n2\r\n"
    assert whole.content != results.content
    assert csv(live_server, dataset, root="/results").content == results.content  # cached per root


def test_head_gives_the_headers_without_converting_and_knows_the_tables(live_server):
    dataset = upload_json(live_server, DOCUMENT, filename="heads.json").json()
    url = f"{live_server}/datasets/{dataset['id']}/csv/"

    before = requests.head(url, params={"table": "orders"}, timeout=30)
    assert before.status_code == 200
    assert before.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert before.headers["Content-Disposition"] == "attachment; filename=heads-orders.csv"
    assert "Content-Length" not in before.headers
    assert requests.head(url, params={"table": "nope"}, timeout=30).status_code == 404

    made = requests.get(url, params={"table": "orders"}, timeout=30).content
    after = requests.head(url, params={"table": "orders"}, timeout=30)
    assert after.headers["Content-Length"] == str(len(made))


def test_json_lines_export_a_row_per_line_and_refuse_a_root(live_server):
    lines = b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n'
    response = requests.post(
        f"{live_server}/datasets/",
        params={"filename": "events.jsonl"},
        data=lines,
        headers={"Content-Type": "application/x-ndjson"},
        timeout=30,
    )
    dataset = response.json()
    assert dataset["format"] == "jsonl"

    assert csv(live_server, dataset).content == b"a,b\r\n1,x\r\n2,y\r\n"
    message = assert_error(csv(live_server, dataset, root="/a"), 400)
    assert "JSON Lines" in message
    assert_error(requests.get(f"{live_server}/datasets/{dataset['id']}/excel/?root=/a", timeout=30), 400)
