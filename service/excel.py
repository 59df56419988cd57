"""Stream any JSON document into an .xlsx workbook.

The rules (docs: "From JSON to a spreadsheet" in the contract):

- A top-level array gives one record per element on the sheet ``data``; any other top-level value is one
  record. Records are rows; objects are flattened into columns named by their dotted path
  (``address.city``), in first-seen order over all records. A record that is not an object (a scalar, or
  an array inside an array) is written to the column ``value``. Two different paths that print alike
  (the key ``"a.b"`` and the key ``b`` inside ``a``) keep two columns with the same header.
- Arrays are decided per path, over the whole document: if any array at a path holds an object, every
  array at that path becomes rows of a child sheet named after the path (``orders``, ``orders.items``);
  otherwise the array stays whole in one cell as compact JSON text. On a child sheet each element is a
  record like the top-level ones (objects flattened, anything else in ``value``), so arrays mixing objects
  and scalars lose nothing. Child rows begin with a column ``<parent sheet> row`` holding the 1-based
  number of the parent record in its table (counted across the parent's rollover sheets).
- An empty object below the record is the text ``{}``; an empty array is ``[]``.
- Numbers stay numbers, booleans stay booleans, null is an empty cell. Integers with more than 15
  significant digits, and numbers outside the range of a double (``1E400``), are written as text.
- Strings are always inline text, never formulas or error values; characters XML cannot carry (control
  characters, lone surrogates, U+FFFE/U+FFFF) become U+FFFD; text is cut at 32,767 characters. Keys get
  the same treatment when they become headers or sheet names.
- Past ``max_rows`` records a table continues on ``<name> (2)``, ``<name> (3)`` ... with the header
  repeated. More than 16,384 columns on a sheet raises ``NotTabular``.
- Containers nested deeper than ``MAX_DEPTH`` are kept as compact JSON text in the cell of their path.

Two streaming passes over the document (ijson's ``basic_parse`` events, the path tracked here): the first
learns the tables, their columns, row counts and column widths; the second writes the rows through
openpyxl's write-only workbook. Memory holds the column layout and one row per open table, not the data.
"""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import suppress
from decimal import Decimal
from typing import BinaryIO

import ijson
from lxml.etree import xmlfile
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.xml.constants import SHEET_MAIN_NS

from service.errors import NotTabular

MAX_ROWS = 1_048_575
"""Data rows per sheet: Excel's 1,048,576 rows less the header."""
MAX_COLUMNS = 16_384
MAX_CHILD_SHEETS = 250
"""Child tables (paths whose arrays hold objects): each is a sheet, and each sheet an open file while
the workbook is written, so their number is bounded well inside a process's file limit."""
MAX_FIELDS = 50_000
"""Distinct paths in a whole document; bounds the first pass's memory whatever the document's size."""
MAX_DEPTH = 64
"""Containers nested deeper than this stay JSON text, so neither pass recurses without bound."""
MAX_TEXT = 32_767
MAX_SHEET_NAME = 31
VALUE_COLUMN = "value"

EXACT_INTEGERS = 10**15
"""Integers of smaller magnitude have at most 15 significant digits, all of which Excel keeps."""
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH, TEXT_WIDTH = 6, 60, 30

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_PLAIN = re.compile("[^\t\n\x20-%'-;=?-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]").search
"""Finds what ``_text`` would change: characters XML cannot carry, and ``&``, ``<``, ``>``, CR."""
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_EXCEL_ESCAPE = re.compile("(_x[0-9A-Fa-f]{4}_)")
"""Excel reads ``_xHHHH_`` in cell text as the character U+HHHH; ``_x005F`` escapes the underscore."""
_NOT_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_RESERVED_SHEET_NAMES = {"history"}
_BOLD = Font(bold=True)

Events = Iterator[tuple[str, object]]


class _Path:
    """A key path below a table's records and what the first pass saw there."""

    __slots__ = ("children", "column", "has_array", "has_cell", "listed", "name", "table", "width")

    def __init__(self, name: str) -> None:
        self.name = name
        self.children: dict[str, _Path] = {}
        self.table: _Table | None = None
        """The table that arrays at this path feed, kept only if one of them holds an object."""
        self.has_cell = False
        self.has_array = False
        self.listed = False
        self.width = 0
        self.column = -1


