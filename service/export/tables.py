"""The survey pass and the row pass: a JSON document read as tables.

The rules (the contract's "From JSON to a spreadsheet"), each decided in one place here:

- Records. ``root`` (a JSON Pointer, JSON only) names the value that holds the records; by default
  the whole document. In that value an array gives one record per element; an object with at least
  one member, all of whose members are objects (a map of records, ``{"alice": {...}, "bob": {...}}``),
  gives one record per member, the member's name in a first column ``key``; any other value is one
  record. JSON Lines gives one record per line, whatever the line holds. (``_records``; the survey
  takes an object for a map until a member that is not an object says otherwise, and then reads
  the document again as one record, which costs only one more open when the first member says so,
  as in ``{"count": 3, "results": [...]}``.) A UTF-8 byte-order mark at the start is skipped.
- Columns. A record that is an object is flattened into columns named by their dotted path
  (``address.city``). The columns of one object stay together, in first-seen order, where that
  object was first seen: a field first met in a later record joins its object's columns, not the
  end. A record that is not an object goes to the column ``value``. Two different paths that print
  alike (the key ``"a.b"`` and the key ``b`` inside ``a``) keep two columns with the same header.
  A path that is null in some records and an object (or an array of records) in others has no
  column of its own: its nulls are empty cells in its sub-columns. (``_Path.needs_column``,
  ``_Table.lay_out``.)
- Arrays are decided per path, over the whole document: if any array at a path holds an object,
  every array at that path becomes records of a child table named after the path (``orders``,
  ``orders.items``); otherwise the array stays whole in one cell as compact JSON text. A child
  table's records follow the same rules as the top-level ones, so arrays mixing objects and scalars
  lose nothing.
- Join columns. A table with child tables has a column ``<table> row`` holding each record's
  1-based number in it; each child row begins with its parent's ``<parent table> row``, the same
  header, so the two join on it. A table's columns begin with its parent column, then ``key`` (on
  a map of records), then its own number column (``_Table.model``).
- Values. Numbers, booleans and strings are given as read, null as None; a string that
  ``dates.to_date`` accepts is a ``Date`` (unless the row pass is asked for text, as CSV is). An
  empty object below the record is the text ``{}``, an empty array ``[]``. Containers nested deeper
  than ``max_depth`` are kept as compact JSON text in the cell of their path. Cutting text to a format's limit and escaping it is the writers' job.
- Column widths and wrapping come from the first ``WIDTH_SAMPLE_ROWS`` records of each table: a
  column wraps when a sampled value breaks lines.

Limits, all decided by the survey so that nothing fails once a writer has begun: at most
``MAX_COLUMNS`` columns per table, ``MAX_FIELDS`` distinct paths in a document and
``MAX_CHILD_TABLES`` child tables (``NotTabular``, 422).

Both passes read ijson's ``basic_parse`` events and track the path themselves: ``parse`` builds a
path string per event, which costs more than the rest of the work. The survey reads numbers as
doubles, which is much cheaper than Decimals; only when yajl refuses a number as a double (``1E400``)
is the document read again with Decimals, and the row pass then reads it the same way. The survey's
findings the row pass needs (which key goes to which column or child table) travel in
``TableModel.reading``, plain JSON, so a model cached in the bucket is enough to read the rows.
"""

import sys
from collections.abc import Callable, Collection, Iterator
from decimal import Decimal, InvalidOperation
from json import dumps
from typing import Any, BinaryIO

import ijson

from service.errors import BadRequest, NotTabular

from . import dates, pointer
from .model import FORMATS, MAIN_TABLE, Column, Date, Table, TableModel, Value, unique_sheet_name

MAX_COLUMNS = 16_384
"""Excel's columns per sheet; CSV tables keep the same limit so both formats give the same tables."""
MAX_CHILD_TABLES = 250
"""Child tables (paths whose arrays hold objects): the xlsx writer buffers each in a file of its own
while it writes, so their number is bounded well inside a process's file limit."""
MAX_FIELDS = 50_000
"""Distinct paths in a whole document; bounds the survey's memory whatever the document's size."""
MAX_DEPTH = 64
"""Containers nested deeper than this stay JSON text, so neither pass recurses without bound."""
READ_SIZE = 16 * 1024
"""Bytes the parser reads at a time. ijson's C backend makes the Python objects of every event in a
read before yielding the first, so a smaller read keeps them in the CPU's cache: on the bench files
16 KB parses about a quarter faster than ijson's default 64 KB, and 4-8 KB no faster again."""
VALUE_COLUMN = "value"
KEY_COLUMN = "key"
_SHORTEST_DATE = len("2025-03-14")

WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH, TEXT_WIDTH = 6, 60, 30
WIDTH_TEXT = 32_767
"""Containers kept as text are measured up to this many characters (Excel's cell limit)."""

Events = Iterator[tuple[str, Any]]
Row = tuple[int, list[Value]]


def survey(
    open_document: Callable[[], BinaryIO], *, format: str = "json", root: str = "", max_depth: int = MAX_DEPTH
) -> TableModel:
    """The tables the document that each call of ``open_document()`` streams becomes.

    ``format`` is ``"json"`` or ``"jsonl"``; ``root`` a JSON Pointer to the value that holds the
    records (JSON only). Raises ``BadRequest`` for a malformed ``root`` or one given for JSON Lines,
    and ``NotTabular`` when ``root`` points at nothing or the data cannot become tables within the
    limits, or cannot be read.
    """
    tokens = _tokens(format, root)
    try:
        try:
            return _survey(open_document, format, root, tokens, max_depth, use_float=True)
        except ijson.JSONError:
            return _survey(open_document, format, root, tokens, max_depth, use_float=False)
    except (ijson.JSONError, InvalidOperation) as error:
        # The API validates uploads, so this is a stored object gone bad (or stored before uploads
        # had to read exactly: Decimal refuses 1e-99999999999999999999). Only the parsers' own
        # errors are the data's fault: anything else is a bug here and must not blame the data.
        reason = error if isinstance(error, ijson.JSONError) else "a number out of range"
        raise NotTabular(f"The stored document cannot be read as JSON: {reason}") from None


def rows(
    open_document: Callable[[], BinaryIO],
    model: TableModel,
    *,
    exact: bool = False,
    detect_dates: bool = True,
    tables: Collection[str] | None = None,
    limit: int | None = None,
) -> Iterator[Row]:
    """The rows of the document as ``(index into model.tables, values)``, one value per column.

    Each table's rows come in document order; a record's row comes when the record ends, so after
    the rows of any child records it holds. ``exact`` reads numbers as ``int`` and ``Decimal``
    (every digit kept) instead of doubles. ``detect_dates=False`` gives every string as ``str``,
    dates too, for a format that writes dates as their text anyway (CSV): the date rule costs a few
    microseconds per date. ``tables`` names the only tables wanted, and ``limit`` stops the reading
    once each of them has that many rows.
    """
    reading = model.reading
    layout = [_RowTable(index, saved) for index, saved in enumerate(reading["tables"])]
    for table in layout:
        table.link(layout)
    tokens = _tokens(model.format, model.root)
    with open_document() as source:
        events = _events(source, model.format, tokens, use_float=not exact and reading["use_float"])
        records = _records(next(events), events, reading["mode"])
        produced = _row_pass(events, records, layout, reading["max_depth"], detect_dates)
        if tables is None and limit is None:
            yield from produced
        else:
            yield from _selected(produced, model, tables, limit)


def _selected(
    produced: Iterator[Row], model: TableModel, tables: Collection[str] | None, limit: int | None
) -> Iterator[Row]:
    """The rows of ``tables`` (all when None), until each has ``limit`` rows or has none left."""
    wanted = {
        index: table.rows if limit is None else min(limit, table.rows)
        for index, table in enumerate(model.tables)
        if tables is None or table.name in tables
    }
    left = sum(wanted.values())
    if left == 0:
        return
    for index, values in produced:
        if wanted.get(index, 0) > 0:
            wanted[index] -= 1
            yield index, values
            left -= 1
            if left == 0:
                return


# Reading the document ------------------------------------------------------------------------------


def _tokens(format: str, root: str) -> list[str]:
    """``root``'s reference tokens, once it is known to make sense for ``format``."""
    if format not in FORMATS:
        raise ValueError(f"unknown dataset format {format!r}")
    if format == "jsonl" and root:
        raise BadRequest(
            f"root {root!r} cannot apply to a JSON Lines dataset: its records are its lines, so leave root out."
        )
    return pointer.parse(root)


def _events(source: BinaryIO, format: str, tokens: list[str], *, use_float: bool) -> Events:
    """The parser's events of the value ``tokens`` names (or of each line of JSON Lines)."""
    parsed = ijson.basic_parse(
        _AfterBOM(source), buf_size=READ_SIZE, use_float=use_float, multiple_values=format == "jsonl"
    )
    return pointer.select(parsed, tokens)


