"""One JSON text, checked chunk by chunk as it arrives, without building the document; an error
located to the byte, with its line and column.

yajl is a strict streaming parser: it rejects NaN, Infinity, comments, trailing commas and
invalid UTF-8. It has two leniencies, both closed here: it takes a form feed or a vertical tab for
whitespace (neither can appear raw in valid JSON, so any 0x0B or 0x0C byte is rejected), and it
says nothing of a string left open after a whole value (``[1] "abc``): ``json_syntax.SyntaxCheck.close`` asks
yajl, and where no yajl is loaded the check follows whether the bytes end inside a string
(``string_state``).

Two parsers share the work. ``json_syntax.FastCheck`` checks at C speed and vouches only for
documents the exact parser accepts; when it refuses, the exact parser (ijson reading numbers as
Decimal and unbounded int, as the CSV export reads them) is replayed over the spooled prefix and
has the last word. A document it refuses is refused even where doubles would read it (an exponent
past Decimal's, ``1e-99999999999999999999``): every stored document reads exactly, so a CSV never
breaks off half-way, and a JSON Lines body never needs doubles for one line and Decimal for another.
"""

import collections
import decimal
import tempfile
from collections.abc import Callable, Iterator
from typing import IO

import ijson

from . import json_syntax
from .errors import InvalidJSON

CHUNK_SIZE = 256 * 1024
SPOOL_IN_MEMORY = 1024**2  # bodies up to this size never touch the disk
# Bytes yajl takes for whitespace and JSON does not (RFC 8259's are space, tab, CR and LF), with
# their names. Valid JSON holds neither raw, not even in a string.
_NOT_WHITESPACE = {b"\x0b": "a vertical tab", b"\x0c": "a form feed"}
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
EMPTY = "the body is empty"
ONLY_WHITESPACE = "there is no JSON text in it, only whitespace"
_WHITESPACE = b" \t\r\n"
# What yajl holds for one value grows with it (json_syntax.MAX_PARSER_MEMORY bounds it).
TOO_LARGE = (
    "one value is larger than this service reads: strings and numbers must be under 8 MiB,"
    " nesting under 16 million levels"
)


class _Discard:
    """An ijson target that keeps nothing."""

    send = collections.deque(maxlen=0).append


class _Parser:
    """ijson's yajl push parser reading numbers exactly (Decimal, unbounded int), its events thrown
    away as C code makes them. The export reads with doubles first, for speed, and exactly when
    doubles cannot hold a number (1E400, 2**64): it reads every document this one does."""

    exact = True

    def __init__(self) -> None:
        self._parser = ijson.basic_parse_coro(_Discard(), use_float=False)

    def feed(self, chunk: bytes) -> None:
        self._parser.send(chunk)

    def close(self) -> None:
        self._parser.close()


_AnyParser = json_syntax.SyntaxCheck | _Parser


def _first_parser() -> _AnyParser:
    return json_syntax.FastCheck() if json_syntax.AVAILABLE else _Parser()


class TextCheck:
    """One JSON text checked chunk by chunk, the chunks kept in a spool to locate an error in.

    ``feed`` adds a chunk to the spool (a temporary file: memory up to 1 MiB, then disk) and checks
    it; ``finish`` ends the text. With ``copy`` False the chunks are the spool's own, read back
    from it (as when a text turns out to be JSON Lines and is checked again as such).
    """

    def __init__(self, spool: IO[bytes], copy: bool) -> None:
        self.spool, self.copy = spool, copy
        self.parser = _first_parser()
        # The fast check goes on parsing after ijson takes over, to bound the memory both need.
        self._guard = self.parser if isinstance(self.parser, json_syntax.FastCheck) else None
        self.size = 0
        # Without yajl, whether the bytes taken end inside a string: string_state.
        self._in_string, self._escaped = False, False

    def __enter__(self) -> "TextCheck":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the spool if it is this check's own."""
        if self.copy:
            self.spool.close()

    def feed(self, chunk: bytes) -> None:
        spool, start = self.spool, self.size
        self.size += len(chunk)
        if self.copy:
            spool.write(chunk)
        if first_not_whitespace(chunk) != -1:
            raise _locate_error(spool, start)
        try:
            if self._guard is not None and self._guard is not self.parser:
                self._guard.track(chunk)
            self.parser.feed(chunk)
        except json_syntax.Invalid:
            assert self._guard is self.parser  # the fast check is the one that says Invalid
            if self._guard.doubts(chunk):
                raise _locate_error(spool, start) from None
            raise _locate_syntax_error(spool, start) from None
        except _PARSER_ERRORS as error:
            _raise_unless_refusal(error)
            if self.parser.exact:
                raise _locate_error(spool, start) from None
            self.parser = _successor_after(spool, self.size)
        except json_syntax.TooLarge:
            raise invalid_at(spool, self.size, TOO_LARGE) from None
        if self._guard is None:
            self._in_string, self._escaped = string_state(chunk, self._in_string, self._escaped)

    def finish(self) -> None:
        if self.size == 0:
            raise invalid_at(self.spool, 0, EMPTY)
        try:
            _finish(self.parser, self.spool, self.size)
            if self._guard is not None and self._guard is not self.parser:
                _finish(self._guard, self.spool, self.size)  # for a string left open at the end
        except InvalidJSON:
            # yajl's "premature EOF" would blame a text that never began.
            if all(not block.strip(_WHITESPACE) for block in spooled_blocks(self.spool, self.size)):
                raise invalid_at(self.spool, self.size, ONLY_WHITESPACE) from None
            raise
        if self._in_string:  # ijson says nothing of it
            raise invalid_at(self.spool, self.size, json_syntax.OPEN_STRING)


