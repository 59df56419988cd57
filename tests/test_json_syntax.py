"""The fast check vouches only for documents the export's parsers read, wherever chunks are cut."""

import decimal
import io
import json
import random
from pathlib import Path

import ijson
import pytest

from service import json_syntax, text_check, upload
from service.errors import InvalidJSON
from tests import probes
from tests.probes import Collected, readable

SUITE = sorted((Path(__file__).parent / "data" / "JSONTestSuite" / "test_parsing").glob("*.json"))
PARSER_ERRORS = (ijson.JSONError, UnicodeDecodeError, decimal.InvalidOperation, ValueError, SystemError)


def acceptable(body: bytes) -> bool:
    """What an upload must store: readable, and without the form feed or vertical tab yajl takes
    for whitespace."""
    return b"\x0c" not in body and b"\x0b" not in body and readable(body)


def vouched(body: bytes, chunk_size: int) -> bool:
    return probes.vouched(json_syntax.FastCheck(), body, chunk_size)


def verdict(body: bytes) -> str:
    """What an upload of ``body`` answers: "stored", or the error message."""
    try:
        upload.receive(upload.Upload(io.BytesIO(body), "data.json"), 10**9, Collected())
    except InvalidJSON as error:
        return error.message
    return "stored"


def stored(body: bytes) -> bool:
    return verdict(body) == "stored"


def test_the_fast_check_is_in_use():
    """Without it uploads are still right, but several times slower: that must not go unseen."""
    assert json_syntax.AVAILABLE


@pytest.mark.parametrize("path", SUITE, ids=lambda p: p.name)
def test_the_fast_check_vouches_only_for_readable_documents(path):
    body = path.read_bytes()
    for chunk_size in (1, 3, 64, len(body) or 1):
        if vouched(body, chunk_size):
            assert readable(body)


@pytest.mark.parametrize("path", SUITE, ids=lambda p: p.name)
def test_an_upload_is_stored_exactly_when_the_export_can_read_it(path):
    body = path.read_bytes()
    assert stored(body) == acceptable(body)


def test_without_yajl_uploads_are_checked_the_slow_way_alike(monkeypatch):
    """Where no yajl library loads (a platform ijson has no wheel for), ijson decides alone."""
    monkeypatch.setattr(json_syntax, "AVAILABLE", False)
    for path in SUITE:
        body = path.read_bytes()
        assert stored(body) == acceptable(body), path.name


def test_plain_documents_take_the_fast_path():
    """Not a check that refuses everything: ordinary JSON, ASCII or not, is vouched for."""
    records = [{"id": n, "name": f"Zoë {n}", "score": n / 7, "tags": ["a", "ß", "😀"]} for n in range(2000)]
    for body in (json.dumps(records).encode(), json.dumps(records, ensure_ascii=False, indent=2).encode()):
        assert vouched(body.replace(b"\\ud83d\\ude00", b""), 4096)  # ensure_ascii writes emoji as surrogates
    hexadecimal = json.dumps([f"7e{n:032d}" for n in range(100)]).encode()  # an "e" then digits, in strings
    assert vouched(hexadecimal, 4096)


@pytest.mark.parametrize(
    ("suspect", "readable_anyway"),
    [
        ('"\\udc00"', False),  # a lone low surrogate: yajl makes bytes Python refuses
        ('"\\ud83d\\ude00"', True),  # a pair: vouching would need the escapes' context
        ("7" * 5000, False),  # past Python's integer digit limit
        ("7" * 700, True),
        ("1e-99999999999999999999", False),  # past Decimal's exponents (a double reads it as 0)
        ("-1.5E+99999999999999999999", False),
        ('"\xed\xa0\x80"', False),  # a surrogate in raw UTF-8, which yajl's lexer lets through
        ('"\xc0\xaf"', False),  # an overlong form
        ('"\xf4\x90\x80\x80"', False),  # past U+10FFFF
    ],
)
def test_suspects_are_refused_wherever_a_chunk_boundary_cuts_them(suspect, readable_anyway):
    filler = json.dumps(["x" * 90] * 2000)
    for cut in range(-8, 9):
        padding = upload.CHUNK_SIZE - len(filler) - 2 + cut  # the suspect starts at CHUNK_SIZE + cut
        assert padding > 0
        body = f"[{filler},{' ' * padding}{suspect}]".encode("latin-1")
        assert not vouched(body, upload.CHUNK_SIZE)
        assert stored(body) == acceptable(body) == readable_anyway


