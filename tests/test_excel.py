"""The JSON-to-xlsx rules of the contract, each read back from the workbook with openpyxl.

The export as the API runs it: ``tables.survey``, then ``tables.rows`` into ``xlsx.write_xlsx``.
"""

import io
import json
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils.escape import unescape

from service.errors import NotTabular
from service.export import dates, tables, xlsx
from service.export.tables import MAX_CHILD_TABLES as MAX_CHILD_SHEETS
from service.export.tables import MAX_COLUMNS, MAX_DEPTH, MAX_FIELDS
from service.export.xlsx import MAX_ROWS, MAX_TEXT

DATA = Path(__file__).parent / "data"
Y_FILES = sorted((DATA / "JSONTestSuite" / "test_parsing").glob("y_*.json"))


def write_workbook(
    open_json: Callable[[], BinaryIO], out: BinaryIO, max_depth: int = MAX_DEPTH, max_rows: int = MAX_ROWS
) -> None:
    """The whole export: the survey, then its rows into the writer."""
    model = tables.survey(open_json, max_depth=max_depth)
    xlsx.write_xlsx(model, tables.rows(open_json, model), out, max_rows=max_rows)


def export(document: object, **limits: int) -> Workbook:
    """Export ``document`` (a Python value, or bytes taken as the JSON text) and load the result."""
    source = document if isinstance(document, bytes) else json.dumps(document).encode()
    out = io.BytesIO()
    write_workbook(lambda: io.BytesIO(source), out, **limits)
    return load_workbook(io.BytesIO(out.getvalue()))


def rows(workbook: Workbook, sheet: str = "data") -> list[list[object]]:
    return [list(row) for row in workbook[sheet].iter_rows(values_only=True)]


def flatten(record: dict, prefix: str = "") -> dict[str, object]:
    """The dotted-path view of a record the contract describes, for records without arrays."""
    flat: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def as_cell(value: object) -> object:
    """What openpyxl reads back for a JSON value: a date-time for the text the date rule takes."""
    if isinstance(value, str) and dates.to_date(value) is not None:
        return datetime.fromisoformat(value)
    return value


def test_an_array_of_objects_is_one_row_per_element_under_a_bold_frozen_filtered_header() -> None:
    workbook = export([{"name": "Ada", "born": 1815}, {"name": "Grace", "born": 1906}])

    sheet = workbook["data"]
    assert workbook.sheetnames == ["data"]
    assert rows(workbook) == [["name", "born"], ["Ada", 1815], ["Grace", 1906]]
    assert all(cell.font.bold for cell in sheet[1])
    assert not any(cell.font.bold for cell in sheet[2])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:B3"


def test_nested_objects_become_dotted_columns_kept_together_in_first_seen_order() -> None:
    workbook = export(
        [
            {"id": 1, "address": {"city": "Leeds", "geo": {"lat": 53.8}}},
            {"id": 2, "email": "b@example.com", "address": {"zip": "LS1", "city": "York"}},
        ]
    )

    # The columns of one object stay together, where that object was first seen (issue 13).
    assert rows(workbook) == [
        ["id", "address.city", "address.geo.lat", "address.zip", "email"],
        [1, "Leeds", 53.8, None, None],
        [2, "York", None, "LS1", "b@example.com"],
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, "two", None, True], [["value"], [1], ["two"], [None], [True]]),
        ({"id": 7, "tags": {"a": 1}}, [["id", "tags.a"], [7, 1]]),
        ("just text", [["value"], ["just text"]]),
        (42, [["value"], [42]]),
        (None, [["value"]]),
        ([{"a": 1}, 5, [1, 2]], [["a", "value"], [1, None], [None, 5], [None, "[1,2]"]]),
    ],
    ids=["array-of-scalars", "single-object", "string", "number", "null", "mixed"],
)
def test_any_json_value_is_a_dataset(document: object, expected: list[list[object]]) -> None:
    assert rows(export(document)) == expected


def test_an_empty_array_gives_an_empty_data_sheet() -> None:
    workbook = export([])

    assert workbook.sheetnames == ["data"]
    assert rows(workbook) == []


def test_arrays_of_scalars_stay_whole_as_json_text_and_empty_containers_are_kept() -> None:
    workbook = export([{"tags": ["a", "b"], "grid": [[1, 2], [3]], "none": [], "meta": {}, "x": [None, 1.5]}])

    assert rows(workbook) == [
        ["tags", "grid", "none", "meta", "x"],
        ['["a","b"]', "[[1,2],[3]]", "[]", "{}", "[null,1.5]"],
    ]