class _Table:
    """The records of one sheet family: the top-level ones, or the elements of arrays at one path."""

    def __init__(self, name: str, parent: "_Table | None") -> None:
        self.name = name
        self.parent = parent
        self.paths: dict[str, _Path] = {}
        self.seen: list[_Path] = []
        self.cells = 0
        self.rows = 0
        self.has_objects = parent is None
        self.root: _Table = self if parent is None else parent.root
        self.fields = 0  # on the root: distinct paths listed in the whole document
        self.child_sheets = 0  # on the root: child tables holding objects
        self.columns: list[_Path] = []
        self.sheets: list[WriteOnlyWorksheet] = []
        self.numbered = 0

    def list_path(self, path: _Path) -> None:
        if not path.listed:
            path.listed = True
            self.seen.append(path)
            self.root.fields += 1
            if self.root.fields > MAX_FIELDS:
                raise NotTabular(
                    f"The data has more than {MAX_FIELDS:,} distinct fields; this service exports at most that many."
                )

    def holds_objects(self) -> None:
        """Note that this table's records include an object, so it gets a sheet."""
        if not self.has_objects:
            self.has_objects = True
            self.root.child_sheets += 1
            if self.root.child_sheets > MAX_CHILD_SHEETS:
                raise NotTabular(
                    f"The data needs more than {MAX_CHILD_SHEETS} child sheets (one per path of arrays of "
                    f"objects); this service exports at most {MAX_CHILD_SHEETS}."
                )

    def mark_cell(self, path: _Path) -> None:
        """Note that ``path`` needs a column, failing early once a sheet could not hold them all."""
        path.has_cell = True
        self.list_path(path)
        self.cells += 1
        if self.cells + (self.parent is not None) > MAX_COLUMNS:
            raise _too_many_columns(self.name)

    def lay_out(self) -> None:
        """Fix the columns once the first pass is over; arrays that never held an object become text."""
        first = 0 if self.parent is None else 1
        for path in self.seen:
            if path.table is not None and not path.table.has_objects:
                path.table = None
            if path.has_cell or (path.has_array and path.table is None):
                path.column = first + len(self.columns)
                self.columns.append(path)
        if first + len(self.columns) > MAX_COLUMNS:
            raise _too_many_columns(self.name)

    @property
    def width(self) -> int:
        return len(self.columns) + (self.parent is not None)


def _new_path(node: dict[str, _Path], prefix: str, key: str) -> _Path:
    """A path for ``key`` below ``node``, joined to it."""
    path = node[key] = _Path(prefix + key)
    return path


def _too_many_columns(table: str) -> NotTabular:
    return NotTabular(
        f"The data needs more than {MAX_COLUMNS:,} columns on the sheet {table!r}, "
        f"and Excel's limit is {MAX_COLUMNS:,} columns per sheet."
    )


def write_workbook(
    open_json: Callable[[], BinaryIO], out: BinaryIO, *, max_rows: int = MAX_ROWS, max_depth: int = MAX_DEPTH
) -> None:
    """Write the JSON document that each call of ``open_json()`` streams as an .xlsx workbook to ``out``.

    ``max_rows`` (data rows per sheet) and ``max_depth`` exist so tests can reach the limits cheaply.
    Raises ``NotTabular`` when the data cannot become a workbook.
    """
    try:
        # Floats are much cheaper than Decimals, but yajl refuses doubles out of range (1E400) as floats;
        # only then is the document read again with Decimals, which keep such numbers exactly.
        use_float = True
        try:
            tables = _survey(open_json, max_depth, use_float=True)
        except ijson.JSONError:
            use_float = False
            tables = _survey(open_json, max_depth, use_float=False)
        workbook = Workbook(write_only=True)
        try:
            _create_sheets(workbook, tables, max_rows)
            with open_json() as source:
                _Writer(ijson.basic_parse(source, use_float=use_float), max_rows, max_depth).document(
                    tables[0]
                )
        except BaseException:
            _discard(workbook)
            raise
    except (ijson.JSONError, ValueError) as error:
        # The API validates uploads, so this is a stored object gone bad, or an integer of more than
        # 4,300 digits, which Python refuses to convert.
        raise NotTabular(f"The stored document cannot be read as JSON: {error}") from None
    workbook.save(out)


