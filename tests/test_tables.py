"""The survey and the row pass, read directly: the tables a document becomes and their rows."""

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from service.errors import BadRequest, NotTabular
from service.export.model import Date, TableModel
from service.export.tables import MAX_CHILD_TABLES, MAX_COLUMNS, MAX_FIELDS, rows, survey
from tests import realworld

DATA = Path(__file__).parent / "data"
Y_FILES = sorted((DATA / "JSONTestSuite" / "test_parsing").glob("y_*.json"))


def source(document: object) -> bytes:
    """``document`` as JSON text (bytes are taken as the text itself)."""
    return document if isinstance(document, bytes) else json.dumps(document).encode()


def model_of(document: object, **options: object) -> TableModel:
    data = source(document)
    return survey(lambda: io.BytesIO(data), **options)


def tables_of(document: object, *, exact: bool = False, **options: object) -> dict[str, list[list[object]]]:
    """Each table's header then rows, by table name, checking the survey's row counts on the way."""
    data = source(document)
    model = survey(lambda: io.BytesIO(data), **options)
    found: dict[str, list[list[object]]] = {table.name: [] for table in model.tables}
    for index, values in rows(lambda: io.BytesIO(data), model, exact=exact):
        table = model.tables[index]
        assert len(values) == len(table.columns)
        found[table.name].append(values)
    assert [len(found[table.name]) for table in model.tables] == [table.rows for table in model.tables]
    return {table.name: [[c.name for c in table.columns], *found[table.name]] for table in model.tables}


def test_an_array_of_objects_is_one_row_per_element_of_the_main_table() -> None:
    model = model_of([{"name": "Ada", "born": 1815}, {"name": "Grace", "born": 1906}])

    (table,) = model.tables
    assert (table.name, table.parent, table.rows) == ("data", None, 2)
    assert tables_of([{"name": "Ada", "born": 1815}, {"name": "Grace", "born": 1906}]) == {
        "data": [["name", "born"], ["Ada", 1815], ["Grace", 1906]]
    }


def test_nested_objects_become_dotted_columns_each_objects_together_where_it_was_first_seen() -> None:
    found = tables_of(
        [
            {"id": 1, "address": {"city": "Leeds", "geo": {"lat": 53.8}}},
            {"id": 2, "email": "b@example.com", "address": {"zip": "LS1", "city": "York"}},
        ]
    )

    assert found["data"] == [
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
        (None, [["value"], [None]]),
        ([{"a": 1}, 5, [1, 2]], [["a", "value"], [1, None], [None, 5], [None, "[1,2]"]]),
        ([], [[]]),
        ({}, [[], []]),
    ],
    ids=[
        "array-of-scalars",
        "single-object",
        "string",
        "number",
        "null",
        "mixed",
        "empty-array",
        "empty-object",
    ],
)
def test_any_json_value_is_a_dataset(document: object, expected: list[list[object]]) -> None:
    assert tables_of(document) == {"data": expected}


def test_arrays_of_scalars_stay_whole_as_json_text_and_empty_containers_are_kept() -> None:
    found = tables_of([{"tags": ["a", "b"], "grid": [[1, 2], [3]], "none": [], "meta": {}, "x": [None, 1.5]}])

    assert found["data"] == [
        ["tags", "grid", "none", "meta", "x"],
        ['["a","b"]', "[[1,2],[3]]", "[]", "{}", "[null,1.5]"],
    ]


def test_json_text_keeps_keys_escapes_and_numbers_as_read() -> None:
    document = b'[{"a": [[{"k\\"ey": "\\u00e9\\n"}], true, false, null, 1.5e3, 1234567890123456789]}]'

    assert tables_of(document)["data"][1] == [
        '[[{"k\\"ey":"\u00e9\\n"}],true,false,null,1500.0,1234567890123456789]'
    ]
    assert tables_of(document, exact=True)["data"][1] == [
        '[[{"k\\"ey":"\u00e9\\n"}],true,false,null,1.5E+3,1234567890123456789]'
    ]


