"""gzip and encodings: what an upload's bytes are before they are JSON."""

import codecs
import gzip
import io
import itertools
import json
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import decoding
from service.errors import BadRequest, InvalidJSON, PayloadTooLarge
from tests import realworld

SUITE = Path(__file__).parent / "data" / "JSONTestSuite" / "test_parsing"
BODY = realworld.GITHUB_ISSUES.read_bytes()


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def inflated(chunks: list[bytes], limit: int = 1 << 30) -> bytes:
    return b"".join(decoding.gunzip(chunks, limit))


def zero_blocks() -> bytes:
    """Raw deflate for a MiB of zeros, ending on a full flush: the compressor is back where it
    started, so the same bytes again are valid deflate for another MiB (1,037 bytes a MiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)


def bomb(chunk_size: int, taken: list[int]) -> Iterator[bytes]:
    """A gzip stream that never ends (a 1 MB file of it inflates to 1 GB, 60 MB to 60 GB), in
    chunks of ``chunk_size``, counting in ``taken`` the bytes the reader has pulled."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    blocks = zero_blocks() * (chunk_size // len(zero_blocks()) + 1)
    for piece in itertools.chain([header], itertools.repeat(blocks)):
        taken[0] += len(piece)
        yield piece


def test_is_gzip() -> None:
    assert decoding.is_gzip(gzip.compress(b"[]"))
    assert decoding.is_gzip(b"\x1f\x8b")
    for body in (b"", b"\x1f", b"[1]", b'{"a":1}', codecs.BOM_UTF8 + b"{}", b"\x8b\x1f"):
        assert not decoding.is_gzip(body)


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 64 * 1024 + 1, 1 << 20])
@pytest.mark.parametrize("members", [1, 2, 5])
def test_gunzip_gives_back_the_body_however_it_is_cut(chunk_size: int, members: int) -> None:
    assert inflated(cut(realworld.gzipped(BODY, members=members), chunk_size)) == BODY


def test_pieces_are_at_most_one_output_chunk() -> None:
    body = json.dumps([{"id": n, "text": "abc" * 50} for n in range(20_000)]).encode()
    pieces = list(decoding.gunzip([gzip.compress(body)], 1 << 30))
    assert b"".join(pieces) == body
    assert max(map(len, pieces)) <= decoding.OUTPUT_CHUNK
    assert len(pieces) > 1


def test_members_concatenated_with_padding_and_empty_members() -> None:
    data = gzip.compress(b"[1,") + bytes(512) + gzip.compress(b"") + gzip.compress(b"2]") + bytes(3)
    for size in (1, 3, len(data)):
        assert inflated(cut(data, size)) == b"[1,2]"


def test_the_file_that_gzip_itself_writes() -> None:
    """``gzip.open`` writes a header with a file name and a modification time."""
    sink = io.BytesIO()
    with gzip.GzipFile(filename="issues.json", mode="wb", fileobj=sink, mtime=1_700_000_000) as out:
        out.write(BODY)
    assert b"issues.json\0" in sink.getvalue()[:40]
    assert inflated([sink.getvalue()]) == BODY


def test_every_truncation_is_a_bad_request() -> None:
    body = realworld.MONGOEXPORT.read_bytes()
    first = gzip.compress(body[:300])
    data = first + gzip.compress(body[300:])
    for end in range(1, len(data)):
        if end != len(first):  # one whole member: complete gzip data
            with pytest.raises(BadRequest, match="ends early"):
                inflated(cut(data[:end], 100))


def test_a_truncated_stream_says_it_was_cut_short() -> None:
    data = gzip.compress(BODY)
    with pytest.raises(BadRequest) as caught:
        inflated([data[: len(data) // 2]])
    assert caught.value.message == "The gzip data ends early: the upload was cut short inside a gzip member."


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-8] + bytes(4) + data[-4:],  # the CRC-32
        lambda data: data[:-4] + b"\x01\x00\x00\x00",  # the length
        lambda data: data[:2] + b"\x07" + data[3:],  # the compression method
        lambda data: data[:12] + b"\xff" * 8 + data[20:],  # the deflate data
    ],
)
def test_corrupt_data_is_a_bad_request(damage) -> None:
    """The reason in brackets is zlib's own words (``incorrect data check`` ...)."""
    with pytest.raises(BadRequest, match=r"^The upload is not valid gzip data \(.+\)\.$"):
        inflated([damage(gzip.compress(BODY))])


