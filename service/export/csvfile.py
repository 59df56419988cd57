"""Write one table's rows as CSV: RFC 4180 (comma, ``"`` quoting, CRLF), UTF-8.

Values as the contract's "CSV and tables" has them: text whole (no cut), numbers with every digit they
had (``int`` and ``Decimal`` as their digits, floats by ``repr``, the shortest text that reads back the
same double), booleans ``true``/``false``, null an empty field, a ``Date`` as its original text.

``excel=True`` writes for a spreadsheet program instead of a script: a UTF-8 byte-order mark (without
it Excel reads the file as the locale's code page), and a ``'`` before every text field that begins
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, so that no field is taken for a formula
(OWASP's advice on CSV injection). Numbers are not text and keep their sign.

Only text that cannot be UTF-8 (a lone surrogate from a ``\\ud800`` escape) is changed, to U+FFFD.
"""

import re
from collections.abc import Iterable
from decimal import Decimal

from service.export.model import Date, Table, Value
from service.export.zipstream import Sink

BOM = "\ufeff".encode()
_BATCH_CHARACTERS = 1 << 18
_FORMULA_STARTS = frozenset("=+-@\t\r")
_SURROGATE = re.compile("[\ud800-\udfff]")


def write_csv(table: Table, rows: Iterable[list[Value]], sink: Sink, *, excel: bool = False) -> None:
    """Write the header of ``table`` and then ``rows`` (one value per column) to ``sink`` as CSV."""
    if excel:
        sink.write(BOM)
    width = len(table.columns)
    lines = [_line([_guarded(column.name) if excel else column.name for column in table.columns], width)]
    size = 0
    for values in rows:
        line = _line(_fields(values, excel), width)
        lines.append(line)
        size += len(line)
        if size > _BATCH_CHARACTERS:
            _write(sink, lines)
            size = 0
    _write(sink, lines)


def _fields(values: list[Value], guard: bool) -> list[str]:
    """Each value as its CSV text, before quoting; with ``guard``, text made safe for a spreadsheet."""
    fields = []
    append = fields.append
    for value in values:
        kind = type(value)
        if kind is str:
            append(_guarded(value) if guard else value)  # type: ignore[arg-type]
        elif value is None:
            append("")
        elif kind is float:
            append(repr(value))
        elif kind is bool:
            append("true" if value else "false")
        elif kind is int or kind is Decimal:
            append(str(value))
        elif kind is Date:
            append(value.text)  # type: ignore[union-attr]
        else:
            raise TypeError(f"not a row value: {value!r}")
    return fields


def _guarded(text: str) -> str:
    """``text`` with a ``'`` before it if a spreadsheet would take it for a formula."""
    return "'" + text if text[:1] in _FORMULA_STARTS else text  # the empty text's [:1] is "", in no set


def _line(fields: list[str], width: int) -> str:
    """One CSV record with its CRLF; fields quoted only where they must be (RFC 4180 section 2)."""
    line = ",".join(fields)
    if '"' in line or "\n" in line or "\r" in line or line.count(",") != width - 1:
        line = ",".join(_quoted(field) for field in fields)
    elif not line and width == 1:
        line = '""'  # a record of one empty field, so that the line is not blank
    return line + "\r\n"


def _quoted(field: str) -> str:
    if '"' in field or "," in field or "\n" in field or "\r" in field:
        return '"' + field.replace('"', '""') + '"'
    return field


def _write(sink: Sink, lines: list[str]) -> None:
    text = "".join(lines)
    lines.clear()
    try:
        data = text.encode()
    except UnicodeEncodeError:
        data = _SURROGATE.sub("\ufffd", text).encode()
    sink.write(data)