def test_arrays_of_objects_go_to_child_tables_linked_to_their_parent_record_recursively() -> None:
    document = [
        {"id": "o1", "lines": [{"sku": "A", "parts": [{"n": 1}, {"n": 2}]}, {"sku": "B"}]},
        {"id": "o2", "lines": []},
        {"id": "o3", "lines": [{"sku": "C", "parts": [{"n": 3}]}]},
    ]

    model = model_of(document)
    assert [(t.name, t.parent, t.rows) for t in model.tables] == [
        ("data", None, 3),
        ("lines", "data", 3),
        ("lines.parts", "lines", 3),
    ]
    assert tables_of(document) == {
        "data": [["data row", "id"], [1, "o1"], [2, "o2"], [3, "o3"]],
        "lines": [["data row", "lines row", "sku"], [1, 1, "A"], [1, 2, "B"], [3, 3, "C"]],
        "lines.parts": [["lines row", "n"], [1, 1], [1, 2], [3, 3]],
    }


def test_an_array_mixing_objects_and_scalars_loses_nothing() -> None:
    found = tables_of({"items": [{"a": 1}, "loose", [1, 2], None], "other": [1, 2]})

    assert found["data"] == [["data row", "other"], [1, "[1,2]"]]
    assert found["items"] == [
        ["data row", "a", "value"],
        [1, 1, None],
        [1, None, "loose"],
        [1, None, "[1,2]"],
        [1, None, None],
    ]


def test_a_path_holding_objects_anywhere_sends_all_its_arrays_to_the_child_table() -> None:
    found = tables_of([{"k": [1, 2]}, {"k": [{"a": "x"}]}])

    assert list(found) == ["data", "k"]
    assert found["k"] == [["data row", "value", "a"], [1, 1, None], [1, 2, None], [2, None, "x"]]


def test_table_names_follow_excels_rules_and_stay_unique() -> None:
    long_key = "a_rather_long_key_for_a_sheet_name_"
    document = {
        f"{long_key}1": [{"x": 1}],
        f"{long_key}2": [{"x": 2}],
        "what?/[is]:*this\\": [{"x": 3}],
        "DATA": [{"x": 4}],
        "history": [{"x": 5}],
        "'quoted'": [{"x": 6}],
    }

    found = tables_of(document)
    assert list(found) == [
        "data",
        long_key[:31],
        f"{long_key[:27]} (2)",
        "what___is___this_",
        "DATA (2)",
        "history (2)",
        "quoted",
    ]
    assert [table[1] for table in list(found.values())[1:]] == [[1, n] for n in range(1, 7)]
    assert all(table.parent == "data" for table in model_of(document).tables[1:])


def test_a_child_of_a_renamed_table_names_it_in_its_parent_column() -> None:
    found = tables_of([{"a" * 40: [{"b": [{"c": 1}]}]}])

    assert list(found) == ["data", "a" * 31, "a" * 27 + " (2)"]
    assert found["a" * 27 + " (2)"][0] == ["a" * 31 + " row", "c"]


def test_numbers_booleans_and_null_keep_their_types() -> None:
    found = tables_of(
        [{"int": 3, "float": 0.30000000000000004, "neg": -2.5e-10, "yes": True, "no": False, "nil": None}]
    )

    values = found["data"][1]
    assert values == [3, 0.30000000000000004, -2.5e-10, True, False, None]
    assert [type(value) for value in values] == [int, float, float, bool, bool, type(None)]


def test_exact_rows_keep_every_digit_of_every_number() -> None:
    document = b'[{"a": 0.1, "b": 1.50, "c": 1234567890123456789, "d": 1e-7, "e": [0.10]}]'

    assert tables_of(document)["data"][1] == [0.1, 1.5, 1234567890123456789, 1e-7, "[0.1]"]
    exact = tables_of(document, exact=True)["data"][1]
    assert exact == [Decimal("0.1"), Decimal("1.50"), 1234567890123456789, Decimal("1e-7"), "[0.10]"]
    assert [str(value) for value in exact[:2]] == ["0.1", "1.50"]