def new_spool() -> IO[bytes]:
    """A temporary file for a body's bytes: in memory up to 1 MiB, then on disk."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)


def string_state(data: bytes, inside: bool, escaped: bool) -> tuple[bool, bool]:
    """Whether the stream is inside a string after ``data``, and its next byte escaped, from the
    state before ``data``: quotes counted at C speed, less the escaped ones. Only for bytes yajl
    took, where a backslash stands only in a string, and escapes the next byte unless escaped.

    ijson ends a document whose one value is complete without a word for a string left open
    after it (``[1] "abc``), as yajl does (see ``json_syntax.SyntaxCheck.close``). Where no yajl
    is loaded, this is asked as the chunks go by."""
    if not data:
        return inside, escaped
    if escaped:
        data = data[1:]  # the escaped byte, a quote or a backslash among them
    if b"\\" not in data:
        return inside ^ (data.count(b'"') % 2 == 1), False
    quotes = data.count(b'"')
    if b'\\"' in data:
        quotes -= data.replace(b"\\\\", b"").count(b'\\"')  # escaped ones: after an odd run
    trailing = len(data) - len(data.rstrip(b"\\"))
    return inside ^ (quotes % 2 == 1), trailing % 2 == 1


def first_not_whitespace(chunk: bytes) -> int:
    """Where in ``chunk`` the first byte is that yajl would take for whitespace and JSON does not
    (a vertical tab, a form feed), or -1."""
    found = [at for at in (chunk.find(byte) for byte in _NOT_WHITESPACE) if at != -1]
    return min(found, default=-1)


def spooled_blocks(spool: IO[bytes], end: int) -> Iterator[bytes]:
    """The first ``end`` bytes of ``spool`` again, in blocks; the spool is left at ``end``."""
    spool.seek(0)
    position = 0
    while position < end:
        block = spool.read(min(CHUNK_SIZE, end - position))
        position += len(block)
        yield block
    spool.seek(end)


def _finish(parser: _AnyParser, spool: IO[bytes], size: int) -> None:
    """End the document: what was fed must be one whole JSON value."""
    try:
        parser.close()
    except json_syntax.Invalid as error:
        raise invalid_at(spool, size, _reason(error)) from None
    except _PARSER_ERRORS as error:
        _raise_unless_refusal(error)
        if parser.exact:
            raise invalid_at(spool, size, _reason(error)) from None
        _finish(_successor_after(spool, size), spool, size)


def _successor_after(spool: IO[bytes], end: int) -> _Parser:
    """The exact parser, which decides once the fast check would not vouch for the first ``end``
    bytes of ``spool``, fed those bytes. Raises InvalidJSON, located, if it refuses them."""
    successor = _Parser()
    refused_at = _replay(successor, spool, end)
    if refused_at is not None:
        raise _locate_error(spool, refused_at)
    spool.seek(end)  # where the next chunk goes, or comes from
    return successor


def _replay(parser: _AnyParser, spool: IO[bytes], end: int) -> int | None:
    """Feed ``parser`` the first ``end`` bytes of ``spool``: where the block it refused starts, or
    None if it took them all (the spool is then at ``end``)."""
    position = 0
    for block in spooled_blocks(spool, end):
        try:
            parser.feed(block)
        except _PARSER_ERRORS as error:
            _raise_unless_refusal(error)
            return position
        position += len(block)
    return None


def _locate_error(spool: IO[bytes], chunk_start: int) -> InvalidJSON:
    """Find the byte where the chunk starting at ``chunk_start`` broke the document, as the exact
    parser sees it (see ``_located``)."""
    return _located(_Parser, spool, chunk_start)


def _locate_syntax_error(spool: IO[bytes], chunk_start: int) -> InvalidJSON:
    """``_locate_error`` for what yajl itself refused: ijson, on the same yajl, refuses it at the
    same byte for the same reason, so yajl alone parses the prefix again, ten times as fast."""
    return _located(json_syntax.SyntaxCheck, spool, chunk_start, scout=True)


def _located(
    new_parser: Callable[[], _AnyParser], spool: IO[bytes], chunk_start: int, scout: bool = False
) -> InvalidJSON:
    """The refusal, by parsers ``new_parser`` makes, of the chunk starting at ``chunk_start``.

    Only runs on the error path. The good prefix is parsed again by one parser per size of
    ``_PIECES`` and one more; then the first takes the chunk in the largest pieces until it
    refuses one, while the others take each piece it took; the second does the same within the
    refused piece in smaller pieces, and so on; the last takes the smallest refused piece a byte
    at a time: the position is exact to the byte the parser stopped at. The pieces stop at a vertical
    tab or form feed, which yajl would take for whitespace. Should the prefix be refused already, the error
    is in the block that was.

    With ``scout`` (yajl's parsers), one more parser takes the chunk in one feed first and says
    where it stopped: the others take the bytes well before that in one feed too, and the pieces
    begin there. Each feed reads again a value the parsers hold, up to 8 MiB begun in an earlier
    chunk, so this saves most of them; the pieces still decide the byte.
    """
    parsers = [new_parser() for _ in range(len(_PIECES) + 1 + scout)]
    refused_at = _replay(_InStep(*parsers), spool, chunk_start)
    if refused_at is not None:
        return _located(new_parser, spool, refused_at, scout)
    chunk = spool.read(CHUNK_SIZE)
    stop = first_not_whitespace(chunk)
    start, end = 0, len(chunk) if stop == -1 else stop  # where the refusal is, or after
    if scout:
        stopped = parsers.pop().stopped_at(chunk[:end])  # type: ignore[union-attr]
        if stopped is not None and stopped > _SCOUT_MARGIN:
            start = stopped - _SCOUT_MARGIN
            try:
                _InStep(*parsers).feed(chunk[:start])
            except _PARSER_ERRORS:  # not where the scout said: narrow it down from the start
                return _located(new_parser, spool, chunk_start)
    for level, size in enumerate(_PIECES):
        taken = _taken(parsers[level], _InStep(*parsers[level + 1 :]), chunk[start:end], size)
        if taken == end - start:  # all of it: the refusal is at the stop, or the chunk's end
            start, end = end, len(chunk)
            break
        start, end = start + taken, min(start + taken + size, end)
    return _refusal_in(parsers[-1], spool, chunk_start + start, chunk[start:end])


_PIECES = (4096, 64)
"""The sizes a refused chunk is fed in to narrow down the refusal, before its last bytes go one at
a time. yajl keeps a token that spans two feeds whole, and lexes it again at every feed: so the
fewer feeds the better. 64 pieces at each level, against 512 pieces of 512 bytes then 512 single
bytes, which took 2 s after a 250 KB string of escapes (fed a byte at a time from
the chunk's start: 10 s after a 250 KB string)."""
_SCOUT_MARGIN = 16
"""Bytes before where the scout stopped that still go in pieces: yajl stops after the token it
refuses, or the byte after it, and a byte fed alone is refused no later."""


def _taken(probe: _AnyParser, followers: "_InStep", data: bytes, size: int) -> int:
    """How many bytes of ``data`` ``probe`` takes in pieces of ``size`` before the piece it refuses
    (all of them if it refuses none); ``followers`` take each piece it took."""
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        try:
            probe.feed(piece)
        except _PARSER_ERRORS as error:
            _raise_unless_refusal(error)
            return start
        followers.feed(piece)
    return len(data)


class _InStep:
    """Parsers fed the same bytes."""

    def __init__(self, *parsers: _AnyParser) -> None:
        self._parsers = parsers

    def feed(self, chunk: bytes) -> None:
        for parser in self._parsers:
            parser.feed(chunk)


def _refusal_in(parser: _AnyParser, spool: IO[bytes], offset: int, data: bytes) -> InvalidJSON:
    """Feed ``parser``, which took everything before ``offset``, ``data`` (the bytes there) a byte
    at a time, and name the byte it refuses."""
    for index in range(len(data)):
        byte = data[index : index + 1]
        if byte in _NOT_WHITESPACE:
            return invalid_at(spool, offset + index, f"{_NOT_WHITESPACE[byte]} is not JSON whitespace")
        try:
            parser.feed(byte)
        except _PARSER_ERRORS as error:
            _raise_unless_refusal(error)
            return invalid_at(spool, offset + index, _reason(error))
    return invalid_at(spool, offset + len(data), "unexpected data")


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


def invalid_at(spool: IO[bytes], offset: int, reason: str, what: str = "JSON") -> InvalidJSON:
    """An InvalidJSON naming the line and column of byte ``offset`` (``what``: what it is not)."""
    spool.seek(0)
    line, line_start, position = 1, 0, 0
    while position < offset:
        block = spool.read(min(CHUNK_SIZE, offset - position))
        newlines = block.count(b"\n")
        if newlines:
            line += newlines
            line_start = position + block.rindex(b"\n") + 1
        position += len(block)
    return InvalidJSON.at(what, line, offset - line_start + 1, offset, reason)


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
