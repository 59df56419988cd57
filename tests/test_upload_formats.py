"""What an upload may be besides one JSON text: JSON Lines, gzip, a UTF-8 byte-order mark; and
what it may not be (UTF-16, UTF-32, other encodings), each refused saying so."""

import codecs
import gzip
import io
import json
import random
import re
import time
import tracemalloc
from pathlib import Path

import pytest
from moto import mock_aws

from service import json_lines, upload
from service.errors import BadRequest, InvalidJSON, PayloadTooLarge, UnsupportedMediaType
from service.storage import PART_SIZE, Storage, StorageSettings
from tests.probes import Collected, vouched

SUITE = Path(__file__).parent / "data" / "JSONTestSuite" / "test_parsing"
RECORDS = b'{"name": "Ada", "n": 1}\n{"name": "Grace", "n": 2}\n'


def received(body: bytes, filename: str = "data.json", limit: int = 10**9, **sent) -> Collected:
    """``body`` through the upload pipeline: what was stored (with its format), or the refusal."""
    sink = Collected()
    upload.receive(upload.Upload(io.BytesIO(body), filename, **sent), limit, sink)
    return sink


def one_line(path: Path) -> bytes:
    """A suite file as one line: its line breaks are whitespace (a string cannot hold one raw)."""
    return path.read_bytes().replace(b"\r\n", b" ").replace(b"\n", b" ")


@pytest.mark.parametrize("filename", ["records.jsonl", "records.json"])
def test_every_accepted_suite_file_is_a_line_of_json_lines(filename):
    lines = [one_line(path) for path in sorted(SUITE.glob("y_*.json"))]
    body = b'{"first": true}\n' + b"\n".join(lines) + b"\n"
    stored = received(body, filename)
    assert (stored.getvalue(), stored.format) == (body, "jsonl")


def rejected_as_lines() -> list[Path]:
    """The suite's rejected files that stay wrong on one line and are not blank (a blank line is fine)."""
    return [
        path
        for path in sorted(SUITE.glob("n_*.json"))
        if b"\n" not in path.read_bytes() and b"\r" not in path.read_bytes() and path.read_bytes().strip()
    ]


@pytest.mark.parametrize("path", rejected_as_lines(), ids=lambda p: p.name)
def test_every_rejected_suite_file_as_a_line_is_a_400_naming_its_line(path):
    body = b'{"n": 1}\n' + path.read_bytes() + b'\n{"n": 3}\n'
    for filename in ("records.jsonl", "records.json"):
        with pytest.raises(InvalidJSON, match=r"^Invalid JSON Lines at line 2, column \d+ \(byte \d+\): \w"):
            received(body, filename)


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        ({"filename": "log.jsonl"}, "its name"),
        ({"filename": "log.ndjson"}, "its name"),
        ({"filename": "log.jsonl.gz"}, "its name, compressed"),
        ({"filename": "x", "media_type": "application/x-ndjson"}, "its type"),
        ({"filename": "x", "media_type": "application/jsonl"}, "its type"),
        ({"filename": "export.json"}, "its content"),
    ],
)
def test_json_lines_is_known_by_name_type_or_content(sent, why):
    body = b'\xef\xbb\xbf{"a": 1}\r\n\r\n  \n{"a": [1,\t2]}\r\n'
    stored = received(body, **sent)
    assert (stored.getvalue(), stored.format) == (body, "jsonl"), why


def test_one_text_per_line_or_it_names_the_line():
    cases = {
        b'{"a": 1}\n{"a": 2} {"a": 3}\n': 2,  # two texts on one line
        b'{"a": 1}\n{"a":\n 2}\n': 2,  # a text across lines
        b'{"a": 1}\n[1,\n2]\n': 2,  # one that reads as JSON if the break were a comma
        b'{"a": 1}\n\n\n{"a": }\n': 4,
        b'{"a": 1}\n\x0b{"a": 2}\n': 2,  # a vertical tab, whitespace to yajl only
        b'{"a": 1}\n\x0c1e99999999999999999999\n': 2,
    }
    for body, line in cases.items():
        with pytest.raises(InvalidJSON, match=f"^Invalid JSON Lines at line {line}, "):
            received(body, "records.jsonl")


def test_one_json_text_followed_by_garbage_on_its_own_line_is_still_a_json_error():
    with pytest.raises(
        InvalidJSON, match=r"^Invalid JSON at line 1, column 9 \(byte 8\): parse error: trailing"
    ):
        received(b'{"a":1} x')
    with pytest.raises(  # found where the text ends: a string never closed
        InvalidJSON, match=r"^Invalid JSON at line 1, column 11 \(byte 10\): parse error: trailing"
    ):
        received(b'{"a":1} "x')
    stored = received(b'{\n  "pretty": "printed"\n}\n')
    assert stored.format == "json"
    with pytest.raises(InvalidJSON, match=r"^Invalid JSON Lines at line 1, "):
        received(b'{\n  "pretty": "printed"\n}\n', "says-it-is-lines.jsonl")