def test_numbers_out_of_a_doubles_range_are_read_exactly_in_both_passes() -> None:
    document = b"[12345678901234567, 100000000000000000000, 1E400, -1e400, 1e-400, 0.5]"

    model = model_of(document)
    assert model.reading["use_float"] is False
    values = [row[0] for row in tables_of(document)["data"][1:]]
    assert values == [
        12345678901234567,
        10**20,
        Decimal("1E400"),
        Decimal("-1e400"),
        Decimal("1e-400"),
        Decimal("0.5"),
    ]


def test_strings_are_given_as_they_were_for_writers_to_clean() -> None:
    texts = ["=1+1", "_x0041_", "nul\x00 bell\x07", "x" * 40_000, "  lead", "line\r\nbreak"]

    assert [row[0] for row in tables_of(texts)["data"][1:]] == texts


def test_keys_may_be_empty_or_contain_dots_and_distinct_paths_keep_distinct_columns() -> None:
    assert tables_of([{"": 1, "a.b": 2, "a": {"b": 3, "": 4}}])["data"] == [
        ["", "a.b", "a.b", "a."],
        [1, 2, 3, 4],
    ]


def test_a_key_named_value_shares_the_column_of_records_that_are_not_objects() -> None:
    assert tables_of([{"value": 1}, 2])["data"] == [["value"], [1], [2]]


def test_more_columns_than_excel_allows_is_not_tabular() -> None:
    assert len(model_of([{f"c{n}": n for n in range(MAX_COLUMNS)}]).tables[0].columns) == MAX_COLUMNS
    with pytest.raises(NotTabular, match="16,384 columns on the sheet 'data'"):
        model_of([{f"c{n}": n for n in range(MAX_COLUMNS + 1)}])


def test_the_column_limit_counts_the_parent_column_of_child_tables() -> None:
    with pytest.raises(NotTabular, match="16,384 columns on the sheet 'kids'"):
        model_of([{"kids": [{f"c{n}": n for n in range(MAX_COLUMNS)}]}])


def test_more_child_tables_than_the_limit_is_not_tabular() -> None:
    fits = {f"k{number}": [{"a": number}] for number in range(MAX_CHILD_TABLES)}
    assert len(model_of(fits).tables) == MAX_CHILD_TABLES + 1
    with pytest.raises(NotTabular, match="child sheets"):
        model_of({**fits, "one more": [{"a": 0}]})


def test_a_document_of_countless_fields_is_refused() -> None:
    with pytest.raises(NotTabular, match="distinct fields"):
        model_of({f"k{number}": [] for number in range(MAX_FIELDS + 1)})


def test_deep_nesting_becomes_whole_json_text_without_recursion_errors() -> None:
    document = b"[" + b"[" * 100_000 + b"1" + b"]" * 100_000 + b"]"

    (value,) = tables_of(document)["data"][1]
    assert value == "[" * 100_000 + "1" + "]" * 100_000


def test_deep_objects_become_columns_down_to_the_depth_limit_then_whole_json_text() -> None:
    document = b"[" + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"]"

    (header,), (value,) = tables_of(document)["data"]
    assert header == ".".join(["a"] * 63)
    assert value == '{"a":' * (100_000 - 63) + "1" + "}" * (100_000 - 63)


def test_nesting_past_the_depth_limit_is_kept_as_text_at_its_path() -> None:
    found = tables_of([{"a": {"b": {"c": {"d": 1}}}, "e": [{"f": [{"g": 1}]}]}], max_depth=4)

    assert found == {
        "data": [["data row", "a.b.c"], [1, '{"d":1}']],
        "e": [["data row", "f"], [1, '[{"g":1}]']],
    }


def test_json_that_cannot_be_read_is_not_tabular() -> None:
    with pytest.raises(NotTabular, match="cannot be read as JSON"):
        model_of(b'[{"a": 1}')
    # Neither doubles (1e400) nor Decimal (the exponent past its own) read all of it: stored before
    # uploads had to read exactly, it is a 422 saying so, not a 500.
    with pytest.raises(NotTabular, match="cannot be read as JSON: a number out of range"):
        model_of(b"1e400\n1e-99999999999999999999\n", format="jsonl")