def test_arrays_of_objects_go_to_child_sheets_linked_to_their_parent_record_recursively() -> None:
    workbook = export(
        [
            {"id": "o1", "lines": [{"sku": "A", "parts": [{"n": 1}, {"n": 2}]}, {"sku": "B"}]},
            {"id": "o2", "lines": []},
            {"id": "o3", "lines": [{"sku": "C", "parts": [{"n": 3}]}]},
        ]
    )

    assert workbook.sheetnames == ["data", "lines", "lines.parts"]
    # A sheet with child rows numbers its records in a `<sheet> row` column, after its parent's (issue 13).
    assert rows(workbook) == [["data row", "id"], [1, "o1"], [2, "o2"], [3, "o3"]]
    assert rows(workbook, "lines") == [
        ["data row", "lines row", "sku"],
        [1, 1, "A"],
        [1, 2, "B"],
        [3, 3, "C"],
    ]
    assert rows(workbook, "lines.parts") == [["lines row", "n"], [1, 1], [1, 2], [3, 3]]
    for name in workbook.sheetnames:
        assert workbook[name].freeze_panes == "A2"
        assert all(cell.font.bold for cell in workbook[name][1])


def test_an_array_mixing_objects_and_scalars_loses_nothing() -> None:
    workbook = export({"items": [{"a": 1}, "loose", [1, 2], None], "other": [1, 2]})

    assert rows(workbook) == [["data row", "other"], [1, "[1,2]"]]
    assert rows(workbook, "items") == [
        ["data row", "a", "value"],
        [1, 1, None],
        [1, None, "loose"],
        [1, None, "[1,2]"],
        [1, None, None],
    ]


def test_a_path_holding_objects_anywhere_sends_all_its_arrays_to_the_child_sheet() -> None:
    workbook = export([{"k": [1, 2]}, {"k": [{"a": "x"}]}])

    assert workbook.sheetnames == ["data", "k"]
    assert rows(workbook, "k") == [["data row", "value", "a"], [1, 1, None], [1, 2, None], [2, None, "x"]]


def test_sheet_names_follow_excels_rules_and_stay_unique() -> None:
    long_key = "a_rather_long_key_for_a_sheet_name_"
    workbook = export(
        {
            f"{long_key}1": [{"x": 1}],
            f"{long_key}2": [{"x": 2}],
            "what?/[is]:*this\\": [{"x": 3}],
            "DATA": [{"x": 4}],
            "history": [{"x": 5}],
            "'quoted'": [{"x": 6}],
        }
    )

    names = workbook.sheetnames
    assert names == [
        "data",
        long_key[:31],
        f"{long_key[:27]} (2)",
        "what___is___this_",
        "DATA (2)",
        "history (2)",
        "quoted",
    ]
    assert all(len(name) <= 31 for name in names)
    assert len({name.casefold() for name in names}) == len(names)
    assert [rows(workbook, name)[1] for name in names[1:]] == [[1, n] for n in range(1, 7)]


def test_numbers_booleans_and_null_keep_their_types() -> None:
    sheet = export(
        [{"int": 3, "float": 0.30000000000000004, "neg": -2.5e-10, "yes": True, "no": False, "nil": None}]
    )["data"]

    cells = {sheet.cell(1, column).value: sheet.cell(2, column) for column in range(1, 7)}
    assert cells["int"].value == 3 and cells["int"].data_type == "n"
    assert cells["float"].value == 0.30000000000000004
    assert cells["neg"].value == -2.5e-10
    assert cells["yes"].value is True and cells["yes"].data_type == "b"
    assert cells["no"].value is False and cells["no"].data_type == "b"
    assert cells["nil"].value is None


def test_integers_excel_cannot_hold_exactly_are_text_and_huge_numbers_do_not_fail() -> None:
    document = b"[12345678901234567, -9007199254740993, 999999999999999, 100000000000000000000, 1E400, -1e400, 1e-400]"

    values = [row[0] for row in rows(export(document))[1:]]
    assert values == [
        "12345678901234567",
        "-9007199254740993",
        999999999999999,
        100000000000000000000,
        "1E+400",
        "-1E+400",
        "1E-400",
    ]


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://evil.example","x")', "=1+1", "+1", "-2", "@x", "#N/A", "#DIV/0!", "=", "0042"],
)
def test_strings_are_always_literal_text(text: str) -> None:
    sheet = export([{"v": text}])["data"]

    assert sheet["A2"].value == text
    assert sheet["A2"].data_type == "s"