def _discard(workbook: Workbook) -> None:
    """Close and remove the sheets' temporary files of a workbook that will not be saved (openpyxl
    removes them only on save, or when the process exits)."""
    for sheet in workbook._sheets:
        with suppress(Exception):  # already failing: clean up what can be, hide nothing else
            sheet.close()  # ends the sheet's XML and closes its file, as saving would
            sheet._writer.cleanup()  # deletes the file


def _survey(open_json: Callable[[], BinaryIO], max_depth: int, *, use_float: bool) -> list[_Table]:
    """Run the first pass; the tables that get sheets, the top-level one first."""
    with open_json() as source:
        return _Survey(ijson.basic_parse(source, use_float=use_float), max_depth).document()


class _Survey:
    """The first pass: tables, columns in first-seen order, row counts and sampled column widths."""

    def __init__(self, events: Events, max_depth: int) -> None:
        self.events = events
        self.max_depth = max_depth
        self.tables: list[_Table] = []

    def document(self) -> list[_Table]:
        root = _Table("data", None)
        self.tables.append(root)
        event, value = next(self.events)
        if event == "start_array":
            for event, value in self.events:
                if event == "end_array":
                    break
                self.record(root, event, value, 2)
        else:
            self.record(root, event, value, 1)
        for _ in self.events:  # let the parser check what follows the document
            pass
        # Only tables that received an object get sheets; the others' arrays were scalars, now text.
        tables = [table for table in self.tables if table.has_objects]
        for table in tables:
            table.lay_out()
        return tables

    def record(self, table: _Table, event: str, value: object, depth: int) -> None:
        """Register one record of ``table``; ``depth`` is the nesting a container starting here has."""
        table.rows += 1
        sample = table.rows <= WIDTH_SAMPLE_ROWS
        if event == "start_map" and depth <= self.max_depth:
            table.holds_objects()
            self.object(table, table.paths, "", depth, sample)
            return
        path = table.paths.get(VALUE_COLUMN) or _new_path(table.paths, "", VALUE_COLUMN)
        if not path.has_cell:
            table.mark_cell(path)
        if event in ("start_map", "start_array"):
            self.text(event, path, sample)
        elif sample:
            path.width = max(path.width, _display_width(event, value))

    def object(self, table: _Table, node: dict[str, _Path], prefix: str, depth: int, sample: bool) -> bool:
        """Register the members of an object whose ``start_map`` was just read; False if it is empty."""
        events = self.events
        empty = True
        for event, key in events:
            if event == "end_map":
                break
            empty = False
            path = node.get(key) or _new_path(node, prefix, key)  # type: ignore[arg-type]
            event, value = next(events)
            if event == "start_map" or event == "start_array":
                self.container(table, path, event, depth + 1, sample)
            else:
                if not path.has_cell:
                    table.mark_cell(path)
                if sample:
                    path.width = max(path.width, _display_width(event, value))
        return not empty

    def container(self, table: _Table, path: _Path, event: str, depth: int, sample: bool) -> None:
        if depth > self.max_depth:
            if not path.has_cell:
                table.mark_cell(path)
            self.text(event, path, sample)
        elif event == "start_map":
            if not self.object(table, path.children, path.name + ".", depth, sample) and not path.has_cell:
                table.mark_cell(path)  # an empty object is the text {}
        else:
            path.has_array = True
            table.list_path(path)
            child = path.table
            if child is None:
                name = path.name if table.parent is None else f"{table.name}.{path.name}"
                child = path.table = _Table(name, table)
                self.tables.append(child)
            for event, value in self.events:
                if event == "end_array":
                    break
                self.record(child, event, value, depth + 1)

    def text(self, event: str, path: _Path, sample: bool) -> None:
        """Read past a container written as JSON text, measuring it if the row is sampled."""
        if sample:
            path.width = max(path.width, len(_json_text(self.events, event)))
        else:
            _skip(self.events)


