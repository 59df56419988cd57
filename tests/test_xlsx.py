"""The xlsx writer on hand-built tables: the package xlsxwriter would write for the same cells, every
workbook read back the same by openpyxl, python-calamine and LibreOffice, hostile text kept literal,
rollover, streaming, and temporary files gone whatever happens."""

import io
import os
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter
from lxml import etree
from openpyxl import load_workbook

from service.export.model import Column, Table, TableModel, Value
from service.export.xlsx import MAX_TEXT, column_letter, write_xlsx
from tests.readers import (
    assert_three_readers_show,
    calamine_sheets,
    excel_date,
    expected_sheets,
    libreoffice_sheets,
    openpyxl_sheets,
)

Rows = list[tuple[int, list[Value]]]

HOSTILE_TEXT = [
    "=1+1",
    '=HYPERLINK("http://example.com","click")',
    "+1",
    "-2",
    "@SUM(A1:A2)",
    "\x01control\x1f",
    "lone \ud800 surrogate",
    "\udfff",
    "_x0041_",
    "_x005F_x0041_ and _xZZZZ_",
    "\ufffe\uffff",
    "&<>\"'",
    "  leading",
    "trailing  ",
    "\ttab first",
    "line\nbreak",
    "crlf\r\nend",
    " ",
    "",
    "a" * 40_000,
    "\U0001f600" * 20_000,
    "x" * 16_380 + "\U0001f600" * 10_000,
]
HOSTILE_NUMBERS: list[Value] = [
    10**20 + 1,
    2**64,
    -(10**16) - 1,
    10**20,
    123456789012345,
    -123456789012345,
    1e308,
    -0.0,
    0.1,
    1 / 3,
    Decimal("1E400"),
    Decimal("-1E400"),
    Decimal("1E-400"),
    Decimal("-0"),
    Decimal("0.1"),
    Decimal("12345678901234567890.5"),
    True,
    False,
    None,
]


def table(
    name: str, columns: list[str], rows: int, parent: str | None = None, wrap: tuple[str, ...] = ()
) -> Table:
    return Table(name, parent, rows, tuple(Column(column, 12, column in wrap) for column in columns))


def hostile_case() -> tuple[TableModel, Rows, int]:
    model = TableModel((table("data", ["text", "number"], len(HOSTILE_TEXT), wrap=("text",)),))
    numbers = HOSTILE_NUMBERS + [None] * (len(HOSTILE_TEXT) - len(HOSTILE_NUMBERS))
    return model, [(0, [text, number]) for text, number in zip(HOSTILE_TEXT, numbers, strict=True)], 1_048_575


def dates_case() -> tuple[TableModel, Rows, int]:
    texts = [
        "2025-03-14",
        "1900-03-01",
        "9999-12-31",
        "2025-03-14T15:09:26",
        "2025-03-14 15:09:26.250",
        "2024-02-29T23:59:59.999Z",
    ]
    model = TableModel((table("data", ["when", "as text"], len(texts)),))
    return model, [(0, [excel_date(text), text]) for text in texts], 1_048_575


def rollover_case() -> tuple[TableModel, Rows, int]:
    """Five records with two orders each on sheets of two rows; a child table is named like a rollover
    sheet of the main one, so the rollover names must step around it."""
    model = TableModel(
        (
            table("data", ["data row", "name"], 5),
            table("data (2)", ["data row", "sku"], 10, parent="data"),
            table("empty", ["data row", "x"], 0, parent="data"),
        )
    )
    rows: Rows = []
    for number in range(1, 6):
        rows.append((0, [number, f"record {number}"]))
        rows += [(1, [number, f"sku {number}-{item}"]) for item in (1, 2)]
    return model, rows, 2


def no_columns_case() -> tuple[TableModel, Rows, int]:
    return TableModel((table("data", [], 0),)), [], 1_048_575


CASES = {
    "hostile": hostile_case,
    "dates": dates_case,
    "rollover": rollover_case,
    "no_columns": no_columns_case,
}
CREATED = datetime(2025, 3, 14, 15, 9, 26, tzinfo=timezone.utc)


def write(model: TableModel, rows: Rows, max_rows: int = 1_048_575) -> bytes:
    out = io.BytesIO()
    write_xlsx(model, rows, out, max_rows=max_rows, created=CREATED)
    return out.getvalue()


@pytest.fixture(scope="module")
def workbooks() -> dict[str, bytes]:
    return {name: write(*case()) for name, case in CASES.items()}