def test_bytes_after_the_gzip_data_are_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="goes on after its gzip data"):
        inflated([gzip.compress(b"[]") + b"\n"])


def test_the_limit_is_on_the_decompressed_size() -> None:
    data = gzip.compress(BODY)
    assert inflated([data], limit=len(BODY)) == BODY
    with pytest.raises(PayloadTooLarge) as caught:
        inflated([data], limit=len(BODY) - 1)
    assert caught.value.message == (
        f"The upload is larger than the limit of {len(BODY) - 1} bytes once decompressed."
    )


def test_a_bomb_stops_at_the_limit_having_read_about_the_limit() -> None:
    """Endless zeros at 1000:1: refused once 64 MiB have come out, after reading about 64 KiB of
    it, never holding more than a chunk in memory."""
    limit = 64 << 20
    taken = [0]
    produced = 0
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            for piece in decoding.gunzip(bomb(256 * 1024, taken), limit):
                produced += len(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert limit - decoding.OUTPUT_CHUNK < produced <= limit
    assert taken[0] <= limit // 1000 + 2 * 256 * 1024  # what the limit needs, and the chunk in hand
    assert peak < 4 * (256 * 1024 + decoding.OUTPUT_CHUNK)


def test_sniffing_byte_order_marks() -> None:
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        assert decoding.sniff_encoding(realworld.encoded(encoding)) == encoding
    assert decoding.sniff_encoding(realworld.windows_file()) == "utf-8-sig"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_sniffing_without_a_mark(encoding: str) -> None:
    assert decoding.sniff_encoding(realworld.encoded(encoding, bom=False)) == encoding
    for text in ("1", "[]", '"\u00e9"', '"\u4e2d"', " {}", "\t\r\n[", '"\U0001f600"'):
        assert decoding.sniff_encoding(text.encode(encoding)) == encoding


def test_sniffing_utf8() -> None:
    for body in (b"", b"1", b"[]", b"{}", '"\u00e9"'.encode(), '"\u4e2d\u6587"'.encode(), b'"a\0"'):
        assert decoding.sniff_encoding(body) == "utf-8"
    assert decoding.sniff_encoding(b"\xef\xbb\xbf") == "utf-8-sig"
    assert decoding.sniff_encoding(BODY) == "utf-8"


def test_binary_files_with_nul_bytes_are_not_called_utf16_or_utf32() -> None:
    """A wide encoding is named only where its first character can begin JSON (whitespace, a
    bracket, a quote, a digit, a minus or a literal's letter); a lone NUL, an icon file or a
    run of NULs is no text at all, for the parser to refuse at its first byte."""
    for body in (b"\0", b"\0\0\1\0", b"\0\0\0\0", b"\x01\0", b"\0\x89PNG", b"\0\0\0\x07"):
        assert decoding.sniff_encoding(body) == "utf-8", body


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("i_string_UTF-16LE_with_BOM.json", "utf-16-le"),
        ("i_string_utf16LE_no_BOM.json", "utf-16-le"),
        ("i_string_utf16BE_no_BOM.json", "utf-16-be"),
        ("i_structure_UTF-8_BOM_empty_object.json", "utf-8-sig"),
        ("n_structure_UTF8_BOM_no_data.json", "utf-8-sig"),
        ("y_string_utf8.json", "utf-8"),
    ],
)
def test_sniffing_the_suite_files(name: str, encoding: str) -> None:
    assert decoding.sniff_encoding((SUITE / name).read_bytes()[: decoding.SNIFF_BYTES]) == encoding


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (realworld.encoded("utf-16-le"), "UTF-16 (little-endian)"),
        (realworld.encoded("utf-16-be", bom=False), "UTF-16 (big-endian)"),
        (realworld.encoded("utf-32-le", bom=False), "UTF-32 (little-endian)"),
        (realworld.encoded("utf-32-be"), "UTF-32 (big-endian)"),
    ],
)
def test_utf16_and_utf32_are_refused_by_name(body: bytes, named: str) -> None:
    with pytest.raises(InvalidJSON) as caught:
        decoding.require_utf8(body[: decoding.SNIFF_BYTES])
    assert caught.value.status == 400
    assert caught.value.message.startswith(f"The file is {named} text, and JSON must be UTF-8")
    assert "Save it as UTF-8" in caught.value.message


def test_utf8_is_required_and_passes() -> None:
    assert decoding.require_utf8(BODY) == "utf-8"
    assert decoding.require_utf8(realworld.windows_file()) == "utf-8-sig"