def test_columns_get_widths_from_their_content_within_bounds() -> None:
    columns = (
        model_of([{"id": 1, "comment": "words " * 40, "tags": [1]}, {"kids": [{"x": 1}]}]).tables[0].columns
    )

    widths = {column.name: column.width for column in columns}
    assert widths == {"data row": 10, "id": 8, "comment": 60, "tags": 32}
    assert [c.width for c in model_of([{"kids": [{"x": 1}]}]).tables[1].columns] == [10, 8]


def test_the_model_read_back_from_json_gives_the_same_rows() -> None:
    data = source([{"id": 1, "a": {"b": [{"c": 2, "d": [{"e": 3}]}]}, "": {"": 4}}])
    model = survey(lambda: io.BytesIO(data))

    loaded = TableModel.from_json(model.to_json())
    assert loaded == model
    assert list(rows(lambda: io.BytesIO(data), loaded)) == list(rows(lambda: io.BytesIO(data), model))


def test_each_pass_reads_the_document_once_and_closes_it() -> None:
    opened: list[io.BytesIO] = []

    def open_document() -> io.BytesIO:
        opened.append(io.BytesIO(b'[{"a": 1}]'))
        return opened[-1]

    model = survey(open_document)
    assert len(opened) == 1 and opened[0].closed
    assert list(rows(open_document, model)) == [(0, [1])]
    assert len(opened) == 2 and opened[1].closed


class Counting(io.BytesIO):
    """A document stream that records how far it was read when it was closed."""

    read_to = -1

    def readinto(self, buffer):  # ijson reads with readinto
        return super().readinto(memoryview(buffer)[:65536])

    def close(self) -> None:
        if not self.closed:
            self.read_to = self.tell()
        super().close()


def test_child_rows_come_as_their_records_end_however_many_one_record_holds() -> None:
    data = source({"kids": [{"n": n} for n in range(100_000)]})
    model = survey(lambda: io.BytesIO(data))
    stream = Counting(data)

    produced = rows(lambda: stream, model)
    assert next(produced) == (1, [1, 0])
    assert stream.tell() < len(data) / 10
    assert sum(1 for _ in produced) == 100_000  # the rest of the kids, then the one record


def test_a_preview_reads_only_as_far_as_its_tables_need() -> None:
    data = source([{"n": n, "kids": [{"k": n}]} for n in range(50_000)])
    model = survey(lambda: io.BytesIO(data))
    stream = Counting(data)

    preview = list(rows(lambda: stream, model, tables=["kids"], limit=3))

    assert preview == [(1, [1, 0]), (1, [2, 1]), (1, [3, 2])]
    assert 0 < stream.read_to < len(data) / 10


def test_a_preview_of_more_rows_than_a_table_has_gives_them_all() -> None:
    data = source([{"n": n, "kids": [{"k": n}] if n == 1 else []} for n in range(5)])
    model = survey(lambda: io.BytesIO(data))

    assert list(rows(lambda: io.BytesIO(data), model, tables=["kids", "data"], limit=2)) == [
        (0, [1, 0]),
        (1, [2, 1]),
        (0, [2, 1]),
    ]
    assert list(rows(lambda: io.BytesIO(data), model, limit=0)) == []


@pytest.mark.parametrize("name", ["sample_data_1.json", "sample_data_2.json"])
def test_the_samples_give_a_row_per_record_with_every_value(name: str) -> None:
    records = json.loads((DATA / name).read_text())

    header, *data = tables_of((DATA / name).read_bytes())["data"]
    assert len(data) == len(records)
    for values, record in zip(data, records, strict=True):
        flat = {
            name: _as_json(value) for name, value in zip(header, values, strict=True) if value is not None
        }
        assert flat == {key: value for key, value in _flatten(record).items() if value is not None}


def _as_json(value: object) -> object:
    """A value as it was in the JSON: a date is its text."""
    return value.text if isinstance(value, Date) else value