_BOM = b"\xef\xbb\xbf"


class _AfterBOM:
    """A stream read from its start, less a UTF-8 byte-order mark there: RFC 8259 lets a parser
    ignore one, and Windows tools write it. The stored bytes keep it."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        head = b""
        while len(head) < len(_BOM) and (more := source.read(len(_BOM) - len(head))):
            head += more
        self.head = b"" if head == _BOM else head

    def read(self, size: int = -1) -> bytes:
        if self.head and size != 0:  # ijson reads 0 bytes first to learn the stream's type
            head, self.head = self.head, b""
            return head
        return self.source.read(size)


Record = tuple[str, Any, int, str | None]
"""A record's first event and value, the depth a container starting there has, and its key in a
map of records (None elsewhere)."""


def _mode(first: tuple[str, Any], format: str) -> str:
    """How the records are found, from the first event of the value that holds them: a map of
    records is only a guess here, which ``_records`` abandons (``_NotAMap``) on a member that is
    not an object."""
    if format == "jsonl":
        return "lines"
    return {"start_array": "array", "start_map": "map"}.get(first[0], "record")


class _NotAMap(Exception):
    """The top-level object has a member that is not an object, or none: it is one record."""


def _records(first: tuple[str, Any], events: Events, mode: str) -> Iterator[Record]:
    """Each record, as the rules for the top-level value say: the elements of an array, the members
    of a map of records, each line of JSON Lines, or the value itself.

    ``first`` is the value's first event, already read from ``events``. The caller reads the rest of
    each record before asking for the next one.
    """
    if mode == "array":
        for event, value in events:
            if event == "end_array":
                return
            yield event, value, 2, None
    elif mode == "map":
        members = 0
        for event, key in events:
            if event == "end_map":
                break
            event, value = next(events)
            if event != "start_map":
                raise _NotAMap
            members += 1
            yield event, value, 2, key
        if not members:
            raise _NotAMap
    elif mode == "lines":
        yield (*first, 1, None)
        for event, value in events:
            yield event, value, 1, None
    else:
        yield (*first, 1, None)


# The survey ----------------------------------------------------------------------------------------


class _Path:
    """A key path below a table's records and what the survey saw there."""

    __slots__ = (
        "children",
        "column",
        "has_array",
        "has_cell",
        "has_null",
        "listed",
        "name",
        "table",
        "width",
        "wrap",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.children: dict[str, _Path] = {}
        self.table: _Table | None = None
        """The table that arrays at this path feed, kept only if one of them holds an object."""
        self.has_cell = False  # held a value other than null: a scalar, or a container kept as text
        self.has_null = False
        self.has_array = False
        self.listed = False
        self.width = 0
        self.wrap = False
        self.column = -1

    def sample(self, event: str, value: Any) -> None:
        """Take a sampled scalar's measure: its width, and whether it breaks lines."""
        if event == "string":
            self.width = max(self.width, len(value))
            if "\n" in value or "\r" in value:
                self.wrap = True
        else:
            self.width = max(self.width, len(str(value)) if event == "number" else 5)

    def needs_column(self) -> bool:
        """Whether this path has a column of its own. An array is text unless it holds records;
        a path that is null where it is not an object (or an array of records) needs none, its
        nulls being empty cells in its sub-columns (or no child rows)."""
        if self.has_cell or (self.has_array and self.table is None):
            return True
        return self.has_null and not self.children and self.table is None

    def column_model(self) -> Column:
        width = self.width if self.has_cell else max(self.width, TEXT_WIDTH)
        return Column(self.name, min(MAX_WIDTH, max(MIN_WIDTH, len(self.name), width) + 2), self.wrap)

    def saved(self) -> list[Any]:
        """What the row pass needs of this path: ``[column, child table index or -1, children]``."""
        table = -1 if self.table is None else self.table.index
        return [self.column, table, {key: path.saved() for key, path in self.children.items()}]


class _Table:
    """The records of one table: the top-level ones, or the elements of arrays at one path."""

    def __init__(self, name: str, parent: "_Table | None") -> None:
        self.name = name
        self.parent = parent
        self.paths: dict[str, _Path] = {}
        self.key: _Path | None = None  # the members' names, on the main table of a map of records
        self.cells = 0
        self.rows = 0
        self.has_objects = parent is None
        self.root: _Table = self if parent is None else parent.root
        self.fields = 0  # on the root: distinct paths listed in the whole document
        self.child_tables = 0  # on the root: child tables holding objects
        self.columns: list[_Path] = []
        self.numbered = False  # has child tables, so its rows carry their own number
        self.index = -1
        self.sheet_name = ""

    def list_path(self, path: _Path) -> None:
        if not path.listed:
            path.listed = True
            self.root.fields += 1
            if self.root.fields > MAX_FIELDS:
                raise NotTabular(
                    f"The data has more than {MAX_FIELDS:,} distinct fields; this service exports at most that many."
                )

    def holds_objects(self) -> None:
        """Note that this table's records include an object, so it becomes a table."""
        if not self.has_objects:
            self.has_objects = True
            self.root.child_tables += 1
            if self.root.child_tables > MAX_CHILD_TABLES:
                raise NotTabular(
                    f"The data needs more than {MAX_CHILD_TABLES} child sheets (one per path of arrays of "
                    f"objects); this service exports at most {MAX_CHILD_TABLES}."
                )

    def mark_cell(self, path: _Path) -> None:
        """Note that ``path`` needs a column, failing early once a table could not hold them all."""
        path.has_cell = True
        self.list_path(path)
        self.cells += 1
        if self.cells + (self.parent is not None) + (self.key is not None) > MAX_COLUMNS:
            raise _too_many_columns(self.name)

    def lay_out(self) -> None:
        """Fix the columns once the survey is over: the join columns and the key first, then each
        object's columns together, in first-seen order, where the object was first seen."""
        self.columns = []
        self._collect(self.paths)
        first = self.leading
        for number, path in enumerate(self.columns, first):
            path.column = number
        if first + len(self.columns) > MAX_COLUMNS:
            raise _too_many_columns(self.name)

    def _collect(self, node: dict[str, _Path]) -> None:
        for path in node.values():
            if path.table is not None and not path.table.has_objects:
                path.table = None  # its arrays never held an object: they are text
            if path.table is not None:
                self.numbered = True
            if path.needs_column():
                self.columns.append(path)
            self._collect(path.children)

    @property
    def leading(self) -> int:
        """Columns before the paths' own: the parent's row number, the key, the row's own number."""
        return (self.parent is not None) + (self.key is not None) + self.numbered

    @property
    def number_header(self) -> str:
        return f"{self.sheet_name} row"

    def model(self) -> Table:
        columns = [path.column_model() for path in self.columns]
        leading = []
        if self.parent is not None:
            leading.append(_join_column(self.parent.number_header))
        if self.key is not None:
            leading.append(self.key.column_model())
        if self.numbered:
            leading.append(_join_column(self.number_header))
        parent = None if self.parent is None else self.parent.sheet_name
        return Table(self.sheet_name, parent, self.rows, (*leading, *columns))

    def saved(self) -> dict[str, Any]:
        """What the row pass needs of this table (see ``_RowTable``): the join columns and the key
        come in that order before the paths' columns."""
        value = self.paths.get(VALUE_COLUMN)
        return {
            "width": self.leading + len(self.columns),
            "parent_column": 0 if self.parent is not None else -1,
            "key_column": 0 if self.key is not None else -1,  # on the main table, which has no parent
            "number_column": self.leading - 1 if self.numbered else -1,
            "paths": {key: path.saved() for key, path in self.paths.items()},
            "value": -1 if value is None else value.column,
        }


def _join_column(header: str) -> Column:
    return Column(header, len(header) + 2)


def _new_path(node: dict[str, _Path], prefix: str, key: str) -> _Path:
    """A path for ``key`` below ``node``, joined to it."""
    path = node[key] = _Path(prefix + key)
    return path


def _too_many_columns(table: str) -> NotTabular:
    return NotTabular(
        f"The data needs more than {MAX_COLUMNS:,} columns on the sheet {table!r}, "
        f"and Excel's limit is {MAX_COLUMNS:,} columns per sheet."
    )


def _survey(
    open_document: Callable[[], BinaryIO],
    format: str,
    root: str,
    tokens: list[str],
    max_depth: int,
    *,
    use_float: bool,
) -> TableModel:
    mode = None
    while True:
        with open_document() as source:
            events = _events(source, format, tokens, use_float=use_float)
            first = next(events)
            mode = mode or _mode(first, format)
            try:
                tables = _Survey(events, max_depth).document(_records(first, events, mode))
                break
            except _NotAMap:
                mode = "record"  # and read it again as that
    taken: set[str] = set()
    for index, table in enumerate(tables):
        table.index = index
        table.sheet_name = unique_sheet_name(table.name, taken)
    reading = {
        "use_float": use_float,
        "mode": mode,
        "max_depth": max_depth,
        "tables": [table.saved() for table in tables],
    }
    return TableModel(tuple(table.model() for table in tables), format, root, reading)


class _Survey:
    """The first pass: tables, columns, row counts, and sampled column widths and line breaks."""

    def __init__(self, events: Events, max_depth: int) -> None:
        self.events = events
        self.max_depth = max_depth
        self.tables: list[_Table] = []

    def document(self, records: Iterator[Record]) -> list[_Table]:
        """The tables that hold objects, the main one first, laid out."""
        main = _Table(MAIN_TABLE, None)
        self.tables.append(main)
        for event, value, depth, key in records:
            if key is not None:
                if main.key is None:
                    main.key = _Path(KEY_COLUMN)
                    main.key.has_cell = True
                if main.rows < WIDTH_SAMPLE_ROWS:
                    main.key.sample("string", key)
            self.record(main, event, value, depth)
        for _ in self.events:  # let the parser check what follows the records
            pass
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
        if event == "start_map" or event == "start_array":
            self.text(event, path, sample)
        elif sample:
            path.sample(event, value)

    def object(self, table: _Table, node: dict[str, _Path], prefix: str, depth: int, sample: bool) -> bool:
        """Register the members of an object whose ``start_map`` was just read; False if it is empty."""
        events = self.events
        following = events.__next__
        empty = True
        for event, key in events:
            if event == "end_map":
                break
            empty = False
            path = node.get(key) or _new_path(node, prefix, key)
            event, value = following()
            if event == "string" or event == "number" or event == "boolean":
                if not path.has_cell:
                    table.mark_cell(path)
                if sample:
                    path.sample(event, value)
            elif event == "null":
                if not path.has_null:
                    path.has_null = True
                    table.list_path(path)
            else:
                self.container(table, path, event, depth + 1, sample)
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
        """Read past a container kept as JSON text, measuring it if the row is sampled."""
        if sample:
            path.width = max(path.width, len(_json_text(self.events, event, WIDTH_TEXT)))
        else:
            _skip(self.events)


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


def _json_text(events: Events, start: str, limit: int | None = None) -> str:
    """Compact JSON text of the container whose ``start`` event was just read.

    Iterative, so any depth is fine. With a ``limit`` the text is cut there, and the events past it
    are read but no longer kept.
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
                token = dumps(value, ensure_ascii=False) + ":"
            else:
                token = _json_scalar(event, value)
            if comma:
                token = "," + token
            comma = event != "start_map" and event != "start_array" and event != "map_key"
        if limit is None or size <= limit:
            parts.append(token)
            size += len(token)
        if depth == 0:
            break
    text = "".join(parts)
    return text if limit is None else text[:limit]


def _json_scalar(event: str, value: object) -> str:
    if event == "string":
        return dumps(value, ensure_ascii=False)
    if event == "number":
        return str(value) if isinstance(value, (int, Decimal)) else dumps(value)
    if event == "boolean":
        return "true" if value else "false"
    return "null"


# The row pass --------------------------------------------------------------------------------------


class _Node:
    """A path as the row pass needs it: its column (-1: none), child table and children by key, and
    the children's columns by key (what a scalar member needs, one lookup instead of two)."""

    __slots__ = ("children", "column", "columns", "table")

    def __init__(self, column: int, table: "int | _RowTable | None", children: dict[str, "_Node"]) -> None:
        self.column = column
        self.table = table
        self.children = children
        self.columns = _columns(children)

    @classmethod
    def load(cls, saved: list[Any]) -> "_Node":
        column, table, children = saved
        return cls(
            column, None if table < 0 else table, {key: cls.load(child) for key, child in children.items()}
        )

    def link(self, tables: list["_RowTable"]) -> None:
        """Replace the child table's index by the table itself."""
        if self.table is not None:
            self.table = tables[self.table]  # type: ignore[index]
        for child in self.children.values():
            child.link(tables)


class _RowTable:
    """A table as the row pass needs it, with the count of its rows so far."""

    __slots__ = (
        "columns",
        "count",
        "index",
        "key_column",
        "number_column",
        "parent_column",
        "paths",
        "value",
        "width",
    )

    def __init__(self, index: int, saved: dict[str, Any]) -> None:
        self.index = index
        self.width: int = saved["width"]
        self.parent_column: int = saved["parent_column"]
        self.key_column: int = saved["key_column"]
        self.number_column: int = saved["number_column"]
        self.paths = {key: _Node.load(path) for key, path in saved["paths"].items()}
        self.columns = _columns(self.paths)
        self.value: int = saved["value"]
        self.count = 0

    def link(self, tables: list["_RowTable"]) -> None:
        for path in self.paths.values():
            path.link(tables)

    def new_row(self, parent_number: int) -> list[Value]:
        """An empty row for the next record, with its join columns filled in."""
        self.count += 1
        row: list[Value] = [None] * self.width
        if self.parent_column >= 0:
            row[self.parent_column] = parent_number
        if self.number_column >= 0:
            row[self.number_column] = self.count
        return row


def _columns(nodes: dict[str, _Node]) -> dict[str, int]:
    return {key: node.column for key, node in nodes.items()}


def _row_pass(
    events: Events, records: Iterator[Record], tables: list[_RowTable], max_depth: int, detect_dates: bool
) -> Iterator[Row]:
    """Every record's row, with an explicit stack instead of recursion so that child rows can be
    yielded as they end, however many one record holds.

    At the top of the inner loop an event is a key of the object being read (``node``, and
    ``columns`` its members' columns; ``path`` is where that object sits, None for a record itself), the end of that object, the end of a child
    array, or the start of a record of the child table ``table`` whose array is being read. Whatever
    starts inside a record pushes the state it interrupts; its end pops it.
    """
    to_date = dates.to_date if detect_dates else _no_date
    shortest_date = _SHORTEST_DATE if detect_dates else sys.maxsize  # the inline test says "text"
    following = events.__next__
    main = tables[0]
    stack: list[tuple[Any, ...]] = []
    push, pop = stack.append, stack.pop
    for event, value, depth, key in records:
        row = main.new_row(0)
        if key is not None:
            row[main.key_column] = to_date(key) or key
        if event != "start_map" or depth > max_depth:
            row[main.value] = _cell(events, event, value, to_date)
            yield 0, row
            continue
        table, number, node, columns, path, empty = main, main.count, main.paths, main.columns, None, True
        for event, value in events:
            if event == "map_key":
                empty = False
                name = value
                event, value = following()
                if event == "string":
                    # The first test of to_date, inline: most strings are not dates, and a call costs.
                    if len(value) < shortest_date or value[4] != "-":
                        row[columns[name]] = value
                    else:
                        row[columns[name]] = to_date(value) or value
                elif event == "number" or event == "boolean":
                    row[columns[name]] = value
                elif event == "null":
                    pass
                elif depth >= max_depth:
                    row[columns[name]] = _json_text(events, event)
                elif event == "start_map":
                    push((node, columns, path, row, table, number, depth))
                    path = node[name]
                    node, columns, depth, empty = path.children, path.columns, depth + 1, True
                elif node[name].table is None:
                    row[columns[name]] = _json_text(events, event)
                else:  # a child array: its records come next, numbered after this one
                    push((node, columns, path, row, table, number, depth))
                    table, depth = node[name].table, depth + 2
            elif event == "end_map":
                if path is None:  # a record ends
                    yield table.index, row
                    if not stack:
                        break
                elif empty:
                    row[path.column] = "{}"
                node, columns, path, row, table, number, depth = pop()
                empty = False
            elif event == "end_array":
                node, columns, path, row, table, number, depth = pop()
                empty = False
            elif event == "start_map" and depth <= max_depth:
                push((node, columns, path, row, table, number, depth))
                row = table.new_row(number)
                number, node, columns, path, empty = table.count, table.paths, table.columns, None, True
            else:  # a child record that is not an object
                child = table.new_row(number)
                child[table.value] = _cell(events, event, value, to_date)
                yield table.index, child


def _cell(events: Events, event: str, value: Value, to_date: Callable[[str], Date | None]) -> Value:
    """The value of a record that is not an object, whose first event was just read."""
    if event == "start_map" or event == "start_array":
        return _json_text(events, event)
    if event == "string":
        return to_date(value) or value  # type: ignore[arg-type]
    return value


def _no_date(text: str) -> None:
    """``to_date`` for rows without date detection: every string stays text."""
    return None
