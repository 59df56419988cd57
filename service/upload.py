"""Receiving an upload: spool the body to a temporary file, enforce the size limit and
validate it as RFC 8259 JSON while the bytes arrive, without building the document.

yajl is a strict streaming parser: it rejects NaN, Infinity, comments, trailing commas and
invalid UTF-8. Its one leniency is accepting a form feed as whitespace; a raw form feed can
never appear in valid JSON (inside strings it must be escaped), so any 0x0C byte is rejected here.

Two parsers share the work. ``json_syntax.FastCheck`` checks at C speed and vouches only for
documents the exact parser accepts; when it refuses, the exact parser (ijson, reading every
value as the export will) is replayed over the spooled prefix and has the last word.
"""

import collections
import decimal
import re
import tempfile
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import quote

import ijson

from . import json_syntax
from .errors import InvalidJSON, PayloadTooLarge

CHUNK_SIZE = 256 * 1024
SPOOL_IN_MEMORY = 1024**2  # bodies up to this size never touch the disk
_FORM_FEED = b"\x0c"
# ValueError: an integer longer than Python reads (4,300 digits, a guard against quadratic
# parsing); yajl's C callback surfaces it as a SystemError caused by that ValueError.
_PARSER_ERRORS = (
    json_syntax.Refused,
    ijson.JSONError,
    UnicodeDecodeError,
    decimal.InvalidOperation,
    ValueError,
    SystemError,
)
# What yajl holds for one value grows with it (json_syntax.MAX_PARSER_MEMORY bounds it).
_TOO_LARGE = (
    "one value is larger than this service reads: strings and numbers must be under 8 MiB,"
    " nesting under 16 million levels"
)
DEFAULT_FILENAME = "dataset.json"
# S3 keeps all of an object's metadata in 2 KiB of headers; the percent-encoded name
# must leave room for the rest.
_MAX_ENCODED_FILENAME = 1024
# Control characters, and the bidirectional controls that make "evil\u202egnp.json" display
# as "eviljson.png" wherever the name is shown.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class _Discard:
    """An ijson target that keeps nothing."""

    send = collections.deque(maxlen=0).append


class _Parser:
    """ijson's yajl push parser, its events thrown away as C code makes them.

    The fast one reads numbers as doubles and 64-bit integers and refuses numbers those cannot
    hold, such as 1E400 or 2**64; the exact one reads them as Decimal and unbounded int but
    refuses a few the fast one takes (1e-99999999999999999999). The export tries them in the
    same order, so a document either accepts is stored.
    """

    def __init__(self, exact: bool) -> None:
        self.exact = exact
        self._parser = ijson.basic_parse_coro(_Discard(), use_float=not exact)

    def feed(self, chunk: bytes) -> None:
        self._parser.send(chunk)

    def close(self) -> None:
        self._parser.close()


_AnyParser = json_syntax.SyntaxCheck | _Parser


def _first_parser() -> _AnyParser:
    return json_syntax.FastCheck() if json_syntax.AVAILABLE else _Parser(exact=False)


def receive(
    stream: IO[bytes], max_bytes: int, forward: Callable[[bytes], None] | None = None
) -> tuple[IO[bytes], int]:
    """Check ``stream`` as it comes, keeping its bytes in a temporary file.

    Returns the file, rewound, and its size. A seekable ``stream`` (the part of a multipart form
    Werkzeug has spooled) is a file already: it is checked in place and returned itself.
    Raises PayloadTooLarge past ``max_bytes`` and InvalidJSON (saying where it broke) for
    anything that is not one JSON value. Each chunk that parsed is also passed to ``forward``
    (a storage upload running meanwhile).
    """
    copy = not stream.seekable()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) if copy else stream  # noqa: SIM115 (returned)
    parser = _first_parser()
    # The fast check goes on parsing after ijson takes over, to bound the memory both need.
    guard = parser if isinstance(parser, json_syntax.FastCheck) else None
    size = 0
    try:
        while chunk := stream.read(CHUNK_SIZE):
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"The upload is larger than the limit of {max_bytes} bytes.")
            if copy:
                spool.write(chunk)
            if _FORM_FEED in chunk:
                raise _locate_error(spool, size - len(chunk))
            try:
                if guard is not None and guard is not parser:
                    guard.track(chunk)
                parser.feed(chunk)
            except json_syntax.Invalid:
                raise _locate_syntax_error(spool, size - len(chunk)) from None
            except _PARSER_ERRORS:
                if parser.exact:
                    raise _locate_error(spool, size - len(chunk)) from None
                parser = _successor_after(parser, spool, size)
            except json_syntax.TooLarge:
                raise _invalid_at(spool, size, _TOO_LARGE) from None
            if forward is not None:
                forward(chunk)
        if size == 0:
            raise _invalid_at(spool, 0, "the body is empty")
        _finish(parser, spool, size)
    except BaseException:
        if copy:
            spool.close()
        raise
    spool.seek(0)
    return spool, size


