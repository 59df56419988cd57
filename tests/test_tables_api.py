"""GET /datasets/<id>/tables/ and /tables/<name>/ over HTTP, on gunicorn and SeaweedFS."""

import json

import pytest
import requests

ORDERS = [
    {"name": "Ada", "age": 36, "vip": True, "note": None, "orders": [{"sku": "A1", "qty": 2}]},
    {
        "name": "Grace",
        "age": 85.5,
        "vip": False,
        "note": "x",
        "orders": [{"sku": "B2", "qty": 1}, {"sku": "C3", "qty": 5}],
    },
]


def upload(base: str, document: object, name: str = "orders.json", **headers: str) -> str:
    response = requests.post(
        f"{base}/datasets/", files={"file": (name, json.dumps(document))}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def orders(live_server) -> str:
    return upload(live_server, ORDERS)


def test_the_tables_are_listed_main_first_with_parents_rows_and_columns(live_server, orders):
    response = requests.get(f"{live_server}/datasets/{orders}/tables/")
    assert response.status_code == 200
    tables = response.json()["tables"]
    assert [(table["name"], table["parent"], table["rows"]) for table in tables] == [
        ("data", None, 2),
        ("orders", "data", 3),
    ]
    assert tables[0]["columns"][0] == "data row" and {"name", "age", "vip", "note"} <= set(
        tables[0]["columns"]
    )
    assert tables[1]["columns"][0] == "data row" and {"sku", "qty"} <= set(tables[1]["columns"])


def test_a_preview_is_the_first_rows_typed_as_in_json(live_server, orders):
    response = requests.get(f"{live_server}/datasets/{orders}/tables/data/", params={"limit": 1})
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["total_rows"], len(body["rows"])) == ("data", 2, 1)
    record = dict(zip(body["columns"], body["rows"][0], strict=True))
    assert {key: record[key] for key in ("name", "age", "vip", "note")} == {
        "name": "Ada",
        "age": 36,
        "vip": True,
        "note": None,
    }
    children = requests.get(f"{live_server}/datasets/{orders}/tables/orders/").json()
    rows = [dict(zip(children["columns"], values, strict=True)) for values in children["rows"]]
    assert [(row["data row"], row["sku"], row["qty"]) for row in rows] == [
        (1, "A1", 2),
        (2, "B2", 1),
        (2, "C3", 5),
    ]


def test_the_default_preview_is_fifty_rows(live_server):
    dataset = upload(live_server, [{"n": n} for n in range(120)])
    body = requests.get(f"{live_server}/datasets/{dataset}/tables/data/").json()
    assert body["total_rows"] == 120 and [row[0] for row in body["rows"]] == list(range(50))


@pytest.mark.parametrize("limit", ["0", "1001", "ten", "-1", "2.5", ""])
def test_a_bad_limit_is_a_400_that_says_so(live_server, orders, limit):
    response = requests.get(f"{live_server}/datasets/{orders}/tables/data/", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["message"] and "1 to 1000" in response.json()["message"]


def test_unknown_datasets_and_tables_are_404s_that_say_which(live_server, orders):
    missing = requests.get(f"{live_server}/datasets/01M8SQ3MK38Y1FXM2HS98JS0YT/tables/")
    assert missing.status_code == 404 and "01M8SQ3MK38Y1FXM2HS98JS0YT" in missing.json()["message"]
    table = requests.get(f"{live_server}/datasets/{orders}/tables/nope/")
    assert table.status_code == 404
    assert "'nope'" in table.json()["message"] and "'orders'" in table.json()["message"]


def test_root_picks_the_records_and_bad_roots_are_400_or_422(live_server):
    dataset = upload(live_server, {"meta": {"n": 1}, "results": [{"a": 1}, {"a": 2}, {"a": 3}]})
    tables = requests.get(f"{live_server}/datasets/{dataset}/tables/", params={"root": "/results"}).json()
    assert [(table["name"], table["rows"], table["columns"]) for table in tables["tables"]] == [
        ("data", 3, ["a"])
    ]
    preview = requests.get(
        f"{live_server}/datasets/{dataset}/tables/data/", params={"root": "/results", "limit": 2}
    ).json()
    assert preview["rows"] == [[1], [2]]
    malformed = requests.get(f"{live_server}/datasets/{dataset}/tables/", params={"root": "results"})
    assert malformed.status_code == 400 and malformed.json()["message"]
    nowhere = requests.get(f"{live_server}/datasets/{dataset}/tables/", params={"root": "/nope"})
    assert nowhere.status_code == 422 and nowhere.json()["message"]


def test_the_tables_need_a_token_when_tokens_are_set(secured_server):
    dataset = upload(secured_server, ORDERS, Authorization="Bearer secret-token-1")
    refused = requests.get(f"{secured_server}/datasets/{dataset}/tables/")
    assert refused.status_code == 401 and refused.json()["message"]
    allowed = requests.get(
        f"{secured_server}/datasets/{dataset}/tables/data/",
        headers={"Authorization": "Bearer secret-token-1"},
    )
    assert allowed.status_code == 200 and allowed.json()["total_rows"] == 2


def test_swagger_documents_both_calls_with_their_models_and_errors(live_server):
    spec = requests.get(f"{live_server}/swagger.json").json()
    listing = spec["paths"]["/datasets/{dataset_id}/tables/"]["get"]
    preview = spec["paths"]["/datasets/{dataset_id}/tables/{name}/"]["get"]
    for call in (listing, preview):
        assert {"200", "400", "401", "404", "422", "503"} <= set(call["responses"])
    assert listing["responses"]["200"]["schema"]["$ref"] == "#/definitions/Tables"
    assert preview["responses"]["200"]["schema"]["$ref"] == "#/definitions/TablePreview"
    limit = next(param for param in preview["parameters"] if param["name"] == "limit")
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 1000, 50)