@pytest.mark.parametrize("body", [b"", b"  \n\r\n\t", b"\n"])
@pytest.mark.parametrize("filename", ["a.json", "a.jsonl"])
def test_no_json_text_at_all_is_a_400_either_way(body, filename):
    """And says so, whether or not the upload said it was JSON Lines (not "premature EOF")."""
    what = "empty" if not body else "no JSON text in it, only whitespace"
    with pytest.raises(InvalidJSON, match=what):
        received(body, filename)


def test_the_fast_json_lines_check_agrees_with_a_line_by_line_reading():
    """Random bodies of JSON tokens, line breaks and blanks, cut into chunks every way."""

    def truth(body: bytes) -> bool:
        texts = 0
        for line in body.split(b"\n"):
            if line.strip(b" \t\r"):
                try:
                    json.loads(line)
                except ValueError:
                    return False
                texts += 1
        return texts > 0

    tokens = [b"1", b"2", b"[", b"]", b"{", b"}", b",", b":", b'"a"', b"\n", b" ", b"\r\n", b"null"]
    rng = random.Random(20261201)
    for _ in range(5_000):
        body = b"".join(rng.choice(tokens) for _ in range(rng.randrange(1, 9)))
        for size in (1, 2, 5, 100):
            assert vouched(json_lines.FastLinesCheck(), body, size) == truth(body), (body, size)


def test_a_byte_order_mark_is_kept_and_read_past():
    body = codecs.BOM_UTF8 + b'[{"a": 1}]'
    assert received(body).getvalue() == body
    # The byte counts the mark, which the stored bytes keep; line 1's columns do not, as editors show it.
    with pytest.raises(InvalidJSON, match=r"line 1, column 11 \(byte 13\): parse error"):
        received(codecs.BOM_UTF8 + b'[{"a": 1},]')
    with pytest.raises(InvalidJSON, match=r"JSON Lines at line 2, column 5 \(byte 16\)"):
        received(codecs.BOM_UTF8 + b'{"a": 1}\n{"a"}\n', "x.jsonl")


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-16-le", "UTF-16 (little-endian)"),
        ("utf-16-be", "UTF-16 (big-endian)"),
        ("utf-16", "UTF-16"),
        ("utf-32-le", "UTF-32"),
        ("utf-32-be", "UTF-32"),
    ],
)
def test_utf16_and_utf32_are_refused_naming_the_encoding(encoding, named):
    body = '[{"name": "Zoë"}]'.encode(encoding)
    with pytest.raises(InvalidJSON, match=f"{re.escape(named)}.*Save it as UTF-8"):
        received(body)


def test_gzip_is_read_as_it_arrives_by_encoding_or_by_content():
    body = json.dumps([{"n": n, "text": "x" * 30} for n in range(20_000)]).encode()
    packed = gzip.compress(body)
    assert received(packed, content_encoding="gzip").getvalue() == body
    assert received(packed, "data.json.gz").getvalue() == body  # no header: its bytes say it
    lines = received(gzip.compress(RECORDS), "log.jsonl.gz")
    assert (lines.getvalue(), lines.format) == (RECORDS, "jsonl")


def test_concatenated_gzip_members_are_one_body():
    first, second = RECORDS.split(b"\n", 1)
    stored = received(gzip.compress(first + b"\n") + gzip.compress(second), "log.jsonl")
    assert stored.getvalue() == RECORDS