def _flatten(record: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


@pytest.mark.parametrize("path", Y_FILES, ids=[path.name for path in Y_FILES])
def test_every_valid_document_of_the_json_test_suite_gives_a_row_per_record(path: Path) -> None:
    document = json.loads(path.read_bytes())

    found = tables_of(path.read_bytes())
    assert len(found["data"]) - 1 == _records_in(document)


def _records_in(document: object) -> int:
    """How many records the contract makes of a document: an array's elements, a map of records'
    members, else one."""
    if isinstance(document, list):
        return len(document)
    if (
        isinstance(document, dict)
        and document
        and all(isinstance(value, dict) for value in document.values())
    ):
        return len(document)
    return 1


# The real-world rules ------------------------------------------------------------------------------


def lines(*records: object) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def test_json_lines_are_one_record_a_line() -> None:
    document = lines(
        {"_id": {"$oid": "65e5a1"}, "n": 1}, {"_id": {"$oid": "65e5a2"}, "n": 2, "tags": ["a"]}
    ) + (b'\r\n\n[1, 2]\r\n"text"\n')

    assert tables_of(document, format="jsonl") == {
        "data": [
            ["_id.$oid", "n", "tags", "value"],
            ["65e5a1", 1, None, None],
            ["65e5a2", 2, '["a"]', None],
            [None, None, None, "[1,2]"],
            [None, None, None, "text"],
        ]
    }
    assert model_of(document, format="jsonl").format == "jsonl"


def test_a_json_lines_line_that_is_a_map_of_records_is_still_one_record() -> None:
    assert tables_of(lines({"a": {"x": 1}, "b": {"x": 2}}), format="jsonl")["data"] == [
        ["a.x", "b.x"],
        [1, 2],
    ]


@pytest.mark.parametrize("format", ["json", "jsonl"])
def test_a_byte_order_mark_at_the_start_is_skipped(format: str) -> None:
    assert tables_of(b'\xef\xbb\xbf{"a": "\xc3\xa9"}', format=format) == {"data": [["a"], ["\u00e9"]]}


@pytest.mark.parametrize("document", [b"1", b"12", b"[]", b'"\xef\xbb\xbe"'])
def test_documents_shorter_than_a_byte_order_mark_or_alike_at_the_start_lose_nothing(document: bytes) -> None:
    assert tables_of(document)["data"][1:] == ([[json.loads(document)]] if document != b"[]" else [])


def test_a_map_of_records_is_a_row_per_member_named_in_a_first_column_key() -> None:
    document = {
        "airports": {"filename": "airports.csv", "format": "csv"},
        "cars": {"filename": "cars.json", "format": "json", "rows": 406},
        "2024-03-04": {"filename": "daily.json", "tags": [{"t": "x"}]},
    }

    found = tables_of(document)
    assert found["data"][0] == ["key", "data row", "filename", "format", "rows"]
    assert found["data"][1:3] == [
        ["airports", 1, "airports.csv", "csv", None],
        ["cars", 2, "cars.json", "json", 406],
    ]
    assert found["data"][3][0] == Date("2024-03-04", 45355.0, "date")
    assert found["tags"] == [["data row", "t"], [3, "x"]]
    assert model_of(document).tables[0].columns[0].width == 12  # "2024-03-04" and two


@pytest.mark.parametrize(
    ("document", "header"),
    [
        ({"a": {"x": 1}, "b": {"x": 2}, "count": 2}, ["a.x", "b.x", "count"]),
        ({"count": 2, "a": {"x": 1}}, ["count", "a.x"]),
        ({"a": {"x": 1}, "b": None}, ["a.x", "b"]),
        ({"a": {"x": 1}, "b": [{"y": 1}]}, ["data row", "a.x"]),
    ],
    ids=["last-member-a-number", "first-member-a-number", "a-null-member", "an-array-member"],
)
def test_an_object_with_any_member_that_is_not_an_object_is_one_record(
    document: object, header: list[str]
) -> None:
    found = tables_of(document)["data"]

    assert found[0] == header
    assert len(found) == 2


def test_a_field_null_in_some_records_and_an_object_in_others_has_only_its_sub_columns() -> None:
    document = [
        {"number": 1, "assignee": None, "milestone": None, "state": "open"},
        {"number": 2, "assignee": {"login": "ada", "id": 7}, "milestone": None, "state": "open"},
        {"number": 3, "assignee": None, "milestone": {"title": "v1", "creator": None}, "state": "closed"},
        {
            "number": 4,
            "assignee": {"login": "grace"},
            "milestone": {"title": "v2", "creator": {"login": "x"}},
        },
    ]

    assert tables_of(document)["data"] == [
        ["number", "assignee.login", "assignee.id", "milestone.title", "milestone.creator.login", "state"],
        [1, None, None, None, None, "open"],
        [2, "ada", 7, None, None, "open"],
        [3, None, None, "v1", None, "closed"],
        [4, "grace", None, "v2", "x", None],
    ]


def test_a_field_always_null_keeps_its_column_and_one_null_beside_records_has_none() -> None:
    found = tables_of([{"a": None, "labels": None}, {"a": None, "labels": [{"name": "bug"}]}])

    assert found["data"] == [["data row", "a"], [1, None], [2, None]]
    assert found["labels"] == [["data row", "name"], [2, "bug"]]


def test_a_field_that_is_sometimes_a_value_and_sometimes_an_object_keeps_both() -> None:
    found = tables_of([{"a": 1}, {"a": {"b": 2}}, {"a": None}])

    assert found["data"] == [["a", "a.b"], [1, None], [None, 2], [None, None]]


def test_join_columns_number_every_table_that_has_children_down_to_grandchildren() -> None:
    document = [
        {
            "id": "o1",
            "lines": [{"sku": "A", "parts": [{"n": 1}]}, {"sku": "B", "parts": [{"n": 2}, {"n": 3}]}],
        },
        {"id": "o2", "notes": [1, 2]},
        {"id": "o3", "lines": [{"sku": "C"}]},
    ]

    found = tables_of(document)
    assert found == {
        "data": [["data row", "id", "notes"], [1, "o1", None], [2, "o2", "[1,2]"], [3, "o3", None]],
        "lines": [["data row", "lines row", "sku"], [1, 1, "A"], [1, 2, "B"], [3, 3, "C"]],
        "lines.parts": [["lines row", "n"], [1, 1], [2, 2], [2, 3]],
    }
    assert [table.columns[0].width for table in model_of(document).tables] == [10, 10, 11]


def test_join_columns_name_tables_by_their_sheet_names() -> None:
    key = "a" * 40
    found = tables_of([{key: [{"b": [{"c": 1}]}]}])

    assert found["a" * 31] == [["data row", "a" * 31 + " row"], [1, 1]]
    assert found["a" * 27 + " (2)"] == [["a" * 31 + " row", "c"], [1, 1]]


def test_the_column_limit_counts_the_join_columns() -> None:
    record = {f"c{n}": n for n in range(MAX_COLUMNS - 1)}
    assert len(model_of([{**record, "kids": [{"x": 1}]}]).tables[0].columns) == MAX_COLUMNS
    with pytest.raises(NotTabular, match="16,384 columns on the sheet 'data'"):
        model_of([{**record, "one": 1, "kids": [{"x": 1}]}])


def test_strings_that_are_iso_dates_become_dates_wherever_they_are() -> None:
    document = [
        {
            "day": "2024-02-29",
            "at": "2025-03-14T15:09:26Z",
            "ms": "2025-03-14 15:09:26.250",
            "kids": [{"d": "2024-01-01"}],
        },
        {"day": "2023-02-29", "at": "2025-03-14T15:09:26+01:00", "ms": "yesterday", "list": ["2024-01-01"]},
        "1900-03-01",
    ]

    found = tables_of(document)
    assert found["data"][0] == ["data row", "day", "at", "ms", "list", "value"]
    day, at, ms = found["data"][1][1:4]
    assert day == Date("2024-02-29", 45351.0, "date")
    assert (at.style, at.text) == ("datetime", "2025-03-14T15:09:26Z")
    assert (ms.style, ms.serial) == (
        "datetime_ms",
        pytest.approx(45730 + (15 * 3600 + 9 * 60 + 26.25) / 86400),
    )
    assert found["data"][2][1:5] == ["2023-02-29", "2025-03-14T15:09:26+01:00", "yesterday", '["2024-01-01"]']
    assert found["data"][3][-1] == Date("1900-03-01", 61.0, "date")
    assert found["kids"][1][-1] == Date("2024-01-01", 45292.0, "date")
    assert tables_of(document, exact=True) == found


def test_without_date_detection_dates_stay_the_strings_they_were_and_nothing_else_changes() -> None:
    document = {
        "2024-02-29": {"at": "2025-03-14T15:09:26Z", "kids": [{"d": "2024-01-01"}, "1900-03-01"], "n": 1.5},
        "later": {"at": "yesterday", "kids": [], "n": 2},
    }
    data = source(document)
    model = survey(lambda: io.BytesIO(data))

    def as_text(value: object) -> object:
        return value.text if isinstance(value, Date) else value

    detected = list(rows(lambda: io.BytesIO(data), model))
    plain = list(rows(lambda: io.BytesIO(data), model, detect_dates=False))
    assert sum(isinstance(value, Date) for _, values in detected for value in values) == 4
    assert not any(isinstance(value, Date) for _, values in plain for value in values)
    assert plain == [(index, [as_text(value) for value in values]) for index, values in detected]


def test_a_column_is_wrapped_when_a_sampled_value_breaks_lines() -> None:
    document = [{"body": "one line", "log": "plain", "n": 1, "list": ["a\nb"]}] + [
        {"body": "first\nsecond", "log": "x\r\ny" if n > 300 else "x", "n": n} for n in range(400)
    ]

    wrapped = {column.name: column.wrap for column in model_of(document).tables[0].columns}
    assert wrapped == {"body": True, "log": False, "n": False, "list": False}
    assert model_of({"a\nb": {"x": 1}}).tables[0].columns[0].wrap is True


def test_root_takes_the_records_from_the_value_it_points_at() -> None:
    document = {"count": 2, "next": None, "results": [{"id": 1, "tags": [{"t": "a"}]}, {"id": 2}]}

    found = tables_of(document, root="/results")
    assert found == {"data": [["data row", "id"], [1, 1], [2, 2]], "tags": [["data row", "t"], [1, "a"]]}
    assert model_of(document, root="/results").root == "/results"
    assert tables_of(document)["data"][0] == ["data row", "count", "next"]


def test_root_gives_every_rule_the_value_it_points_at_as_if_it_were_the_document() -> None:
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [9.99, 53.55]},
                "properties": {"n": 1},
            }
        ],
        "by/name": {"ham~burg": {"alice": {"x": 1}, "bob": {"x": 2}}},
        "list": [[{"a": 1}], "2024-05-01"],
    }

    assert tables_of(document, root="/features")["data"] == [
        ["type", "geometry.type", "geometry.coordinates", "properties.n"],
        ["Feature", "Point", "[9.99,53.55]", 1],
    ]
    assert tables_of(document, root="/by~1name/ham~0burg")["data"] == [["key", "x"], ["alice", 1], ["bob", 2]]
    assert tables_of(document, root="/list/0")["data"] == [["a"], [1]]
    assert tables_of(document, root="/list/1")["data"] == [["value"], [Date("2024-05-01", 45413.0, "date")]]


