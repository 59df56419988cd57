"""The CSV writer: RFC 4180 as the standard library's csv module reads it, every digit of every
number, and the spreadsheet-safe variant."""

import csv
import io
import random
from decimal import Decimal

import pytest

from service.export.csvfile import write_csv
from service.export.model import Column, Table, Value
from tests.readers import excel_date


def csv_bytes(columns: list[str], rows: list[list[Value]], *, excel: bool = False) -> bytes:
    out = io.BytesIO()
    write_csv(
        Table("data", None, len(rows), tuple(Column(name, 10) for name in columns)), rows, out, excel=excel
    )
    return out.getvalue()


def read_back(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_records_end_in_crlf_and_only_fields_that_need_quotes_get_them() -> None:
    data = csv_bytes(
        ["name", "note"],
        [["Ada", "plain"], ["a,b", 'say "hi"'], ["two\nlines", "cr\ronly"], ["crlf\r\nend", " spaced "]],
    )
    assert data == (
        b"name,note\r\nAda,plain\r\n"
        b'"a,b","say ""hi"""\r\n'
        b'"two\nlines","cr\ronly"\r\n'
        b'"crlf\r\nend", spaced \r\n'
    )
    assert not data.startswith(b"\xef\xbb\xbf")


def test_numbers_keep_every_digit_and_other_values_their_json_text() -> None:
    date = excel_date("2025-03-14T15:09:26.250Z")
    row: list[Value] = [
        10**30 + 1,
        Decimal("1.50"),
        Decimal("1E+400"),
        Decimal("-0"),
        0.1,
        1 / 3,
        -5,
        True,
        False,
        None,
        date,
    ]
    assert read_back(csv_bytes([f"c{n}" for n in range(len(row))], [row]))[1] == [
        "1000000000000000000000000000001",
        "1.50",
        "1E+400",
        "-0",
        "0.1",
        "0.3333333333333333",
        "-5",
        "true",
        "false",
        "",
        "2025-03-14T15:09:26.250Z",
    ]


def test_text_is_whole_and_utf8_with_only_lone_surrogates_replaced() -> None:
    long = "é" * 40_000 + "\U0001f600"
    rows = read_back(csv_bytes(["text"], [[long], ["a\ud800b"], ["\x00\x01 control"], ["=1+1"]]))
    assert [row[0] for row in rows[1:]] == [long, "a\ufffdb", "\x00\x01 control", "=1+1"]


def test_a_record_of_one_empty_field_is_not_a_blank_line() -> None:
    assert csv_bytes(["only"], [[None], [""], ["x"]]) == b'only\r\n""\r\n""\r\nx\r\n'
    assert read_back(csv_bytes(["only"], [[None], ["x"]])) == [["only"], [""], ["x"]]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_for_excel_text_that_could_be_a_formula_gets_a_quote_mark_and_the_file_a_bom(start: str) -> None:
    data = csv_bytes([f"{start}header", "n"], [[f"{start}SUM(A1)", -5], ["safe", -1.5]], excel=True)
    assert data.startswith(b"\xef\xbb\xbf")
    assert read_back(data[3:]) == [[f"'{start}header", "n"], [f"'{start}SUM(A1)", "-5"], ["safe", "-1.5"]]


def test_without_excel_fields_are_exact() -> None:
    assert read_back(csv_bytes(["=x"], [["=1+1"], ["@a"]])) == [["=x"], ["=1+1"], ["@a"]]


def test_random_text_reads_back_field_for_field_through_the_csv_module() -> None:
    rng = random.Random(11)
    alphabet = "ab ,\"\r\n\t'=é\U0001f600"
    rows: list[list[Value]] = [
        ["".join(rng.choices(alphabet, k=rng.randrange(0, 12))) for _ in range(4)] for _ in range(2000)
    ]
    assert read_back(csv_bytes(["a", "b", "c", "d"], rows))[1:] == rows