def test_truncated_or_broken_gzip_is_a_400():
    packed = gzip.compress(json.dumps(list(range(10_000))).encode())
    with pytest.raises(BadRequest, match="ends early"):
        received(packed[: len(packed) // 2])
    with pytest.raises(BadRequest, match="not valid gzip"):
        received(b"[1, 2]", content_encoding="gzip")


def test_content_encoding_is_a_list_of_codings_and_identity_is_none():
    """RFC 9110: codings in the order applied; ``identity`` is no coding at all."""
    assert received(gzip.compress(b"[1]"), content_encoding="GZIP, identity").getvalue() == b"[1]"
    assert received(gzip.compress(b"[1]"), content_encoding="identity, x-gzip").getvalue() == b"[1]"
    twice = gzip.compress(gzip.compress(b"[1]"))
    assert received(twice, content_encoding="gzip, gzip").getvalue() == b"[1]"
    with pytest.raises(UnsupportedMediaType, match="br"):
        received(b"[1]", content_encoding="gzip, br")


def test_a_gz_file_sent_with_content_encoding_gzip_is_decompressed_too():
    """The body's coding is one layer, the file's own gzip (any uploaded file whose bytes are gzip)
    another: what is stored is the JSON inside both."""
    file = gzip.compress(RECORDS)
    stored = received(gzip.compress(file), "log.jsonl.gz", content_encoding="gzip")
    assert (stored.getvalue(), stored.format) == (RECORDS, "jsonl")


def test_gzip_inside_a_gzip_file_is_a_400_saying_so():
    with pytest.raises(BadRequest, match="gzip inside gzip"):
        received(gzip.compress(gzip.compress(b"[1]")), "data.json.gz.gz")


def test_other_content_encodings_are_415():
    for encoding in ("br", "deflate", "compress", "zstd"):
        with pytest.raises(UnsupportedMediaType, match=encoding):
            received(b"[1]", content_encoding=encoding)
    assert received(b"[1]", content_encoding="identity").getvalue() == b"[1]"


def gzip_bomb(inflated: int) -> bytes:
    """gzip that inflates to a JSON array of ``inflated`` spaces, in about a thousandth of that:
    one member of 64 MiB of spaces, repeated (members one after another are one gzip stream)."""
    spaces = gzip.compress(b" " * 64 * 1024**2, compresslevel=9)
    return gzip.compress(b"[") + spaces * (inflated // (64 * 1024**2)) + gzip.compress(b"]")


def test_a_gzip_bomb_is_413_after_reading_about_the_limit_with_memory_flat():
    bomb = gzip_bomb(4 * 1024**3)  # 4 GiB of spaces in about 4 MB
    assert len(bomb) < 8 * 1024**2
    limit = 64 * 1024**2
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(PayloadTooLarge, match="once decompressed"):
        upload.receive(upload.Upload(io.BytesIO(bomb), "bomb.json"), limit, Discarded())
    seconds = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 1024**2, peak  # not the limit, not the bomb: a few chunks
    assert seconds < 30  # it stopped at the limit, far short of inflating 4 GiB


class Discarded:
    """A sink that keeps nothing: only what the pipeline holds is measured."""

    format = ""

    def write(self, data: bytes) -> None:
        pass


@pytest.fixture
def storage(aws_credentials):
    with mock_aws():
        storage = Storage(StorageSettings("formats", region="us-east-1"))
        storage.ensure_bucket()
        yield storage


def test_the_format_is_kept_with_the_dataset(storage):
    for body, format in ((b"[1]", "json"), (RECORDS, "jsonl")):
        dataset = upload.store(storage, upload.Upload(io.BytesIO(body), "data.json"), 10**9)
        assert (dataset.format, storage.get(dataset.id).format) == (format, format)
        head = storage.client.head_object(Bucket="formats", Key=f"datasets/{dataset.id}")
        assert head["ContentType"] == {"json": "application/json", "jsonl": "application/x-ndjson"}[format]


def test_json_lines_found_out_after_the_first_part_has_gone_still_says_so(storage):
    """The first line alone is past one part (8 MiB): S3 had the object's metadata already."""
    first = json.dumps({"texts": ["x" * 1000] * (PART_SIZE // 1000 + 10)}).encode()
    body = first + b"\n" + b'{"text": "short"}\n'
    dataset = upload.store(storage, upload.Upload(io.BytesIO(body), "big.json"), 10**9)
    assert storage.get(dataset.id) == dataset and dataset.format == "jsonl"
    with storage.open_content(dataset.id) as content:
        assert content.read() == body


def test_a_bomb_stores_nothing(storage):
    with pytest.raises(PayloadTooLarge):
        upload.store(storage, upload.Upload(io.BytesIO(gzip_bomb(256 * 1024**2)), "bomb.json"), 32 * 1024**2)
    assert storage.client.list_objects_v2(Bucket="formats").get("Contents", []) == []
    assert storage.client.list_multipart_uploads(Bucket="formats").get("Uploads", []) == []


@pytest.mark.parametrize("filename", ["mixed.jsonl", "mixed.json"])
def test_json_lines_whose_lines_need_doubles_and_decimals_apart_are_refused(filename):
    """The export reads all the lines one way: 1e400 needs Decimal, and Decimal cannot read an
    exponent past its own (which doubles read as 0), so no way reads both; the second is refused."""
    body = b'{"a": 1}\n[1e400]\n[1e-99999999999999999999]\n'
    with pytest.raises(InvalidJSON) as raised:
        received(body, filename)
    assert raised.value.message == (
        "Invalid JSON Lines at line 3, column 25 (byte 41): a number out of range."
    )
    assert received(body[: body.index(b"[1e-")], filename).format == "jsonl"  # 1e400 alone is fine