@pytest.mark.parametrize(
    ("root", "error", "message"),
    [
        ("results", BadRequest, "not a JSON Pointer"),
        ("/a~2", BadRequest, "not a JSON Pointer"),
        ("/missing", NotTabular, "points at nothing"),
        ("/results/5", NotTabular, "points at nothing"),
        ("/count/x", NotTabular, "points at nothing"),
    ],
)
def test_a_root_that_is_malformed_or_points_at_nothing_is_refused(
    root: str, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        model_of({"count": 1, "results": [{"a": 1}]}, root=root)


def test_a_root_for_json_lines_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="JSON Lines"):
        model_of(lines({"a": 1}), format="jsonl", root="/a")
    assert tables_of(lines({"a": 1}), format="jsonl", root="")["data"] == [["a"], [1]]


# The real-world shapes (tests/realworld.py) ------------------------------------------------------


def test_github_issues_give_analyst_ready_columns_and_joinable_labels() -> None:
    issues = json.loads(realworld.GITHUB_ISSUES.read_bytes())

    found = tables_of(realworld.GITHUB_ISSUES.read_bytes())
    header = found["data"][0]
    assert header[0] == "data row"
    assert "assignee" not in header and "milestone" not in header
    # assignee was first met (as null) between locked and assignees (a child table) and milestone
    at = header.index("locked") + 1
    assert header[at : at + 2] == ["assignee.login", "assignee.id"]
    assert header.index("milestone.title") < header.index("comments")
    assert len(found["data"]) - 1 == len(issues)
    assert len(found["labels"]) - 1 == sum(len(issue["labels"]) for issue in issues)
    assert found["labels"][0][0] == "data row"
    name = found["labels"][0].index("name")
    assert [(row[0], row[name]) for row in found["labels"][1:]] == [
        (number, label["name"]) for number, issue in enumerate(issues, 1) for label in issue["labels"]
    ]
    created = header.index("created_at")
    assert all(isinstance(row[created], Date) for row in found["data"][1:])
    wrapped = {
        column.name
        for column in model_of(realworld.GITHUB_ISSUES.read_bytes()).tables[0].columns
        if column.wrap
    }
    assert "body" in wrapped