def test_mutated_documents_are_stored_exactly_when_readable():
    """A seeded fuzz: small documents with hostile bytes dropped into them."""
    pieces = [b"\\udc00", b"\\ud800", b"\\ud83d\\ude00", b"\\", b'"', b"\xed\xa0\x80", b"\xc3", b"\xff",
              b"1e99999999999999999", b"9" * 700, b"-", b"e", b".", b"\x00", b"\x0b", b"\x0c", b" ", b"]", b"}"]  # fmt: skip
    seeds = [b'{"a": [1, 2.5e3, "text \\u00e9"], "b": null}', b'["x", -0, 1E+2, true, {"k": "v"}]']
    rng = random.Random(20261126)
    for _ in range(3000):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body) + 1)
            if rng.random() < 0.5:
                body[at:at] = rng.choice(pieces)
            else:
                del body[at : at + rng.randint(1, 4)]
        assert stored(bytes(body)) == acceptable(bytes(body)), bytes(body)


def test_utf8_is_vouched_for_exactly_when_python_reads_it():
    """Every lead byte before bytes at the edges of each range RFC 3629 allows, in a string, cut
    at every place: yajl checks only the number of continuation bytes, the check the rest."""
    edges = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
    vouched_for = 0
    for lead in range(0x80, 0x100):
        for second in edges:
            for rest in (b"", b"\x80", b"\xbf\x80", b"\x41\xbf"):
                body = b'["' + bytes([lead, second]) + rest + b'"]'
                expected = readable(body)
                vouched_for += expected
                for chunk_size in (3, 4, len(body)):
                    assert vouched(body, chunk_size) == expected, (body, chunk_size)
    assert vouched_for > 100