def test_keys_that_look_like_formulas_stay_text_in_the_header() -> None:
    sheet = export([{"=SUM(A1)": 1}])["data"]

    assert sheet["A1"].value == "=SUM(A1)"
    assert sheet["A1"].data_type == "s"


def test_text_that_looks_like_an_excel_escape_stays_literal() -> None:
    """Excel shows ``_x0041_`` in cell text as ``A`` unless the underscore is escaped as ``_x005F``;
    openpyxl reads the stored form back, so decode it as Excel does before comparing."""
    texts = ["_x0041_", "a_x000D_b", "_x00zz_", "plain_x"]
    workbook = export([{"_x0042_": text} for text in texts])

    stored = rows(workbook)
    assert [unescape(value) for value in stored[0]] == ["_x0042_"]
    assert [unescape(row[0]) for row in stored[1:]] == texts
    assert stored[1][0] == "_x005F_x0041_"


def test_whitespace_and_markup_survive_exactly() -> None:
    texts = ["  lead", "trail  ", "line\r\nbreak", "<b>&amp;</b>", "tab\there", " "]

    assert [row[0] for row in rows(export(texts))[1:]] == texts


def test_characters_xml_cannot_carry_are_replaced_not_fatal() -> None:
    document = b'[{"a": "nul\\u0000 bell\\u0007 esc\\u001b", "b": "\\uD800 lone", "c\\u0001": "\\uFFFE\\uFFFF ok \\ud83d\\ude00"}]'

    header, row = rows(export(document))
    assert header == ["a", "b", "c\ufffd"]
    assert row[0] == "nul\ufffd bell\ufffd esc\ufffd"
    assert row[1].endswith(" lone") and not any(0xD800 <= ord(char) <= 0xDFFF for char in row[1])
    assert row[2] == "\ufffd\ufffd ok \U0001f600"


def test_strings_longer_than_excels_limit_are_cut_to_it() -> None:
    long_text = "x" * (MAX_TEXT + 10)

    assert rows(export([{"a": long_text, "b": "y" * MAX_TEXT}]))[1] == ["x" * MAX_TEXT, "y" * MAX_TEXT]


def test_keys_may_be_empty_or_contain_dots_and_distinct_paths_keep_distinct_columns() -> None:
    workbook = export([{"": 1, "a.b": 2, "a": {"b": 3, "": 4}}])

    # The empty key is a header of empty text (the writer writes every header cell, as text).
    assert rows(workbook) == [["", "a.b", "a.b", "a."], [1, 2, 3, 4]]


def test_rows_past_the_limit_continue_on_numbered_sheets_with_the_header_repeated() -> None:
    records = [{"n": n, "kids": [{"k": n}, {"k": -n}]} for n in range(1, 6)]

    workbook = export(records, max_rows=2)

    assert workbook.sheetnames == [
        "data",
        "data (2)",
        "data (3)",
        "kids",
        "kids (2)",
        "kids (3)",
        "kids (4)",
        "kids (5)",
    ]
    assert [rows(workbook, name) for name in workbook.sheetnames[:3]] == [
        [["data row", "n"], [1, 1], [2, 2]],
        [["data row", "n"], [3, 3], [4, 4]],
        [["data row", "n"], [5, 5]],
    ]
    assert [row for name in workbook.sheetnames[3:] for row in rows(workbook, name)[1:]] == [
        [n, sign * n] for n in range(1, 6) for sign in (1, -1)
    ]
    assert all(rows(workbook, name)[0] == ["data row", "k"] for name in workbook.sheetnames[3:])
    assert workbook["data (3)"].auto_filter.ref == "A1:B2"
    assert workbook["data (2)"].freeze_panes == "A2"


def test_more_columns_than_excel_allows_is_not_tabular() -> None:
    with pytest.raises(NotTabular, match="16,384"):
        export([{f"c{n}": n for n in range(MAX_COLUMNS + 1)}])


def test_the_column_limit_counts_the_parent_column_of_child_sheets() -> None:
    assert len(rows(export([{f"c{n}": n for n in range(MAX_COLUMNS)}]))[0]) == MAX_COLUMNS
    with pytest.raises(NotTabular, match="16,384"):
        export([{"kids": [{f"c{n}": n for n in range(MAX_COLUMNS)}]}])