def test_geojson_features_through_root() -> None:
    found = tables_of(realworld.GEOJSON.read_bytes(), root="/features")["data"]

    header, *features = found
    assert header == [
        "type",
        "id",
        "geometry.type",
        "geometry.coordinates",
        "properties.name",
        "properties.elevation_m",
        "properties.opened",
        "properties.operator.name",
        "properties.operator.country",
        "properties.sensors",
    ]
    assert len(features) == 5
    assert features[2][3] == "[[[4.3,52.0],[4.4,52.0],[4.4,52.1],[4.3,52.1],[4.3,52.0]]]"
    assert [feature[6] for feature in features] == [
        "1891-01-01",
        Date("1900-03-01", 61.0, "date"),
        "2023-02-29",
        "1875-06-01T00:00:00+09:00",
        None,
    ]
    assert features[4][2:4] == [None, None]


def test_a_map_of_records_from_vega_datasets() -> None:
    datasets = json.loads(realworld.MAP_OF_RECORDS.read_bytes())

    found = tables_of(realworld.MAP_OF_RECORDS.read_bytes())
    header, *records = found["data"]
    assert header[:3] == ["key", "filename", "format"]
    assert [record[0] for record in records] == list(datasets)
    assert set(header[1:]) == {field for record in datasets.values() for field in record}


