"""Whole documents through the export engine (survey, rows, write_xlsx), every workbook read back by
openpyxl, python-calamine and LibreOffice: each shows exactly the rows the engine produced.

The documents are every valid one of JSONTestSuite (``y_*.json``) and hostile ones: text that looks
like formulas or Excel's escapes, characters XML cannot carry, keys that are empty or dotted or look
like formulas, numbers past what a double or Excel holds, dates and near-dates, deep nesting, child
tables and long text.
LibreOffice converts all of them in one run.
"""

import io
import json
from pathlib import Path

import pytest

from service.export import tables
from service.export.xlsx import MAX_ROWS, write_xlsx
from tests.readers import (
    assert_three_readers_show,
    expected_sheets,
    libreoffice_sheets,
)

SUITE = Path(__file__).parent / "data" / "JSONTestSuite" / "test_parsing"
Y_FILES = sorted(SUITE.glob("y_*.json"))

HOSTILE = {
    "formulas": json.dumps(
        [{"a": "=1+1", "b": '=HYPERLINK("http://x","y")', "c": "+1", "d": "-2", "e": "@x"}]
    ),
    "formula_keys": json.dumps([{"=SUM(A1)": 1, "+x": 2, "@y": {"-z": 3}}]),
    "escapes": json.dumps([{"text": "_x0041_", "double": "_x005F_x0041_", "key_x0041_": 1}]),
    "not_xml": '[{"c": "\\u0000\\u0001\\u001f", "s": "\\ud800 lone", "n": "\\ufffe\\uffff"}]',
    "white_space": json.dumps(
        [{"lead": "  x", "trail": "x  ", "tab": "\tx", "lines": "a\nb\r\nc", "space": " "}]
    ),
    "markup": json.dumps([{"m": "<b>&amp;</b> \"'", "<k>": "&"}]),
    "keys": json.dumps([{"": 1, "a.b": 2, "a": {"b": 3}, " ": 4}]),
    "numbers": '[{"big": 123456789012345678901234567890, "exp": 1E400, "tiny": 1E-400, "neg0": -0, '
    '"negf": -0.0, "edge": 999999999999999, "more": 1000000000000000, "f": 0.1, "d": 1.7976931348623157e308}]',
    "deep": "[" * 100 + "1" + "]" * 100,
    "deep_objects": '{"a":' * 70 + "1" + "}" * 70,
    "children": json.dumps(
        [
            {
                "id": 1,
                "orders": [{"sku": "a", "items": [{"n": 1}, {"n": 2}]}, {"sku": "b"}],
                "tags": ["x", "y"],
            },
            {"id": 2, "orders": [], "tags": []},
            {"id": 3, "orders": [{"sku": "c", "items": []}, 5, "text"]},
        ]
    ),
    "map_of_records": json.dumps({"alice": {"age": 30}, "bob": {"age": 25, "city": "Leeds"}}),
    "long_text": json.dumps([{"long": "a" * 40_000, "emoji": "\U0001f600" * 20_000}]),
    "dates": json.dumps(
        [
            {
                "day": "2025-03-14",
                "utc": "2025-03-14T15:09:26Z",
                "ms": "2025-03-14 15:09:26.250",
                "first": "1900-03-01",
            },
            {
                "impossible": "2025-02-30",
                "offset": "2025-03-14T15:09:26+01:00",
                "last": "9999-12-31T23:59:59.999",
            },
        ]
    ),
    "scalars": json.dumps([1, "two", None, True, [3, 4], {"five": 5}]),
}
DOCUMENTS = {path.stem: path.read_bytes() for path in Y_FILES} | {
    f"hostile_{k}": v.encode() for k, v in HOSTILE.items()
}


def export(document: bytes) -> tuple[bytes, list]:
    """The workbook of ``document`` and the sheets the readers should show."""

    def open_document() -> io.BytesIO:
        return io.BytesIO(document)

    model = tables.survey(open_document)
    rows = list(tables.rows(open_document, model))
    out = io.BytesIO()
    write_xlsx(model, rows, out)
    return out.getvalue(), expected_sheets(model, rows, MAX_ROWS)


@pytest.fixture(scope="module")
def exported() -> dict[str, tuple[bytes, list]]:
    return {name: export(document) for name, document in DOCUMENTS.items()}


@pytest.fixture(scope="module")
def libreoffice(
    exported: dict[str, tuple[bytes, list]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict]:
    workbooks = {name: workbook for name, (workbook, _) in exported.items()}
    return libreoffice_sheets(workbooks, tmp_path_factory.mktemp("libreoffice"))


def test_the_suite_is_all_there() -> None:
    assert len(Y_FILES) == 95


@pytest.mark.parametrize("name", DOCUMENTS)
def test_three_readers_show_the_rows_the_engine_made(name: str, exported: dict, libreoffice: dict) -> None:
    workbook, expected = exported[name]
    assert_three_readers_show(expected, workbook, libreoffice[name])
