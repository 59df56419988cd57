"""The date rule: which strings become date cells, and the serial and style each gets.

openpyxl's ``to_excel`` is the oracle for serials: an independent implementation of Excel's 1900
date system.
"""

from datetime import date, datetime

import pytest
from openpyxl.utils.datetime import to_excel

from service.export.dates import to_date


def serial(*parts: int) -> float:
    return to_excel(date(*parts) if len(parts) == 3 else datetime(*parts))


@pytest.mark.parametrize(
    ("text", "expected", "style"),
    [
        ("2025-03-14", serial(2025, 3, 14), "date"),
        ("2024-02-29", serial(2024, 2, 29), "date"),
        ("1900-03-01", 61.0, "date"),
        ("9999-12-31", serial(9999, 12, 31), "date"),
        ("2000-02-29", serial(2000, 2, 29), "date"),
        ("2025-03-14T15:09:26", serial(2025, 3, 14, 15, 9, 26), "datetime"),
        ("2025-03-14 15:09:26", serial(2025, 3, 14, 15, 9, 26), "datetime"),
        ("2025-03-14T15:09:26Z", serial(2025, 3, 14, 15, 9, 26), "datetime"),
        ("2025-03-14T15:09:26+00:00", serial(2025, 3, 14, 15, 9, 26), "datetime"),
        ("2025-03-14T15:09:26-00:00", serial(2025, 3, 14, 15, 9, 26), "datetime"),
        ("2025-03-14 15:09:26.250", serial(2025, 3, 14, 15, 9, 26, 250_000), "datetime_ms"),
        ("2025-03-14T15:09:26.2Z", serial(2025, 3, 14, 15, 9, 26, 200_000), "datetime_ms"),
        ("2025-03-14T15:09:26.000", serial(2025, 3, 14, 15, 9, 26), "datetime_ms"),
        ("9999-12-31T23:59:59.999", serial(9999, 12, 31, 23, 59, 59, 999_000), "datetime_ms"),
        ("1900-03-01T00:00:00", 61.0, "datetime"),
        # More than three digits: rounded half up to the millisecond.
        ("2025-03-14T15:09:26.123456789Z", serial(2025, 3, 14, 15, 9, 26, 123_000), "datetime_ms"),
        ("2025-03-14T15:09:26.1235+00:00", serial(2025, 3, 14, 15, 9, 26, 124_000), "datetime_ms"),
        ("2025-03-14T15:09:26.1234999", serial(2025, 3, 14, 15, 9, 26, 123_000), "datetime_ms"),
        # Rounding to 1000 ms carries into the next second, minute, hour and day.
        ("2025-03-14T15:09:26.9996", serial(2025, 3, 14, 15, 9, 27), "datetime_ms"),
        ("2025-03-14T23:59:59.9995", serial(2025, 3, 15), "datetime_ms"),
    ],
)
def test_dates_become_cells(text: str, expected: float, style: str) -> None:
    cell = to_date(text)
    assert cell is not None
    assert cell.text == text
    assert cell.serial == pytest.approx(expected, abs=1e-9)  # well under a millisecond (1.2e-8 days)
    assert cell.style == style


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29",  # not a leap year
        "1900-02-29",  # the day Excel invents
        "1900-02-28",  # before 1900-03-01, where Excel's serials are a day off
        "1899-12-31",
        "0001-01-01",
        "1900-02-28T23:59:59.999",
        "9999-12-31T23:59:59.9995",  # rounds up past Excel's last moment
        "2025-13-01",
        "2025-00-10",
        "2025-04-31",
        "2025-03-00",
        "2025-03-14T24:00:00",
        "2025-03-14T23:60:00",
        "2025-03-14T23:59:60",  # leap second: Excel has none
        "2025-03-14T15:09:26+01:00",  # another offset
        "2025-03-14T15:09:26-05:00",
        "2025-03-14T15:09:26+0000",
        "2025-03-14T15:09:26+00",
        "2025-03-14T15:09",  # no seconds
        "2025-03-14T15:09:26.",  # a point without digits
        "2025-03-14T15:09:26,5",  # ISO's comma fraction: rare in JSON, left as text
        "2025-03-14Z",  # an offset needs a time
        "2025-03-14T",
        "2025-03-14t15:09:26",  # lowercase separator
        "2025-03-14T15:09:26z",  # lowercase Zulu
        " 2025-03-14",
        "2025-03-14 ",
        "2025-03-14\n",
        "2025-03-14  15:09:26",
        "2025-3-14",
        "25-03-14",
        "+2025-03-14",
        "20250314",
        "2025-W11-5",
        "2025-073",
        "\uff12\uff10\uff12\uff15-03-14",  # fullwidth digits
        "\u0662\u0660\u0662\u0665-\u0660\u0663-\u0661\u0664",  # Arabic-Indic digits
        "2025-03-14T15:09:26.\u0662\u0665\u0660",
        "2025-ABCDEFGH",
        "2025-03-14/2025-03-15",
        "",
        "2025",
        "alice",
    ],
)
def test_everything_else_stays_text(text: str) -> None:
    assert to_date(text) is None


def test_a_date_is_the_same_cell_however_often_it_is_read() -> None:
    first, again = to_date("2024-02-29"), to_date("2024-02-29")
    assert first == again
    assert first is not None
    assert first.serial == serial(2024, 2, 29)