def test_text_full_of_the_leads_looked_at_is_checked_by_the_decoder():
    """Hindi (E0 leads) and Hangul (ED leads) past the count the byte-by-byte look handles."""
    for text in ("हिन्दी पाठ " * 3000, "한국어 텍스트 " * 3000, "\U0001f600" * 3000):
        body = json.dumps([text], ensure_ascii=False).encode()
        assert vouched(body, upload.CHUNK_SIZE)
        middle = body.index(b"\xf0" if text[0] > "\uffff" else b" ", len(body) // 2)
        broken = body[:middle] + b"\xed\xa0\x80" + body[middle:]  # a raw surrogate half-way
        assert not readable(broken)
        assert not vouched(broken, upload.CHUNK_SIZE)


@pytest.mark.parametrize(
    ("body", "fits"),
    [
        (b'["' + b"x" * (7 * 1024**2) + b'"]', True),
        (b'["' + b"x" * (9 * 1024**2) + b'"]', False),
        (b"[" + b"7" * (9 * 1024**2) + b"]", False),  # a number is one token too
        (b"[" * (15 * 1024**2) + b"]" * (15 * 1024**2), True),
        (b"[" * (17 * 1024**2), False),
    ],
    ids=["7 MiB string", "9 MiB string", "9 MiB number", "15 million levels", "17 million levels"],
)
def test_the_parser_memory_one_value_takes_is_bounded(body, fits):
    check = json_syntax.FastCheck()
    try:
        for start in range(0, len(body), upload.CHUNK_SIZE):
            try:
                check.feed(body[start : start + upload.CHUNK_SIZE])
            except json_syntax.Refused:  # the long number: the exact parser would decide, and
                check.track(body[start + upload.CHUNK_SIZE :])  # the check goes on counting
                break
    except json_syntax.TooLarge:
        assert not fits
    else:
        assert fits


def test_errors_read_the_same_with_or_without_the_fast_check(monkeypatch):
    """Where and why a document broke does not depend on which parser found it."""
    filler = json.dumps([{"n": n, "s": "x" * 40} for n in range(6000)], indent=1)[: upload.CHUNK_SIZE - 3]
    bodies = [path.read_bytes() for path in SUITE if path.name.startswith("n_")]
    bodies += [f"{filler}{cut}".encode() for cut in ("]", ",]", "x", "tru", '"\\q"', "-", "[")]
    rng = random.Random(20261127)
    for _ in range(1500):
        body = bytearray(b'{"a": [1, 2.5e3, "t\\u00e9"], "b": null, "c": true}')
        at = rng.randrange(len(body) + 1)
        body[at:at] = rng.choice([b",", b"]", b"}", b"x", b'"', b"\\", b":", b"-", b"\xff", b"\n"])
        bodies.append(bytes(body))
    with_fast_check = [verdict(body) for body in bodies]
    monkeypatch.setattr(json_syntax, "AVAILABLE", False)
    assert with_fast_check == [verdict(body) for body in bodies]


FAILING_BOOKKEEPING = """
import io, sys
from service import json_syntax, text_check, upload

class Exhausted(dict):
    def __setitem__(self, key, value):
        raise MemoryError("bookkeeping")
    def pop(self, *args):
        raise MemoryError("bookkeeping")

real_init = json_syntax._Memory.__init__
def exhausted_init(self):
    real_init(self)
    self._sizes = Exhausted()
json_syntax._Memory.__init__ = exhausted_init

body = b'{"a": "' + b"x" * (3 * 1024**2) + b'", "b": [' + b"[" * 5000 + b"]" * 5000 + b"]}"
check = json_syntax.FastCheck()
try:
    for start in range(0, len(body), upload.CHUNK_SIZE):
        check.feed(body[start : start + upload.CHUNK_SIZE])
    check.close()
    print("vouched")
except json_syntax.MemoryLost:
    print("refused")
from tests.probes import Collected

stored = Collected()
upload.receive(upload.Upload(io.BytesIO(body), "a.json"), 10**9, stored)
print("stored" if stored.getvalue() == body else "differs")
"""


def test_failing_allocator_bookkeeping_never_reaches_yajl(tmp_path):
    """A MemoryError in the allocator's bookkeeping (ctypes would swallow it and give yajl a NULL)
    must leave yajl with valid memory: no crash; the check stops vouching and ijson decides."""
    import subprocess
    import sys

    script = tmp_path / "exhausted.py"
    script.write_text(FAILING_BOOKKEEPING)
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr[-2000:]  # a segfault is -11
    assert result.stdout.split() == ["refused", "stored"]
    assert "Exception ignored" not in result.stderr  # nothing was swallowed by ctypes


def test_the_validator_in_use_is_named():
    assert json_syntax.VALIDATOR.startswith("yajl 2.")
    assert "ijson" in json_syntax.VALIDATOR


SYNTAX_REFUSALS = [
    b'["' + b"a" * 20_000 + b'"\\x]',  # a lexical error right after a long string
    b'{"k": "' + b"b" * 20_000 + b'" "c"}',  # a token where a comma belongs
    b"[1,]" + b" " * 1_000,  # the refusal long before the end of the chunk
    b"[" + b"1," * 1_000 + b"]",
]
EXACT_REFUSALS = [
    b'["' + b"a" * 20_000 + b'", \x0c 1]',  # a form feed after a long string
    b"[1,]  \x0c",  # a refusal before the form feed: that one is named
    b'{"k": "\\x"} \x0c',  # an escape the exact parser refuses, then a form feed
    b"[\x0b1e99999999999999999999]",  # a vertical tab, then a number Decimal refuses
    b'["\\udc00' + b"a" * 20_000 + b'"]',  # a lone surrogate: refused where its long string ends
    b'["' + b"b" * 20_000 + b'\xed\xa0\x80"]',  # a surrogate in UTF-8, at a long string's end
    b'{"' + b"k" * 2_000 + b'": 1e-99999999999999999999}',  # past Decimal's exponents
]


@pytest.mark.parametrize(
    ("locate", "new_parser", "body"),
    [(text_check._locate_syntax_error, json_syntax.SyntaxCheck, body) for body in SYNTAX_REFUSALS]
    + [(text_check._locate_error, text_check._Parser, body) for body in EXACT_REFUSALS],
)
def test_a_refusal_is_located_alike_when_the_chunk_goes_in_pieces(locate, new_parser, body):
    """A refused chunk goes in pieces, and a byte at a time only in the piece refused (fed a byte
    at a time, yajl lexes a long token it holds again per byte: 10 s after a 250 KB string): the
    answer is the one a byte at a time from the start gives."""
    truth = text_check._refusal_in(new_parser(), io.BytesIO(body), 0, body)
    assert locate(io.BytesIO(body), 0).message == truth.message


@pytest.mark.parametrize("with_yajl", [True, False], ids=["yajl", "ijson alone"])
@pytest.mark.parametrize("tail", [b'"abc', b'"ab\\', b'"a\\"b', b'"', b'"\\\\\\"'])
def test_a_string_left_open_after_the_text_is_refused(tail, with_yajl, monkeypatch):
    """yajl, so ijson, says nothing of a string still open after a whole value (``[1] "abc``): it
    is not one JSON text, and must be refused like any other trailing garbage. yajl is asked at
    the end; without it, quotes are counted as the chunks go by."""
    monkeypatch.setattr(json_syntax, "AVAILABLE", with_yajl)
    for head in (b"[1] ", json.dumps(["x" * 90] * 3000).encode() + b" "):  # short, and past a chunk
        message = verdict(head + tail)
        assert f"(byte {len(head + tail)}): parse error: trailing garbage" in message, message


def test_escapes_cut_by_a_chunk_boundary_leave_strings_as_they_are():
    """The open-string check counts quotes less escaped ones, chunk by chunk: a backslash that ends
    one chunk escapes the first byte of the next."""
    for escape in (b'\\"', b"\\\\", b'\\\\\\"', b"\\\\\\\\"):
        for cut in range(-3, 4):
            padding = upload.CHUNK_SIZE - 2 + cut  # the escape starts near the chunk boundary
            body = b'["' + b"a" * padding + escape + b'b", "c"]'
            kept = Collected()
            upload.receive(upload.Upload(io.BytesIO(body), "data.json"), 10**9, kept)
            assert kept.format == "json", (escape, cut)  # one text, not refused and read as lines


def test_a_long_token_is_fed_a_few_hundred_times_to_locate_a_refusal_after_it():
    """yajl lexes a token it holds again at every feed. Narrowed down in pieces of 4 KB, then of
    64 bytes, then bytes, the refused chunk goes to the parsers a few hundred times whatever the
    token's length (512-byte pieces then bytes took 1,500 feeds: 2 s after 250 KB of escapes)."""
    body = b'["' + b"\\\\" * 131_000 + b'\\x"]'  # an invalid escape after 262,000 bytes of them
    feeds = []

    class Counted(text_check._Parser):
        def feed(self, chunk: bytes) -> None:
            feeds.append(len(chunk))
            super().feed(chunk)

    refusal = text_check._located(Counted, io.BytesIO(body), 0)
    assert f"(byte {body.index(b'x')})" in refusal.message, refusal.message
    assert len(feeds) < 400, len(feeds)


@pytest.mark.parametrize(
    ("body", "at", "reason"),
    [
        (b'["\xed\xb0\x80", 1 1]', 5, "invalid UTF-8"),  # a surrogate in UTF-8: yajl takes it
        (b'["a", "\\udc00", 1 1]', 13, "invalid UTF-8 or an invalid \\u escape"),
        (b"[1e-99999999999999999999, 1 1]", 24, "a number out of range"),
    ],
)
def test_the_first_refusal_is_named_when_yajl_refuses_a_later_byte(body, at, reason):
    """A chunk yajl refuses may hold, before that byte, what only the exact parser refuses: that
    one comes first in the document, so it is the one named."""
    message = verdict(body)
    assert f"(byte {at}): {reason}" in message, message


@pytest.mark.parametrize("tail", [b'\\x"]', b'\x01"]', b'" "b"]', b'"]]'])
def test_a_scout_saves_most_feeds_after_a_value_begun_chunks_before(tail):
    """yajl re-reads a value it holds at every feed, up to the 8 MiB one may be: one parser first
    takes the refused chunk whole and says where it stopped, and the pieces begin just before."""
    body = b'["' + b"a" * (2 * text_check.CHUNK_SIZE + 1000) + tail
    chunk_start = 2 * text_check.CHUNK_SIZE
    feeds = []

    class Counted(json_syntax.SyntaxCheck):
        def feed(self, chunk: bytes) -> None:
            feeds.append(len(chunk))
            super().feed(chunk)

    refusal = text_check._located(Counted, io.BytesIO(body), chunk_start, scout=True)
    replayed = 4 * 2  # the prefix, two blocks, to each of the four parsers
    truth = text_check._located(json_syntax.SyntaxCheck, io.BytesIO(body), chunk_start)
    assert refusal.message == truth.message
    assert len(feeds) - replayed < 40, len(feeds)
