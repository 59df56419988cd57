"""Upload validation: RFC 8259 exactly, with the place of the error, at any size."""

import io
import json
import re
from pathlib import Path

import ijson
import pytest

from service import text_check, upload
from service.errors import InvalidJSON, PayloadTooLarge
from tests.probes import Collected, readable

SUITE = Path(__file__).parent / "data" / "JSONTestSuite" / "test_parsing"


def receive(body: bytes, limit: int = 10**9) -> bytes:
    """Receive ``body`` as a request stream: the bytes stored, or the refusal."""
    stored = Collected()
    upload.receive(upload.Upload(io.BytesIO(body), "data.json"), limit, stored)
    assert stored.format == "json"
    return stored.getvalue()


@pytest.mark.parametrize("path", sorted(SUITE.glob("y_*.json")), ids=lambda p: p.name)
def test_suite_documents_that_must_be_accepted_are_stored_exactly(path):
    body = path.read_bytes()
    assert receive(body) == body


@pytest.mark.parametrize("path", sorted(SUITE.glob("n_*.json")), ids=lambda p: p.name)
def test_suite_documents_that_must_be_rejected_are(path):
    body = path.read_bytes()
    # A NUL among the first bytes is how UTF-16 and UTF-32 text begins: the refusal says so.
    expected = "UTF-(16|32)|Invalid JSON at line" if b"\0" in body[:4] else "Invalid JSON at line"
    with pytest.raises(InvalidJSON, match=expected):
        receive(body)


@pytest.mark.parametrize("path", sorted(SUITE.glob("i_*.json")), ids=lambda p: p.name)
def test_implementation_defined_documents_are_stored_exactly_when_the_export_reads_them(path):
    body = path.read_bytes()
    try:
        assert receive(body) == body
    except InvalidJSON as error:
        assert not readable(body), error.message
        if re.match("The file is UTF-(16|32)", error.message):
            assert b"\0" in body[:4], error.message  # said of what begins as UTF-16 or UTF-32 does
            return
        where = re.search(r"line (\d+), column (\d+) \(byte (\d+)\): \w", error.message)
        assert where is not None, error.message
        line, _column, offset = map(int, where.groups())
        assert offset <= len(body) and line == body[:offset].count(b"\n") + 1
    else:
        assert readable(body)


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [
        (b'{"a": [1, 2,]}', 1, 13),
        (b"[1,\n2,\n NaN]", 3, 2),
        (b"[1]\x0c", 1, 4),
        (b"[1,\x0b2]", 1, 4),
        (b'{"a":1} x', 1, 9),
        (b"// c\n[]", 1, 1),
        (b"[Infinity]", 1, 2),
    ],
)
def test_errors_say_where_the_document_broke(body, line, column):
    with pytest.raises(InvalidJSON) as raised:
        receive(body)
    assert f"line {line}, column {column}" in raised.value.message


def test_an_error_deep_in_a_large_body_is_located_exactly():
    good = json.dumps([{"n": i, "s": "x" * 50} for i in range(20000)], indent=1)
    broken = good[:-2] + ",]"  # a trailing comma, megabytes in
    with pytest.raises(InvalidJSON) as raised:
        receive(broken.encode())
    offset = len(broken) - 1  # yajl stops at the "]" after the comma
    line, column = broken.count("\n") + 1, offset - broken.rindex("\n")
    assert f"line {line}, column {column} (byte {offset})" in raised.value.message


def test_empty_and_truncated_bodies_are_invalid():
    with pytest.raises(InvalidJSON, match=r"line 1, column 1 .*empty"):
        receive(b"")
    with pytest.raises(InvalidJSON, match="premature EOF"):
        receive(b'{"a": [1, 2')


def test_deep_nesting_is_checked_without_recursion():
    depth = 200_000
    assert receive(b"[" * depth + b"]" * depth)[:3] == b"[[["


