"""Many clients at once against one server: uploads, info calls, exports and deletes in parallel.

No 5xx, every upload listed exactly once, every deleted dataset gone (from the API and from the
bucket, its cached export included), and the exports of one dataset identical however many clients
raced to build its cache.
"""

import io
import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from openpyxl import load_workbook

from tests.probes import all_datasets, api_server, bucket_client

UPLOADS = 50
BUCKET = "concurrency"


@pytest.fixture(scope="module")
def api(s3_server, tmp_path_factory):
    with api_server(s3_server, BUCKET, tmp_path_factory.mktemp("concurrency")) as server:
        yield server.url


@pytest.fixture(scope="module")
def bucket_keys(s3_server):
    client = bucket_client(s3_server)

    def keys() -> set[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    return keys


def document(number: int) -> bytes:
    records = [
        {"n": number, "row": row, "name": f"dataset {number} row {row}", "tags": [number, row]}
        | {"items": [{"sku": f"{number}-{row}-{item}", "qty": item} for item in range(3)]}
        for row in range(40)
    ]
    return json.dumps(records).encode()


def cells(content: bytes) -> dict[str, list[tuple]]:
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    try:
        return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook}
    finally:
        workbook.close()


def upload_call(api: str, number: int) -> tuple:
    """An upload of ``document(number)``: multipart for even numbers, a raw JSON body for odd ones."""
    if number % 2:
        kwargs = {"data": document(number), "headers": {"Content-Type": "application/json"}}
        return ("upload", "POST", f"{api}/datasets/?filename=d{number}.json", kwargs)
    return ("upload", "POST", f"{api}/datasets/", {"files": {"file": (f"d{number}.json", document(number))}})


def run_all(calls: list[tuple]) -> list[tuple[tuple, requests.Response]]:
    """Make every (kind, method, url, kwargs) call at once, 50 at a time; return (call, response) pairs."""

    def make(call):
        _kind, method, url, kwargs = call
        return call, requests.request(method, url, timeout=120, **kwargs)

    with ThreadPoolExecutor(max_workers=50) as pool:
        return list(pool.map(make, calls))


def assert_no_server_errors(results) -> None:
    failures = [(call[:3], response.status_code, response.text[:200]) for call, response in results]
    assert [failure for failure in failures if failure[1] >= 500] == []


def test_parallel_uploads_infos_exports_and_deletes(api, bucket_keys):
    uploaded = run_all([upload_call(api, n) for n in range(UPLOADS)])
    assert_no_server_errors(uploaded)
    assert [response.status_code for _, response in uploaded] == [201] * UPLOADS
    ids = [response.json()["id"] for _, response in uploaded]
    assert [response.json()["filename"] for _, response in uploaded] == [f"d{n}.json" for n in range(UPLOADS)]
    listed = Counter(dataset["id"] for dataset in all_datasets(api))
    assert all(listed[dataset_id] == 1 for dataset_id in ids) and len(listed) == UPLOADS

    # The first ten are exported five times each at once, racing to build their cache; the next twenty
    # are deleted while they are being read and exported; the last twenty are only read.
    exported, deleted, read = ids[:10], ids[10:30], ids[30:]
    calls = [("excel", "GET", f"{api}/datasets/{i}/excel/", {}) for i in exported for _ in range(5)]
    calls += [("info", "GET", f"{api}/datasets/{i}/", {}) for i in exported + read for _ in range(2)]
    calls += [("content", "GET", f"{api}/datasets/{i}/content/", {}) for i in read]
    for dataset_id in deleted:
        calls += [
            ("delete", "DELETE", f"{api}/datasets/{dataset_id}/", {}),
            ("racing excel", "GET", f"{api}/datasets/{dataset_id}/excel/", {}),
            ("racing info", "GET", f"{api}/datasets/{dataset_id}/", {}),
        ]
    calls += [
        (
            "upload",
            "POST",
            f"{api}/datasets/",
            {"data": b"[1]", "headers": {"Content-Type": "application/json"}},
        )
    ]
    calls += [("list", "GET", f"{api}/datasets/", {})] * 10
    random.Random(6).shuffle(calls)
    results = run_all(calls)
    print(f"{UPLOADS} parallel uploads, then {len(calls)} mixed parallel requests")
    assert_no_server_errors(results)

    statuses: dict[str, Counter] = {}
    exports: dict[str, list[bytes]] = {}
    for (kind, _method, url, _kwargs), response in results:
        statuses.setdefault(kind, Counter())[response.status_code] += 1
        if kind == "excel":
            exports.setdefault(url, []).append(response.content)
        if kind == "content":  # each upload stored its own bytes, none another's
            assert response.content == document(ids.index(url.split("/")[-3])), url
    assert (
        statuses["excel"] == {200: 50} and statuses["info"] == {200: 60} and statuses["content"] == {200: 20}
    )
    assert (
        statuses["delete"] == {204: 20} and statuses["list"] == {200: 10} and statuses["upload"] == {201: 1}
    )
    assert set(statuses["racing excel"]) <= {200, 404} and set(statuses["racing info"]) <= {200, 404}
    for url, contents in exports.items():
        first = cells(contents[0])
        assert all(cells(content) == first for content in contents[1:]), url
        assert len(first["data"]) == 41  # the header and one row per record
    # Once built, the cached workbook is served byte for byte.
    for dataset_id in exported:
        again = [requests.get(f"{api}/datasets/{dataset_id}/excel/", timeout=60).content for _ in range(2)]
        assert again[0] == again[1]

    remaining = Counter(dataset["id"] for dataset in all_datasets(api))
    assert all(remaining[dataset_id] == 1 for dataset_id in exported + read)
    assert not set(remaining) & set(deleted)
    for dataset_id in deleted:
        assert requests.get(f"{api}/datasets/{dataset_id}/", timeout=30).status_code == 404
    keys = bucket_keys()
    leftovers = sorted(key for key in keys for dataset_id in deleted if dataset_id in key)
    assert leftovers == []  # neither the data nor an export cached by a racing request