@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_deeply_nested_input_becomes_json_text_without_recursion_errors(opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    document = b"[" + opener * 100_000 + b"1" + closer * 100_000 + b"]"

    (value,) = rows(export(document))[1]
    assert len(value) == MAX_TEXT
    assert value.startswith(opener.decode() * 100)


def test_nesting_past_the_depth_limit_is_kept_as_text_at_its_path() -> None:
    workbook = export([{"a": {"b": {"c": {"d": 1}}}, "e": [{"f": [{"g": 1}]}]}], max_depth=4)

    assert rows(workbook) == [["data row", "a.b.c"], [1, '{"d":1}']]
    assert rows(workbook, "e") == [["data row", "f"], [1, '[{"g":1}]']]


def test_json_that_cannot_be_read_is_not_tabular() -> None:
    with pytest.raises(NotTabular):
        export(b'[{"a": 1}')


def test_columns_get_widths_from_their_content_within_bounds() -> None:
    sheet = export([{"id": 1, "comment": "words " * 40}])["data"]

    assert sheet.column_dimensions["A"].width < sheet.column_dimensions["B"].width <= 62


def test_the_document_is_read_twice_and_each_stream_is_closed() -> None:
    opened: list[io.BytesIO] = []

    def open_json() -> io.BytesIO:
        opened.append(io.BytesIO(b'[{"a": 1}]'))
        return opened[-1]

    write_workbook(open_json, io.BytesIO())
    assert len(opened) == 2
    assert all(stream.closed for stream in opened)


@pytest.mark.parametrize("name", ["sample_data_1.json", "sample_data_2.json"])
def test_the_samples_round_trip_cell_by_cell(name: str) -> None:
    path = DATA / name
    records = json.loads(path.read_text())
    out = io.BytesIO()

    write_workbook(lambda: path.open("rb"), out)

    header, *data = rows(load_workbook(io.BytesIO(out.getvalue())))
    expected = [{key: as_cell(value) for key, value in flatten(record).items()} for record in records]
    assert header == list(dict.fromkeys(key for record in expected for key in record))
    assert len(data) == len(expected)
    for row, record in zip(data, expected, strict=True):
        assert dict(zip(header, row, strict=True)) == {key: record.get(key) for key in header}
        for key, cell in zip(header, row, strict=True):
            assert type(cell) is type(record.get(key)), key


@pytest.mark.parametrize("path", Y_FILES, ids=[path.name for path in Y_FILES])
def test_every_valid_document_of_the_json_test_suite_exports(path: Path) -> None:
    out = io.BytesIO()

    write_workbook(lambda: path.open("rb"), out)

    assert "data" in load_workbook(io.BytesIO(out.getvalue())).sheetnames


def test_more_child_sheets_than_the_limit_is_not_tabular() -> None:
    fits = {f"k{number}": [{"a": number}] for number in range(MAX_CHILD_SHEETS)}
    assert len(export(fits).sheetnames) == MAX_CHILD_SHEETS + 1
    with pytest.raises(NotTabular, match="child sheets"):
        export({**fits, "one more": [{"a": 0}]})


def test_a_document_of_countless_fields_is_refused_in_bounded_memory() -> None:
    with pytest.raises(NotTabular, match="distinct fields"):
        export({f"k{number}": [] for number in range(MAX_FIELDS + 1)})


def test_a_sheet_name_never_ends_with_an_apostrophe() -> None:
    key = "a" * 30 + "'b"
    workbook = export([{key: [{"x": 1}]}])
    assert workbook.sheetnames == ["data", "a" * 30]


def test_a_source_that_fails_half_way_leaves_no_temporary_files(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = json.dumps([{"a": [{"b": 1}], "c": "x" * 100}] * 5000).encode()

    class Failing(io.BytesIO):
        def read(self, size: int = -1) -> bytes:  # what ijson reads the document with
            if self.tell() > 100_000:
                raise OSError("the store went away")
            return super().read(65536 if size < 0 else min(size, 65536))

        def readinto(self, buffer) -> int:
            chunk = self.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    opened: list[io.BytesIO] = []

    def open_json() -> io.BytesIO:
        opened.append(Failing(data) if opened else io.BytesIO(data))
        return opened[-1]

    with pytest.raises(OSError, match="went away"):
        write_workbook(open_json, io.BytesIO())
    assert len(opened) == 2  # the failure came in the second pass, after the sheets were made
    assert list(tmp_path.iterdir()) == []