@pytest.fixture(scope="module")
def libreoffice(workbooks: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return libreoffice_sheets(workbooks, tmp_path_factory.mktemp("libreoffice"))


@pytest.mark.parametrize("case", CASES)
def test_three_readers_show_every_cell_as_it_was_given(
    case: str, workbooks: dict[str, bytes], libreoffice: dict
) -> None:
    model, rows, max_rows = CASES[case]()
    assert_three_readers_show(expected_sheets(model, rows, max_rows), workbooks[case], libreoffice[case])


def test_rollover_continues_each_table_on_numbered_sheets_with_the_header_repeated(
    workbooks: dict[str, bytes],
) -> None:
    sheets = openpyxl_sheets(workbooks["rollover"])
    assert [name for name, _ in sheets] == [
        "data",
        "data (3)",
        "data (4)",
        "data (2)",
        "data (2) (2)",
        "data (2) (3)",
        "data (2) (4)",
        "data (2) (5)",
        "empty",
    ]
    assert [rows[0] for _, rows in sheets] == [["data row", "name"]] * 3 + [["data row", "sku"]] * 5 + [
        ["data row", "x"]
    ]
    assert [rows[1:] for name, rows in sheets if name.startswith("data (2)")][-1] == [
        [5, "sku 5-1"],
        [5, "sku 5-2"],
    ]
    book = load_workbook(io.BytesIO(workbooks["rollover"]))
    assert [book[name].auto_filter.ref for name in ("data", "data (4)", "empty")] == [
        "A1:B3",
        "A1:B2",
        "A1:B1",
    ]


def test_header_is_bold_frozen_and_filtered_with_the_widths_dates_and_wrapping_of_its_columns(
    workbooks: dict[str, bytes],
) -> None:
    book = load_workbook(io.BytesIO(workbooks["hostile"]))
    sheet = book["data"]
    assert [cell.font.bold for cell in sheet[1]] == [True, True]
    assert not any(cell.font.bold for cell in sheet[2])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:B{len(HOSTILE_TEXT) + 1}"
    assert sheet.column_dimensions["A"].width == pytest.approx(12.7109375)
    assert sheet["A2"].alignment.wrap_text and not sheet["B2"].alignment.wrap_text
    assert all(cell.data_type == "s" for cell in sheet["A"][1:] if cell.value is not None)  # never a formula
    dates = load_workbook(io.BytesIO(workbooks["dates"]))["data"]
    assert [dates[f"A{row}"].number_format for row in (2, 5, 6)] == [
        "yyyy-mm-dd",
        "yyyy-mm-dd hh:mm:ss",
        "yyyy-mm-dd hh:mm:ss.000",
    ]


def test_text_is_cut_at_excels_limit_in_utf16_units_and_an_astral_character_is_never_split(
    workbooks: dict[str, bytes],
) -> None:
    rows = dict(calamine_sheets(workbooks["hostile"]))["data"]
    lengths = {
        text[:1]: len(text.encode("utf-16-le")) // 2
        for text, _ in rows[1:]
        if isinstance(text, str) and len(text) > 10_000
    }
    assert lengths == {"a": MAX_TEXT, "\U0001f600": MAX_TEXT - 1, "x": MAX_TEXT - 1}


# The comparison with xlsxwriter: same parts, content types, relationships, and the same elements and
# attributes, in the same order, in every sheet and in the styles.


def xlsxwriter_twin(model: TableModel, rows: Rows, names: list[str], max_rows: int) -> bytes:
    """The same cells written by xlsxwriter (constant memory, inline strings), sheet names given."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    book.set_properties({"created": CREATED.replace(tzinfo=None)})
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True})
    formats = {
        style: book.add_format({"num_format": code})
        for style, code in [
            ("date", "yyyy-mm-dd"),
            ("datetime", "yyyy-mm-dd hh:mm:ss"),
            ("datetime_ms", "yyyy-mm-dd hh:mm:ss.000"),
        ]
    }
    sheets = iter(names)
    by_table: list[list[list[Value]]] = [[] for _ in model.tables]
    for index, values in rows:
        by_table[index].append(values)
    for table_model, table_rows in zip(model.tables, by_table, strict=True):
        for start in range(0, max(len(table_rows), 1), max_rows):
            chunk = table_rows[start : start + max_rows]
            sheet = book.add_worksheet(next(sheets))
            for number, column in enumerate(table_model.columns):
                sheet.set_column(number, number, column.width)
                sheet.write_string(0, number, column.name, bold)
            sheet.freeze_panes(1, 0)
            sheet.autofilter(0, 0, len(chunk), len(table_model.columns) - 1)
            for row, values in enumerate(chunk, 1):
                for number, value in enumerate(values):
                    if isinstance(value, str):
                        sheet.write_string(
                            row, number, value, wrap if table_model.columns[number].wrap else None
                        )
                    elif isinstance(value, bool):
                        sheet.write_boolean(row, number, value)
                    elif isinstance(value, (int, float)):
                        sheet.write_number(row, number, value)
                    elif value is not None:
                        sheet.write_number(row, number, value.serial, formats[value.style])  # type: ignore[union-attr]
    book.close()
    return out.getvalue()


def comparison_case() -> tuple[TableModel, Rows, int]:
    """Cells of every kind, each format first used in the order xlsxwriter numbers them, a column
    without a name and an empty text (both empty text cells, as xlsxwriter writes them)."""
    columns = ["note", "day", "moment", "exact", "count", "ratio", "flag", "plain", "data row", ""]
    main = table("data", columns, 3, wrap=("note",))
    child = table("items", ["data row", "sku"], 2, parent="data")
    rows: Rows = [
        (
            0,
            [
                "two\nlines",
                excel_date("2025-03-14"),
                excel_date("2025-03-14T15:09:26"),
                excel_date("2025-03-14T15:09:26.250"),
                42,
                0.5,
                True,
                " spaced ",
                1,
                "",
            ],
        ),
        (1, [1, "a & b"]),
        (0, ["_x0041_", None, None, None, -7, 1e300, False, "<tag>", 2, "z"]),
        (0, ["x", None, None, None, None, None, None, "y", 3, None]),
        (1, [3, "c"]),
    ]
    return TableModel((main, child)), rows, 2


def parts(workbook: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def structure(xml: bytes) -> list[tuple[str, list[tuple[str, str]], str | None]]:
    """Every element in document order: its tag, its attributes in order, its text but for numbers."""
    return [
        (
            element.tag,
            list(element.attrib.items()),
            None if etree.QName(element).localname == "v" else element.text,
        )
        for element in etree.fromstring(xml).iter()
    ]


def numbers(xml: bytes) -> list[float]:
    return [float(v.text) for v in etree.fromstring(xml).iter("{*}v")]


def content_types(xml: bytes) -> set[tuple[str, str]]:
    return {
        (element.get("Extension") or element.get("PartName"), element.get("ContentType"))
        for element in etree.fromstring(xml)
    }


def relationships(xml: bytes) -> set[tuple[str, str]]:
    return {(element.get("Type"), element.get("Target")) for element in etree.fromstring(xml)}


def test_parts_and_sheets_are_what_xlsxwriter_writes_for_the_same_cells() -> None:
    model, rows, max_rows = comparison_case()
    ours = parts(write(model, rows, max_rows))
    names = [name for name, _ in openpyxl_sheets(write(model, rows, max_rows))]
    theirs = parts(xlsxwriter_twin(model, rows, names, max_rows))
    theme = "xl/theme/theme1.xml"
    assert set(ours) == set(theirs) - {theme}
    assert content_types(ours["[Content_Types].xml"]) == content_types(theirs["[Content_Types].xml"]) - {
        (f"/{theme}", "application/vnd.openxmlformats-officedocument.theme+xml")
    }
    assert relationships(ours["_rels/.rels"]) == relationships(theirs["_rels/.rels"])
    assert relationships(ours["xl/_rels/workbook.xml.rels"]) == relationships(
        theirs["xl/_rels/workbook.xml.rels"]
    ) - {("http://schemas.openxmlformats.org/officeDocument/2006/relationships/theme", "theme/theme1.xml")}
    sheets = [name for name in ours if name.startswith("xl/worksheets/")]
    assert len(sheets) == 3  # data, its rollover sheet, items
    for name in sheets:
        assert structure(ours[name]) == structure(theirs[name]), name
        assert numbers(ours[name]) == numbers(theirs[name]), name
    for name in ("docProps/app.xml", "docProps/core.xml"):
        assert structure(ours[name]) == structure(theirs[name]), name


def test_workbook_and_styles_match_xlsxwriter_but_for_the_theme_and_quoted_sheet_names() -> None:
    model, rows, max_rows = comparison_case()
    ours = parts(write(model, rows, max_rows))
    theirs = parts(
        xlsxwriter_twin(
            model, rows, [name for name, _ in openpyxl_sheets(write(model, rows, max_rows))], max_rows
        )
    )

    def sheets_and_filters(xml: bytes) -> tuple[list, set]:
        root = etree.fromstring(xml)
        sheets = [list(sheet.attrib.items()) for sheet in root.iter("{*}sheet")]
        filters = {
            (tuple(name.attrib.items()), name.text.replace("'", "")) for name in root.iter("{*}definedName")
        }
        return sheets, filters

    assert sheets_and_filters(ours["xl/workbook.xml"]) == sheets_and_filters(theirs["xl/workbook.xml"])

    def without_theme_fonts(xml: bytes) -> list:
        return [item for item in structure(xml) if not item[0].endswith(("}color", "}scheme"))]

    assert without_theme_fonts(ours["xl/styles.xml"]) == without_theme_fonts(theirs["xl/styles.xml"])


def test_column_letters_run_from_a_to_xfd() -> None:
    assert [column_letter(number) for number in (1, 26, 27, 52, 53, 702, 703, 16_384)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
        "XFD",
    ]


# Streaming, and what is left behind when an export stops half way.


class CountingRows:
    """Rows of one long table, counting how many the writer has taken."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.taken = 0

    def __iter__(self) -> Iterator[tuple[int, list[Value]]]:
        for number in range(self.count):
            self.taken += 1
            yield 0, [number, f"row {number} " + "text " * 20, number / 7]


def test_the_sink_receives_the_sheet_while_rows_are_still_coming() -> None:
    rows = CountingRows(20_000)
    taken_at_each_write: list[int] = []

    class Sink:
        def write(self, data: bytes) -> None:
            taken_at_each_write.append(rows.taken)

    write_xlsx(TableModel((table("data", ["n", "text", "ratio"], rows.count),)), rows, Sink())
    before_the_end = [taken for taken in taken_at_each_write if 0 < taken < rows.count]
    # Compressed sheet data left with the rows, not after them (the compressor emits every ~1 MB of XML).
    assert len(before_the_end) >= 3
    assert before_the_end[0] < rows.count / 3


def open_temporary_files(folder: Path) -> list[str]:
    """What this process holds open under ``folder`` (anonymous temporary files show as deleted)."""
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return [link for link in links if link.startswith(str(folder))]


def child_rows(count: int, error: BaseException | None = None) -> Iterator[tuple[int, list[Value]]]:
    """Records with a row in each of two child tables; ``error`` is raised after the last, if given."""
    for number in range(1, count + 1):
        yield 0, [number]
        yield 1, [number, "child " * 10]
        yield 2, [number, "grandchild " * 10]
    if error is not None:
        raise error


def spooling_model(rows: int) -> TableModel:
    return TableModel(
        (
            table("data", ["data row"], rows),
            table("a", ["data row", "x"], rows, "data"),
            table("b", ["data row", "y"], rows, "data"),
        )
    )


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see open files")
@pytest.mark.parametrize("error", [ValueError("the rows broke"), GeneratorExit(), KeyboardInterrupt()])
def test_temporary_files_are_gone_when_the_rows_fail(
    error: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert open_temporary_files(tmp_path) == []
    opened_during: list[list[str]] = []

    def rows() -> Iterator[tuple[int, list[Value]]]:
        for item in child_rows(1000, error):
            if item[1][0] == 999:
                opened_during.append(open_temporary_files(tmp_path))
            yield item

    with pytest.raises(type(error)):
        write_xlsx(spooling_model(2000), rows(), io.BytesIO())
    assert len(opened_during[0]) == 2  # one spool per child table while the export ran
    assert open_temporary_files(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see open files")
@pytest.mark.parametrize("failing_write", [1, 4, 6])
def test_temporary_files_are_gone_when_the_sink_fails_after_the_rows(
    failing_write: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that goes away while the main sheet ends (1) or the spooled sheets are copied in."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    writes_after_the_rows = 0
    rows_done = False

    class DisconnectingSink:
        def write(self, data: bytes) -> None:
            nonlocal writes_after_the_rows
            if rows_done:
                writes_after_the_rows += 1
                if writes_after_the_rows == failing_write:
                    raise BrokenPipeError("the client went away")

    def rows() -> Iterator[tuple[int, list[Value]]]:
        nonlocal rows_done
        yield from child_rows(3000)
        assert len(open_temporary_files(tmp_path)) == 2
        rows_done = True

    with pytest.raises(BrokenPipeError):
        write_xlsx(spooling_model(3000), rows(), DisconnectingSink())
    assert open_temporary_files(tmp_path) == []


def test_more_rows_than_the_survey_counted_is_an_error_of_ours_not_a_bad_file() -> None:
    with pytest.raises(RuntimeError, match="more rows than its survey counted"):
        write(TableModel((table("data", ["n"], 2),)), [(0, [1]), (0, [2]), (0, [3])], 2)


def test_an_empty_workbook_is_one_empty_sheet_with_no_filter(workbooks: dict[str, bytes]) -> None:
    sheet = load_workbook(io.BytesIO(workbooks["no_columns"]))["data"]
    assert sheet.auto_filter.ref is None
    assert sheet.max_row == 1
