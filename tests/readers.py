"""Three independent readers of a workbook, and what each should show for the values a writer was given.

openpyxl (Python), python-calamine (Rust) and LibreOffice headless (C++, converting every sheet to CSV)
share no code, so a workbook all three read as expected is not an accident of one parser. LibreOffice
is slow to start, so ``libreoffice_sheets`` converts many workbooks in one run.
"""

import csv
import io
import math
import re
import subprocess
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import python_calamine
from openpyxl import load_workbook

from service.export.model import Date, TableModel, Value

Sheets = list[tuple[str, list[list[object]]]]
"""Each sheet's name and rows, in workbook order."""

MAX_TEXT = 32_767
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_EXCEL_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")
"""Excel's escape of a character in cell text, decoded left to right as Excel does."""
_EPOCH = datetime(1899, 12, 30)
_DATE_FORMATS = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%d %H:%M:%S", "datetime_ms": "%Y-%m-%d %H:%M:%S.%f"}


def excel_date(text: str) -> Date:
    """A ``Date`` for an ISO 8601 date or UTC date-time, computed here independently of the engine."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    style = "date" if len(text) == 10 else "datetime_ms" if "." in text else "datetime"
    return Date(text, (moment - _EPOCH) / timedelta(days=1), style)


class Shown:
    """A date as a reader should show it: the moment, and the text of its number format."""

    def __init__(self, value: Date) -> None:
        # To the millisecond, as spreadsheets show it: a day's float cannot hold 9999-12-31's .999 exactly.
        self.moment = _EPOCH + timedelta(milliseconds=round(value.serial * 86_400_000))
        text = self.moment.strftime(_DATE_FORMATS[value.style])
        self.text = text[:-3] if value.style == "datetime_ms" else text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other == self.text
        if isinstance(other, date) and not isinstance(other, datetime):
            other = datetime(other.year, other.month, other.day)
        return isinstance(other, datetime) and abs(other - self.moment) < timedelta(milliseconds=1)

    def __repr__(self) -> str:
        return f"Shown({self.text!r})"


class Boolean:
    """A boolean as a reader should show it: a bool, or LibreOffice's ``TRUE``/``FALSE`` (never 1 or 0,
    which Python's ``True == 1`` would let through)."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return other is self.value or other == ("TRUE" if self.value else "FALSE")

    def __repr__(self) -> str:
        return f"Boolean({self.value!r})"


class Number:
    """A number as a reader should show it: equal to within the 15 digits Excel shows (LibreOffice's
    CSV prints no more), whether the reader gives a float, an int or text."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, bool):
            return False
        if isinstance(other, str):
            try:
                other = float(other)
            except ValueError:
                return False
        return isinstance(other, (int, float)) and math.isclose(other, self.value, rel_tol=1e-14, abs_tol=0)

    def __repr__(self) -> str:
        return f"Number({self.value!r})"


def cut(text: str) -> str:
    """Text as the workbook holds it: what XML cannot carry replaced, within Excel's UTF-16 limit."""
    text = _NOT_XML.sub("\ufffd", text)
    units = 0
    for index, character in enumerate(text):
        units += 2 if character > "\uffff" else 1
        if units > MAX_TEXT:
            return text[:index]
    return text


def shown(value: Value) -> object:
    """What every reader should show for a value given to the writer: text, ``Number``, ``Boolean``,
    ``Shown`` or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return Boolean(value)
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, Date):
        return Shown(value)
    if isinstance(value, int):
        fits = len(str(abs(value)).rstrip("0")) <= 15 and abs(value) < 1e308
        return Number(float(value)) if fits else str(value)
    number = float(value)
    if math.isinf(number) or (number == 0 and value != 0):
        return str(value)
    return Number(number)


def expected_sheets(
    model: TableModel, rows: Iterable[tuple[int, list[Value]]], max_rows: int
) -> list[list[list[object]]]:
    """Each sheet's rows as the readers should show them, in workbook order (names are checked apart)."""
    by_table: list[list[list[Value]]] = [[] for _ in model.tables]
    for index, values in rows:
        by_table[index].append(values)
    sheets = []
    for table, table_rows in zip(model.tables, by_table, strict=True):
        header = [shown(column.name) for column in table.columns]
        for start in range(0, max(len(table_rows), 1), max_rows):
            sheets.append(
                [header] + [[shown(value) for value in row] for row in table_rows[start : start + max_rows]]
            )
    return sheets