def _finish(parser: _AnyParser, spool: IO[bytes], size: int) -> None:
    """End the document: what was fed must be one whole JSON value."""
    try:
        parser.close()
    except json_syntax.Invalid as error:
        raise _invalid_at(spool, size, _reason(error)) from None
    except _PARSER_ERRORS as error:
        if parser.exact:
            raise _invalid_at(spool, size, _reason(error)) from None
        _finish(_successor_after(parser, spool, size), spool, size)


def _successor_after(parser: _AnyParser, spool: IO[bytes], end: int) -> _Parser:
    """The parser that decides after ``parser`` refused the first ``end`` bytes of ``spool``, fed
    those bytes: the fast check defers to the fast ijson parser, which defers to the exact one.
    Raises InvalidJSON, located, if the exact parser refuses them too."""
    successor = _Parser(exact=isinstance(parser, _Parser))
    refused_at = _replay(successor, spool, end)
    if refused_at is not None:
        if successor.exact:
            raise _locate_error(spool, refused_at)
        return _successor_after(successor, spool, end)
    spool.seek(end)  # where the next chunk goes, or comes from
    return successor


def _replay(parser: _AnyParser, spool: IO[bytes], end: int) -> int | None:
    """Feed ``parser`` the first ``end`` bytes of ``spool``: where the block it refused starts, or
    None if it took them all (the spool is then at ``end``)."""
    spool.seek(0)
    position = 0
    while position < end:
        block = spool.read(min(CHUNK_SIZE, end - position))
        try:
            parser.feed(block)
        except _PARSER_ERRORS:
            return position
        position += len(block)
    return None


def _locate_error(spool: IO[bytes], chunk_start: int, exact: bool = True) -> InvalidJSON:
    """Find the byte where the chunk starting at ``chunk_start`` broke the document.

    Only runs on the error path: the good prefix is parsed again, then the failing chunk
    one byte at a time, so the position is exact to the byte yajl stopped at. A prefix the
    exact parser refuses (a number only the fast one reads) is parsed by the fast one instead.
    """
    parser = _Parser(exact)
    refused_at = _replay(parser, spool, chunk_start)
    if refused_at is not None:
        # Neither reads the whole prefix: the error is in it, where the fast one stopped.
        return _locate_error(spool, *((chunk_start, False) if exact else (refused_at, True)))
    return _refusal_in_chunk(parser, spool, chunk_start)


def _locate_syntax_error(spool: IO[bytes], chunk_start: int) -> InvalidJSON:
    """``_locate_error`` for what yajl itself refused: ijson, on the same yajl, refuses it at the
    same byte for the same reason, so yajl alone parses the prefix again, ten times as fast."""
    check = json_syntax.SyntaxCheck()
    _replay(check, spool, chunk_start)  # took it before
    return _refusal_in_chunk(check, spool, chunk_start)


def _refusal_in_chunk(parser: _AnyParser, spool: IO[bytes], chunk_start: int) -> InvalidJSON:
    """Feed ``parser``, which took everything before ``chunk_start``, the chunk there a byte at a
    time, and name the byte it refuses."""
    chunk = spool.read(CHUNK_SIZE)  # the block that was refused
    for index in range(len(chunk)):
        byte = chunk[index : index + 1]
        if byte == _FORM_FEED:
            return _invalid_at(spool, chunk_start + index, "a form feed is not JSON whitespace")
        try:
            parser.feed(byte)
        except _PARSER_ERRORS as error:
            return _invalid_at(spool, chunk_start + index, _reason(error))
    return _invalid_at(spool, chunk_start + len(chunk), "unexpected data")


def _invalid_at(spool: IO[bytes], offset: int, reason: str) -> InvalidJSON:
    """An InvalidJSON naming the line and column of byte ``offset``."""
    spool.seek(0)
    line, line_start, position = 1, 0, 0
    while position < offset:
        block = spool.read(min(CHUNK_SIZE, offset - position))
        newlines = block.count(b"\n")
        if newlines:
            line += newlines
            line_start = position + block.rindex(b"\n") + 1
        position += len(block)
    column = offset - line_start + 1
    return InvalidJSON(f"Invalid JSON at line {line}, column {column} (byte {offset}): {reason}.")


def _reason(error: Exception) -> str:
    """yajl's own words, first line only (the rest is an ASCII-art pointer)."""
    if isinstance(error, UnicodeDecodeError):
        return "invalid UTF-8 or an invalid \\u escape in a string"
    if isinstance(error.__cause__ or error, ValueError) and not isinstance(error, ijson.JSONError):
        return "an integer with more digits than this service reads (4,300)"
    if isinstance(error, decimal.InvalidOperation):
        return "a number out of range"
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text).strip().splitlines()[0].rstrip(".")
    return text or "not valid JSON"


def clean_filename(raw: str | None) -> str:
    """The name to keep for an upload: path parts and control characters stripped,
    cut (at a character boundary) to what S3 metadata can carry."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    name = _CONTROL_CHARACTERS.sub("", name).strip()
    while len(quote(name, safe="")) > _MAX_ENCODED_FILENAME:
        name = name[:-1]
    return name if name not in ("", ".", "..") else DEFAULT_FILENAME