def _display_width(event: str, value: object) -> int:
    if event == "string":
        return len(value)  # type: ignore[arg-type]
    if event == "number":
        return len(str(value))
    return 5


def _skip(events: Events) -> None:
    """Read to the end of the container whose start was just read, without recursion."""
    depth = 1
    for event, _ in events:
        if event == "start_map" or event == "start_array":
            depth += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if depth == 0:
                return


_OPENERS = {"start_map": "{", "start_array": "["}
_CLOSERS = {"end_map": "}", "end_array": "]"}


def _json_text(events: Events, start: str) -> str:
    """Compact JSON text of the container whose ``start`` event was just read, cut at ``MAX_TEXT``.

    Iterative, so any depth is fine; past the limit the events are still read but no longer kept.
    """
    parts = [_OPENERS[start]]
    size = 1
    depth = 1
    comma = False
    for event, value in events:
        closer = _CLOSERS.get(event)
        if closer is not None:
            depth -= 1
            token = closer
            comma = True
        else:
            token = _OPENERS.get(event)
            if token is not None:
                depth += 1
            elif event == "map_key":
                token = json.dumps(value, ensure_ascii=False) + ":"
            else:
                token = _json_scalar(event, value)
            if comma:
                token = "," + token
            comma = event not in ("start_map", "start_array", "map_key")
        if size <= MAX_TEXT:
            parts.append(token)
            size += len(token)
        if depth == 0:
            break
    return "".join(parts)[:MAX_TEXT]


def _json_scalar(event: str, value: object) -> str:
    if event == "string":
        return json.dumps(value, ensure_ascii=False)
    if event == "number":
        return str(value) if isinstance(value, (int, Decimal)) else json.dumps(value)
    if event == "boolean":
        return "true" if value else "false"
    return "null"