def openpyxl_sheets(workbook: bytes) -> Sheets:
    book = load_workbook(io.BytesIO(workbook))
    return [
        (sheet.title, [[_openpyxl_value(cell) for cell in row] for row in sheet.iter_rows(values_only=True)])
        for sheet in book
    ]


def _openpyxl_value(value: object) -> object:
    if isinstance(value, str):
        return _EXCEL_ESCAPE.sub(lambda match: chr(int(match[1], 16)), value) or None  # openpyxl leaves them
    return value


def calamine_sheets(workbook: bytes) -> Sheets:
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(workbook))
    return [
        (
            name,
            [
                [None if cell == "" else cell for cell in row]
                for row in book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            ],
        )
        for name in book.sheet_names
    ]


def libreoffice_sheets(workbooks: dict[str, bytes], folder: Path) -> dict[str, dict[str, list[list[object]]]]:
    """Each workbook's sheets as LibreOffice shows them (CSV of the cells' shown text), from one run."""
    stems = {name: f"book{number}" for number, name in enumerate(workbooks)}  # "<stem>-<sheet>.csv" apart
    for name, data in workbooks.items():
        (folder / f"{stems[name]}.xlsx").write_bytes(data)
    out = folder / "csv"
    # Every sheet to its own file (the last option, -1), UTF-8 (76), values as shown (true).
    options = "44,34,76,1,,0,false,true,true,false,false,-1"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{folder / 'profile'}",
            "--headless",
            "--convert-to",
            f"csv:Text - txt - csv (StarCalc):{options}",
            "--outdir",
            str(out),
            *(str(folder / f"{stem}.xlsx") for stem in stems.values()),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    result: dict[str, dict[str, list[list[object]]]] = {}
    for name, stem in stems.items():
        result[name] = {}
        for path in out.glob(f"{stem}-*.csv"):
            sheet = path.name[len(stem) + 1 : -len(".csv")]
            rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
            result[name][sheet] = [[cell or None for cell in row] for row in rows]
    return result


def trimmed(rows: list[list[object]]) -> list[list[object]]:
    """Rows without trailing empty cells, and without trailing empty rows: readers differ only there."""
    rows = [list(row) for row in rows]
    for row in rows:
        while row and row[-1] is None:
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


_LINE_BREAK = re.compile("\r\n|\n\r|\r")


def as_libreoffice_keeps_lines(rows: list[list[object]]) -> list[list[object]]:
    """The rows with every line break as LF: LibreOffice keeps a cell's lines as paragraphs, taking
    CRLF, LFCR and CR each for one break, and writes them back with LF (openpyxl and calamine show the
    CR, so the workbook does hold it)."""
    return [[_LINE_BREAK.sub("\n", cell) if isinstance(cell, str) else cell for cell in row] for row in rows]


def assert_shows(expected: list[list[object]], actual: list[list[object]], reader: str) -> None:
    expected, actual = trimmed(expected), trimmed(actual)
    assert len(actual) == len(expected), f"{reader}: {len(actual)} rows, expected {len(expected)}"
    for number, (want, got) in enumerate(zip(expected, actual, strict=True), 1):
        assert got == want, f"{reader}, row {number}: {got!r} != {want!r}"


def assert_three_readers_show(
    expected: list[list[list[object]]], workbook: bytes, by_libreoffice: dict
) -> None:
    """openpyxl, calamine and LibreOffice (``by_libreoffice``: ``libreoffice_sheets``' entry for this
    workbook) all show the same sheets, each with the ``expected`` rows."""
    by_openpyxl = openpyxl_sheets(workbook)
    by_calamine = calamine_sheets(workbook)
    names = [name for name, _ in by_openpyxl]
    assert [name for name, _ in by_calamine] == names
    assert sorted(by_libreoffice) == sorted(names)
    assert len(names) == len(expected)
    for (name, opened), (_, calamined), want in zip(by_openpyxl, by_calamine, expected, strict=True):
        assert_shows(want, opened, f"openpyxl {name}")
        assert_shows(want, calamined, f"calamine {name}")
        assert_shows(as_libreoffice_keeps_lines(want), by_libreoffice[name], f"LibreOffice {name}")
