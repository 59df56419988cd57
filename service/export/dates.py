"""Which strings become date cells: the contract's date rule, decided once per string cell.

A string is a date when it is exactly one of

- an ISO 8601 calendar date, ``2025-03-14``;
- a date-time with ``T`` or a space between date and time, ``HH:MM:SS``, an optional fraction of a
  second (``.`` and one or more digits), and either no offset or a UTC one: ``Z``, ``+00:00`` or
  ``-00:00`` (RFC 3339's "UTC, local offset unknown", the same instant),

and falls between 1900-03-01 and 9999-12-31 23:59:59.999, Excel's range less the two months its
1900 leap-year bug puts a day off. Everything else stays text: impossible dates (2023-02-29),
other offsets (``+01:00``), hours without seconds, leap seconds, lowercase ``t``/``z`` (ISO 8601
writes them uppercase; RFC 3339 merely tolerates lowercase), surrounding spaces, and digits other
than ASCII ones.

A fraction is rounded half up to the millisecond, what Excel's cells show at most; a rounding that
carries past 9999-12-31 23:59:59.999 leaves the string text. A date-time is styled
``"datetime_ms"`` when its text has a fraction at all (``.000`` included), so a column of
millisecond timestamps shows the same format on every row; otherwise ``"datetime"``, and a date
alone ``"date"``.

The engine calls ``to_date`` for every string cell and most strings are not dates, so the first
test is two cheap comparisons (length, then the ``-`` after the year), before any regular expression.
"""

import re
from datetime import date, datetime
from functools import lru_cache

from .model import Date

_EXCEL_EPOCH = date(1899, 12, 30).toordinal()  # serial 0 in Excel's 1900 date system
_FIRST_SERIAL = date(1900, 3, 1).toordinal() - _EXCEL_EPOCH  # 61: serials before it are a day off
_END_SERIAL = date(9999, 12, 31).toordinal() - _EXCEL_EPOCH + 1  # the first moment past the range
_MS_PER_DAY = 86_400_000
_DATE_LENGTH = len("2025-03-14")
_DATE_TIME_LENGTH = len("2025-03-14T15:09:26")
# The shape alone. The values (month 13, 2023-02-29, hour 24, second 60) are checked by the datetime
# module's C parsers, which read exactly these fixed-width ASCII fields.
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]+))?(?:Z|[+-]00:00)?)?"
)


def to_date(text: str) -> Date | None:
    """The date cell ``text`` stands for, or None when it is to stay text."""
    if len(text) < _DATE_LENGTH or text[4] != "-":
        return None
    if len(text) == _DATE_LENGTH:
        return _day(text)
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(text[:_DATE_TIME_LENGTH])
    except ValueError:
        return None
    serial = moment.toordinal() - _EXCEL_EPOCH
    if serial < _FIRST_SERIAL:
        return None
    milliseconds = ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000
    fraction = match.group(1)
    if fraction is not None:
        milliseconds += int(fraction[:3].ljust(3, "0")) + (fraction[3:4] >= "5")
    if milliseconds >= (_END_SERIAL - serial) * _MS_PER_DAY:  # rounded up past the range
        return None
    style = "datetime" if fraction is None else "datetime_ms"
    return Date(text, serial + milliseconds / _MS_PER_DAY, style)


@lru_cache(maxsize=4096)
def _day(text: str) -> Date | None:
    """A date alone. Cached: a column of dates repeats the same few thousand days (a Date is
    immutable, so rows can share one), while date-times rarely repeat and are not cached."""
    if _DATE_TIME.fullmatch(text) is None:
        return None
    try:
        serial = date.fromisoformat(text).toordinal() - _EXCEL_EPOCH
    except ValueError:
        return None
    return Date(text, float(serial), "date") if serial >= _FIRST_SERIAL else None