def test_a_map_of_records_as_notepad_saves_it_gives_the_same_tables() -> None:
    assert tables_of(realworld.windows_file()) == tables_of(realworld.MAP_OF_RECORDS.read_bytes())


def test_mongoexport_json_lines_with_extended_json() -> None:
    found = tables_of(realworld.MONGOEXPORT.read_bytes(), format="jsonl")

    header = found["data"][0]
    assert header[:2] == ["data row", "_id.$oid"]
    assert header.index("placed.$date") + 1 == header.index("placed.$date.$numberLong")
    assert len(found["data"]) - 1 == len(realworld.MONGOEXPORT.read_bytes().splitlines())
    assert found["items"][0] == ["data row", "sku", "qty", "price", "gift"]


def test_a_log_pipelines_json_lines_with_crlf_and_a_blank_line() -> None:
    header, *entries = tables_of(realworld.JSON_LINES_LOG.read_bytes(), format="jsonl")["data"]

    assert header[:3] == ["ts", "level", "msg"]
    assert len(entries) == 3
    assert [type(entry[0]) for entry in entries] == [Date, Date, str]  # the last one is at +02:00
    assert {
        c.name: c.wrap
        for c in model_of(realworld.JSON_LINES_LOG.read_bytes(), format="jsonl").tables[0].columns
    }["msg"]