def _create_sheets(workbook: Workbook, tables: list[_Table], max_rows: int) -> None:
    """Create every sheet up front, parents first, with header, widths, freeze pane and autofilter.

    Write-only sheets are written in creation order and need their widths and panes before any row.
    """
    taken: set[str] = set()
    for table in tables:
        header = [column.name for column in table.columns]
        if table.parent is not None:
            header.insert(0, f"{table.parent.sheets[0].title} row")
        widths = [_column_width(column) for column in table.columns]
        if table.parent is not None:
            widths.insert(0, len(header[0]) + 2)
        sheet_count = max(1, -(-table.rows // max_rows))
        for index in range(sheet_count):
            title = _unique_sheet_name(table.name if index == 0 else f"{table.name} ({index + 1})", taken)
            sheet = _RowSheet(workbook, title, len(header))
            workbook._add_sheet(sheet)
            for number, width in enumerate(widths, 1):
                sheet.column_dimensions[get_column_letter(number)].width = width
            sheet.freeze_panes = "A2"
            rows = min(max_rows, table.rows - index * max_rows)
            if header:
                sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{rows + 1}"
            sheet.append([_header_cell(sheet, name) for name in header])
            table.sheets.append(sheet)


def _header_cell(sheet: WriteOnlyWorksheet, name: str) -> Cell:
    """A bold header cell that is text whatever the key looks like (``=x`` stays ``=x``)."""
    cell = WriteOnlyCell(sheet, _literal(_clean(name)))
    cell.data_type = "s"
    cell.font = _BOLD
    return cell


def _column_width(path: _Path) -> float:
    width = path.width if path.has_cell else max(path.width, TEXT_WIDTH)
    return min(MAX_WIDTH, max(MIN_WIDTH, len(path.name), width) + 2)


def _unique_sheet_name(name: str, taken: set[str]) -> str:
    """A legal sheet name, unique without regard to case, that is not yet in ``taken`` (which it joins).

    Excel forbids ``[]:*?/\\``, a leading or trailing apostrophe, empty names, "History", and more than
    31 characters; a name that collides after cutting gets `` (2)``, `` (3)`` ... within the limit.
    """
    name = _NOT_XML.sub("\ufffd", _NOT_IN_SHEET_NAME.sub("_", name)).strip("'") or "sheet"
    candidate = name[:MAX_SHEET_NAME].rstrip("'")
    number = 1
    while candidate.casefold() in taken or candidate.casefold() in _RESERVED_SHEET_NAMES:
        number += 1
        suffix = f" ({number})"
        candidate = name[: MAX_SHEET_NAME - len(suffix)].rstrip("'") + suffix
    taken.add(candidate.casefold())
    return candidate


def _clean(text: str) -> str:
    """``text`` cut to Excel's limit, with what XML cannot carry replaced."""
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
    if _NOT_XML.search(text) is not None:
        text = _NOT_XML.sub("\ufffd", text)
    return text


def _literal(text: str) -> str:
    """``text`` as Excel will show it literally: ``_x0041_`` stays ``_x0041_``, not ``A``."""
    return _EXCEL_ESCAPE.sub(r"_x005F\1", text) if "_x" in text else text


def _text(text: str) -> str:
    """``text`` made safe for a data cell: cleaned, then escaped for Excel and XML (``_RowSheet`` inserts
    it as is)."""
    return _literal(_clean(text)).translate(_ESCAPES)


class _SheetWriter(WorksheetWriter):
    """openpyxl's sheet writer, on a file object of its own so that ``_RowSheet`` can add raw XML."""

    def get_stream(self) -> Iterator[object]:
        with (
            open(self.out, "wb") as self.file,
            xmlfile(self.file) as xf,
            xf.element("worksheet", xmlns=SHEET_MAIN_NS),
        ):
            try:
                while True:
                    element = yield
                    if element is True:
                        yield xf
                    elif element is not None:
                        xf.write(element)
            except GeneratorExit:
                pass


class _RowSheet(WriteOnlyWorksheet):
    """A write-only sheet whose data rows are serialised here rather than cell by cell in openpyxl.

    openpyxl's ``append`` costs several microseconds a cell (a Cell object, type inference, one lxml
    context manager per element), more than the whole xlsxwriter export. Here rows become XML text,
    written a batch at a time into the sheet's stream, between openpyxl's own elements. Row 1, the bold
    header, still goes through openpyxl. Data rows hold only ``None``, ``bool``, ``int``, ``float`` and
    ``str`` already made safe and escaped by ``_text``; every ``str`` becomes an inline string, so text
    can never turn into a formula or an error value. Relies on openpyxl's write-only internals
    (``_get_writer``, ``_write_rows``, ``WorksheetWriter.get_stream``), hence the pinned version.
    """

    def __init__(self, parent: Workbook, title: str, columns: int) -> None:
        super().__init__(parent, title)
        self._letters = [get_column_letter(number) for number in range(1, columns + 1)]

    def _get_writer(self) -> None:
        if self._writer is None:
            self._writer = _SheetWriter(self)
            self._writer.write_top()

    def _write_rows(self) -> Iterator[None]:
        try:
            xf = self._writer.xf.send(True)
        except StopIteration:
            self._already_saved()
        with xf.element("sheetData"):
            header = yield
            self._writer.write_row(xf, self._values_to_row(header, 1), 1)
            batch: list[str] = []
            size = 0
            row_number = 2
            try:
                while True:
                    row = _row_xml((yield), str(row_number), self._letters)
                    batch.append(row)
                    size += len(row)
                    row_number += 1
                    if size > _BATCH_CHARACTERS:
                        self._write_batch(xf, batch)
                        size = 0
            except GeneratorExit:
                self._write_batch(xf, batch)
        self._writer.xf.send(None)

    def _write_batch(self, xf: object, batch: list[str]) -> None:
        xf.flush()  # type: ignore[attr-defined]  # what lxml buffered goes first
        self._writer.file.write("".join(batch).encode())
        batch.clear()


_BATCH_CHARACTERS = 1 << 20


def _row_xml(values: list[object], number: str, letters: list[str]) -> str:
    parts = [f'<row r="{number}">']
    for letter, value in zip(letters, values, strict=True):
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""  # type: ignore[index]
            parts.append(f'<c r="{letter}{number}" t="inlineStr"><is><t{space}>{value}</t></is></c>')
        elif kind is bool:
            parts.append(f'<c r="{letter}{number}" t="b"><v>{"1" if value else "0"}</v></c>')
        else:
            parts.append(f'<c r="{letter}{number}"><v>{value!r}</v></c>')
    parts.append("</row>")
    return "".join(parts)


class _Writer:
    """The second pass: every record becomes a row on its table's current sheet."""

    def __init__(self, events: Events, max_rows: int, max_depth: int) -> None:
        self.events = events
        self.max_rows = max_rows
        self.max_depth = max_depth

    def document(self, root: _Table) -> None:
        event, value = next(self.events)
        if event == "start_array":
            for event, value in self.events:
                if event == "end_array":
                    break
                self.record(root, event, value, 2, 0)
        else:
            self.record(root, event, value, 1, 0)

    def record(self, table: _Table, event: str, value: object, depth: int, parent_number: int) -> None:
        """Write one record of ``table`` whose first event was just read."""
        table.numbered += 1
        number = table.numbered
        row: list[object] = [None] * table.width
        if table.parent is not None:
            row[0] = parent_number
        if event == "start_map" and depth <= self.max_depth:
            self.object(table.paths, row, depth, number)
        else:
            row[table.paths[VALUE_COLUMN].column] = self.cell(event, value)
        table.sheets[(number - 1) // self.max_rows].append(row)

    def object(self, node: dict[str, _Path], row: list[object], depth: int, number: int) -> bool:
        """Fill ``row`` from an object whose ``start_map`` was just read; False if it is empty.

        ``number`` is the record's number in its table, the parent of any child rows found here.
        """
        events = self.events
        empty = True
        for event, key in events:
            if event == "end_map":
                break
            empty = False
            path = node[key]  # type: ignore[index]
            event, value = next(events)
            # The common cases inline: plain text of legal length, floats, integers Excel holds exactly.
            if event == "string":
                row[path.column] = (
                    value
                    if _NOT_PLAIN(value) is None and len(value) <= MAX_TEXT and "_x" not in value  # type: ignore[operator]
                    else _text(value)  # type: ignore[arg-type]
                )
            elif event == "number":
                kind = type(value)
                row[path.column] = (
                    value
                    if kind is float or (kind is int and -EXACT_INTEGERS < value < EXACT_INTEGERS)  # type: ignore[operator]
                    else _number(value)  # type: ignore[arg-type]
                )
            elif event == "boolean":
                row[path.column] = value
            elif event == "null":
                pass
            elif depth >= self.max_depth:
                row[path.column] = _text(_json_text(events, event))
            elif event == "start_map":
                if not self.object(path.children, row, depth + 1, number):
                    row[path.column] = "{}"
            elif path.table is None:
                row[path.column] = _text(_json_text(events, event))
            else:
                for event, value in events:
                    if event == "end_array":
                        break
                    self.record(path.table, event, value, depth + 2, number)
        return not empty

    def cell(self, event: str, value: object) -> object:
        """The cell of a record that is not an object."""
        if event == "string":
            return _text(value)  # type: ignore[arg-type]
        if event == "number":
            return value if type(value) is float else _number(value)  # type: ignore[arg-type]
        if event == "start_map" or event == "start_array":
            return _text(_json_text(self.events, event))
        return value


def _number(value: int | Decimal) -> int | float | str:
    """The number itself if Excel holds it exactly enough, else its text (no digit lost)."""
    if type(value) is int:
        if -EXACT_INTEGERS < value < EXACT_INTEGERS:
            return value
        if len(str(abs(value)).rstrip("0")) <= 15 and abs(value) < 1e308:
            return value
        return str(value)
    number = float(value)
    if number in (float("inf"), float("-inf")) or (number == 0 and value != 0):
        return str(value)
    return number
