"""No input makes the server's memory grow out of proportion to its size: deep nesting in particular.

A parser that tracks the path of every value can spend memory growing with the square of the depth, so
100 KB of brackets could take gigabytes. The workers' peak resident memory (VmHWM) is read from /proc
around uploads and exports of the deepest inputs, valid and invalid.
"""

import io
from pathlib import Path

import pytest
import requests
from openpyxl import load_workbook

from tests.probes import api_server, peak_memory_kib, upload_json, worker_pids

SUITE = Path(__file__).parent / "data" / "JSONTestSuite" / "test_parsing"
GROWTH_LIMIT_KIB = 200 * 1024
DEPTH = 10_000
EXCEL_TEXT_LIMIT = 32_767  # characters in a cell; the contract cuts longer text

INVALID = {
    "100 KB of [": b"[" * 100_000,
    "n_structure_100000_opening_arrays": (SUITE / "n_structure_100000_opening_arrays.json").read_bytes(),
    "n_structure_open_array_object": (SUITE / "n_structure_open_array_object.json").read_bytes(),
    '250 KB of {"a":': b'{"a":' * 50_000,
    'unclosed [{"a": x 30,000': b'[{"a":' * 30_000,
    "10,000 levels then a trailing comma": b"[" * DEPTH + b"1," + b"]" * DEPTH,
}
VALID = {
    "arrays": b"[" * DEPTH + b"]" * DEPTH,
    "objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "arrays of objects": b'[{"a":' * (DEPTH // 2) + b"1" + b"}]" * (DEPTH // 2),
    "100,000 arrays": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.fixture(scope="module")
def server(s3_server, tmp_path_factory):
    with api_server(s3_server, "bounded-cost", tmp_path_factory.mktemp("bounded-cost")) as api:
        yield api


def total_peak_kib(server) -> int:
    return sum(peak_memory_kib(pid) for pid in worker_pids(server))


@pytest.fixture(scope="module")
def baseline_kib(server) -> int:
    """The workers' peak after each has served ordinary uploads and exports (imports done, pools made)."""
    for _ in range(8):
        dataset = upload_json(server.url, b'[{"a": {"b": [1, 2]}, "c": [{"d": "x"}]}]').json()
        requests.get(f"{server.url}/datasets/{dataset['id']}/excel/", timeout=60).raise_for_status()
    return total_peak_kib(server)


def test_deep_invalid_documents_are_refused_in_bounded_memory(server, baseline_kib):
    for name, body in INVALID.items():
        response = upload_json(server.url, body)
        assert response.status_code == 400, (name, response.text)
        assert "Invalid JSON" in response.json()["message"]
        growth = total_peak_kib(server) - baseline_kib
        print(f"after {name!r} ({len(body):,} bytes): workers' peak grew {growth:,} KiB")
        assert growth < GROWTH_LIMIT_KIB, name


def test_deep_valid_documents_upload_and_export_in_bounded_memory(server, baseline_kib):
    for name, body in VALID.items():
        response = upload_json(server.url, body)
        assert response.status_code == 201, (name, response.text)
        export = requests.get(f"{server.url}/datasets/{response.json()['id']}/excel/", timeout=120)
        assert export.status_code == 200, (name, export.text[:300])
        load_workbook(io.BytesIO(export.content), read_only=True).close()
        growth = total_peak_kib(server) - baseline_kib
        print(f"after {name!r} ({len(body):,} bytes) and its export: workers' peak grew {growth:,} KiB")
        assert growth < GROWTH_LIMIT_KIB, name


HUGE = 64 * 1024**2
ONE_HUGE_VALUE = {
    "a 64 MiB string": b'["' + b"x" * HUGE + b'"]',
    "64 MiB of [": b"[" * HUGE,
    "an escaped emoji, then a 64 MiB string": b'["\\ud83d\\ude00", "' + b"x" * HUGE + b'"]',
}


def test_one_huge_value_is_refused_before_the_parser_holds_it(server, baseline_kib):
    """yajl keeps a token that spans chunks whole, and a byte per level of nesting: without a
    bound, one 64 MiB string costs the parser 128 MiB and more, whichever parser decides."""
    for name, body in ONE_HUGE_VALUE.items():
        response = upload_json(server.url, body)
        assert response.status_code == 400, (name, response.text[:300])
        assert "larger than this service reads" in response.json()["message"]
        growth = total_peak_kib(server) - baseline_kib
        print(f"after {name!r}: workers' peak grew {growth:,} KiB")
        assert growth < GROWTH_LIMIT_KIB, name
    just_under = b'{"blob": "' + b"x" * (7 * 1024**2) + b'"}'
    assert upload_json(server.url, just_under).status_code == 201


def cells(content: bytes) -> list[tuple]:
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    try:
        return [tuple(row) for row in workbook["data"].iter_rows(values_only=True)]
    finally:
        workbook.close()


def test_values_past_the_depth_limit_are_kept_as_json_text(server):
    arrays = upload_json(server.url, VALID["arrays"]).json()
    rows = cells(requests.get(f"{server.url}/datasets/{arrays['id']}/excel/", timeout=120).content)
    # One record, the array inside the top-level one, whole as compact JSON text.
    assert rows == [("value",), ("[" * (DEPTH - 1) + "]" * (DEPTH - 1),)]

    objects = upload_json(server.url, VALID["objects"]).json()
    header, row = cells(requests.get(f"{server.url}/datasets/{objects['id']}/excel/", timeout=120).content)
    # An object whose members are all objects is a map of records (issue 13): one row, keyed "a".
    assert header[0] == "key" and row[0] == "a"
    assert len(header) == len(row) == 2
    # Flattened to some depth, then the rest of the document, whole, as text in that path's cell.
    flattened = header[1].split(".")
    assert set(flattened) == {"a"}
    rest = DEPTH - 1 - len(flattened)
    assert row[1] == ('{"a":' * rest + "1" + "}" * rest)[:EXCEL_TEXT_LIMIT]
