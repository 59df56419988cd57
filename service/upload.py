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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import quote

import ijson

from . import json_syntax
from .errors import BadRequest, InvalidJSON, PayloadTooLarge
from .storage import Dataset, Storage

CHUNK_SIZE = 256 * 1024
SPOOL_IN_MEMORY = 1024**2  # bodies up to this size never touch the disk
_FORM_FEED = b"\x0c"
# What the parsers raise when they refuse a document. ValueError and SystemError only as the one
# refusal they carry (see ``refused_by_parser``); any other is a bug of ours, not the upload's.
_PARSER_ERRORS = (
    json_syntax.Refused,
    ijson.JSONError,
    UnicodeDecodeError,
    decimal.InvalidOperation,
    ValueError,
    SystemError,
)
_DIGIT_LIMIT = "integer string conversion"  # in the ValueError of int() past sys.get_int_max_str_digits()
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


@dataclass(frozen=True)
class Upload:
    """An upload as the request gave it, before anything was read."""

    stream: IO[bytes]
    filename: str
    # The body's length as declared (a Content-Length, or the size of a multipart file Werkzeug has
    # spooled); None for a chunked body, whose size is known only at its end.
    declared_size: int | None = None


def store(storage: Storage, sent: Upload, max_bytes: int) -> Dataset:
    """The upload pipeline: receive the body, check it and store it, all as it arrives.

    receive (``_received``: chunks, the size limit, the declared length) -> decode (the bytes the
    dataset is made of) -> check (``_Check``: one JSON text, located errors) -> store (the
    storage's writer sends parts to S3 while the rest still arrives). Nothing is visible in the
    bucket before the whole body has checked out; any error aborts the writer.
    """
    with storage.dataset_writer(sent.filename) as writer:
        receive(sent, max_bytes, writer.write)
        return writer.commit()


def receive(sent: Upload, max_bytes: int, sink: Callable[[bytes], None]) -> int:
    """Check the upload as it comes, passing each chunk that checked out to ``sink``; returns its
    size. Raises PayloadTooLarge past ``max_bytes``, BadRequest for a body shorter than declared
    and InvalidJSON (saying where it broke) for anything that is not one JSON value."""
    with _Check.for_stream(sent.stream) as check:
        for chunk in _received(sent, max_bytes):
            check.feed(chunk)
            sink(chunk)
        check.finish()
        return check.size


def _received(sent: Upload, max_bytes: int) -> Iterator[bytes]:
    """The body in chunks, up to ``max_bytes``; all of what it declared, or BadRequest."""
    size = 0
    while chunk := sent.stream.read(CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The upload is larger than the limit of {max_bytes} bytes.")
        yield chunk
    if sent.declared_size is not None and size != sent.declared_size:
        # gunicorn ends the body quietly when the client hangs up half-way; a prefix that happens
        # to be valid JSON must not be stored as if it were the upload.
        raise BadRequest(
            f"The body ended after {size} of the {sent.declared_size} bytes its Content-Length declared."
        )


class _Check:
    """One JSON text checked chunk by chunk, the chunks kept in a spool to locate an error in.

    A seekable stream (the part of a multipart form Werkzeug has spooled) is its own spool;
    anything else is copied into a temporary file (memory up to 1 MiB, then disk).
    """

    def __init__(self, spool: IO[bytes], copy: bool) -> None:
        self.spool, self._copy = spool, copy
        self.parser = _first_parser()
        # The fast check goes on parsing after ijson takes over, to bound the memory both need.
        self._guard = self.parser if isinstance(self.parser, json_syntax.FastCheck) else None
        self.size = 0

    @classmethod
    def for_stream(cls, stream: IO[bytes]) -> "_Check":
        if stream.seekable():
            return cls(stream, copy=False)
        return cls(tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY), copy=True)

    def __enter__(self) -> "_Check":
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._copy:
            self.spool.close()

    def feed(self, chunk: bytes) -> None:
        spool, start = self.spool, self.size
        self.size += len(chunk)
        if self._copy:
            spool.write(chunk)
        if _FORM_FEED in chunk:
            raise _locate_error(spool, start)
        try:
            if self._guard is not None and self._guard is not self.parser:
                self._guard.track(chunk)
            self.parser.feed(chunk)
        except json_syntax.Invalid:
            raise _locate_syntax_error(spool, start) from None
        except _PARSER_ERRORS as error:
            _raise_unless_refusal(error)
            if self.parser.exact:
                raise _locate_error(spool, start) from None
            self.parser = _successor_after(self.parser, spool, self.size)
        except json_syntax.TooLarge:
            raise _invalid_at(spool, self.size, _TOO_LARGE) from None

    def finish(self) -> None:
        if self.size == 0:
            raise _invalid_at(self.spool, 0, "the body is empty")
        _finish(self.parser, self.spool, self.size)


def _finish(parser: _AnyParser, spool: IO[bytes], size: int) -> None:
    """End the document: what was fed must be one whole JSON value."""
    try:
        parser.close()
    except json_syntax.Invalid as error:
        raise _invalid_at(spool, size, _reason(error)) from None
    except _PARSER_ERRORS as error:
        _raise_unless_refusal(error)
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
        except _PARSER_ERRORS as error:
            _raise_unless_refusal(error)
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
            _raise_unless_refusal(error)
            return _invalid_at(spool, chunk_start + index, _reason(error))
    return _invalid_at(spool, chunk_start + len(chunk), "unexpected data")


def refused_by_parser(error: BaseException) -> bool:
    """Whether ``error`` is a parser refusing the document, rather than a failure of our own.

    ValueError counts only as Python refusing an integer past its digit limit (a guard against
    quadratic parsing), which yajl's C callback in ijson surfaces as a SystemError caused by it."""
    if isinstance(
        error, json_syntax.Refused | ijson.JSONError | UnicodeDecodeError | decimal.InvalidOperation
    ):
        return True
    cause = error.__cause__ if isinstance(error, SystemError) else error
    return isinstance(cause, ValueError) and _DIGIT_LIMIT in str(cause)


def _raise_unless_refusal(error: Exception) -> None:
    if not refused_by_parser(error):
        raise error


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
    if _DIGIT_LIMIT in str(error.__cause__ or error):
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
