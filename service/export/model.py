"""The table model: what a JSON document becomes before any file format is chosen.

The survey pass (``tables.survey``) reads a document once and returns a ``TableModel``: the tables
the export makes (the main one first, then child tables in first-seen order), each with its parent,
row count and columns. The row pass (``tables.rows``) reads it again and yields, in document order,
``(table index, values)`` with one value per column. Writers (``xlsx``, ``csvfile``) turn that stream
into a file; the tables API shows the model and the first rows. The model is small and plain, so it
is cached in the bucket as JSON beside the exports made from it.

A value in a row is one of:

- ``None``: null or absent, an empty cell;
- ``bool``;
- ``int``: any integer, exact (a writer decides whether its format holds it as a number);
- ``float``: a number read as a double;
- ``Decimal``: a number kept exactly (writers show its digits as they were);
- ``str``: text as it was in the JSON (writers clean and escape it for their format);
- ``Date``: a string that is an ISO 8601 date or UTC date-time, with its Excel serial number.
"""

import json
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

MAIN_TABLE = "data"
MODEL_VERSION = 1
"""Part of a cached model's name: raise it whenever ``to_json``'s layout or ``reading`` changes, so a
model cached by an older release is made again instead of misread."""
FORMATS = ("json", "jsonl")
MAX_SHEET_NAME = 31
_NOT_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_RESERVED_SHEET_NAMES = {"history"}


@dataclass(slots=True)  # not frozen: a frozen __init__ costs three times as much, once per date cell
class Date:
    """A date or date-time cell: ``text`` as in the JSON, ``serial`` Excel's day number (1900 system),
    ``style`` one of ``"date"``, ``"datetime"``, ``"datetime_ms"``."""

    text: str
    serial: float
    style: str


Value = None | bool | int | float | Decimal | str | Date


@dataclass(frozen=True)
class Column:
    """A column: its header and the width (in characters) its sampled values suggest."""

    name: str
    width: float
    wrap: bool = False  # some sampled value has a line break: show the column wrapped


@dataclass(frozen=True)
class Table:
    """One table: ``name`` is unique (case-insensitively) and a legal Excel sheet name."""

    name: str
    parent: str | None
    rows: int
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class TableModel:
    """The tables of one document read with one ``root`` (a JSON Pointer, "" for the whole document)."""

    tables: tuple[Table, ...]
    format: str = "json"
    root: str = ""
    # Whatever else the row pass needs to read the document as the survey did (parser options,
    # which paths are child tables): the survey's own business, kept so the model is self-contained.
    reading: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        """The table called ``name`` (KeyError if there is none)."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "TableModel":
        raw = json.loads(data)
        tables = tuple(
            Table(t["name"], t["parent"], t["rows"], tuple(Column(**c) for c in t["columns"]))
            for t in raw["tables"]
        )
        return cls(tables, raw["format"], raw["root"], raw["reading"])


def unique_sheet_name(name: str, taken: set[str]) -> str:
    """A legal sheet name, unique without regard to case, that is not yet in ``taken`` (which it joins).

    Excel forbids ``[]:*?/\\``, a leading or trailing apostrophe, empty names, "History", and more than
    31 characters; a name that collides after cutting gets `` (2)``, `` (3)`` ... within the limit.
    Table names and the rollover sheets of a table (``data (2)``) are all made by this one function.
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