def test_the_size_limit_is_exact():
    body = b"[" + b"1," * 999 + b"1]"
    assert receive(body, limit=len(body)) == body
    with pytest.raises(PayloadTooLarge):
        receive(body, limit=len(body) - 1)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("data.json", "data.json"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.json", "report.json"),
        ("two\nlines\r.json", "twolines.json"),
        ('quote"d.json', 'quote"d.json'),
        ("данные.json", "данные.json"),
        ("", upload.DEFAULT_FILENAME),
        (None, upload.DEFAULT_FILENAME),
        ("..", upload.DEFAULT_FILENAME),
    ],
)
def test_filenames_keep_only_their_last_part(raw, kept):
    assert upload.clean_filename(raw) == kept


def test_long_filenames_are_cut_to_what_metadata_can_carry():
    kept = upload.clean_filename("ж" * 1000 + ".json")
    assert 0 < len(kept) < 1000
    assert set(kept) == {"ж"}


def test_an_integer_longer_than_python_reads_is_a_clear_400():
    digits = "7" * 5000  # past Python's 4,300-digit guard against quadratic int parsing
    with pytest.raises(InvalidJSON, match="more digits than this service reads"):
        receive(f"[{digits}]".encode())
    assert receive(f"[{digits[:4000]}]".encode()).startswith(b"[7777")


@pytest.mark.parametrize("number", ["1E400", "-1E400", "18446744073709551616", "-9223372036854775809"])
def test_numbers_no_double_or_64_bit_integer_holds_are_valid_anywhere(number):
    """The fast parser refuses these; the exact parser takes over wherever they stand."""
    filler = json.dumps(["x" * 100] * 5000)  # past the first chunk
    for body in (number, f"[{number}]", f'{{"a": {filler}, "n": {number}}}', f"[{filler}, {number}, 1]"):
        assert receive(body.encode()) == body.encode()


def test_an_error_after_the_exact_parser_took_over_is_located_exactly():
    filler = json.dumps(["x" * 100] * 5000)
    body = f'{{"big": 1E400, "a": {filler}, "b": [1,]}}'
    offset = body.index(",]") + 1
    with pytest.raises(InvalidJSON) as raised:
        receive(body.encode())
    assert f"column {offset + 1} (byte {offset})" in raised.value.message


@pytest.mark.parametrize(
    "number", ["1e-99999999999999999999", "-1.5E+9999999999999999999", "0e99999999999999999999"]
)
def test_a_number_past_decimals_exponents_is_refused_where_it_stands(number):
    """Doubles would read these (as 0 or infinity), Decimal would not: every stored document must
    read exactly, as the CSV export reads it, so these are refused, wherever they stand."""
    filler = json.dumps(["x" * 100] * 5000)  # past the first chunk
    for body in (f"[{number}]", f"[{filler}, {number}, 1]", f'{{"n": {number}, "a": {filler}}}'):
        with pytest.raises(InvalidJSON, match="a number out of range") as raised:
            receive(body.encode())
        end = body.index(number) + len(number)
        assert f"(byte {end})" in raised.value.message


def test_only_the_parsers_refusals_blame_the_upload():
    """A ValueError or SystemError of our own is a bug (a 500), not a 400 blaming the upload."""
    digits = "7" * 5000
    for exact in (False, True):
        with pytest.raises(Exception) as raised:
            for _event in ijson.basic_parse(io.BytesIO(f"[{digits}]".encode()), use_float=not exact):
                pass
        assert text_check.refused_by_parser(raised.value), raised.value
    with pytest.raises(ijson.JSONError) as syntax:
        list(ijson.basic_parse(io.BytesIO(b"[1,]")))
    assert text_check.refused_by_parser(syntax.value)
    assert not text_check.refused_by_parser(ValueError("a bug of ours"))
    assert not text_check.refused_by_parser(SystemError("a bug of ours"))
    bug = SystemError("error return without exception set")
    bug.__cause__ = KeyError("x")
    assert not text_check.refused_by_parser(bug)
