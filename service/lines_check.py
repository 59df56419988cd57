"""JSON Lines checked chunk by chunk: every line blank or one JSON text, and at least one text.

At C speed (``json_lines.FastLinesCheck``) while it vouches; once it does not (a line that is not
JSON, or one only the exact parser can judge), the body is checked again from its start line by
line, each line with the one-text check (``text_check.TextCheck``), so that a refusal names its line
and says why, and every line is read as the export will read it.
"""

from collections.abc import Callable
from typing import IO

from . import json_syntax, text_check
from .errors import InvalidJSON
from .json_lines import FastLinesCheck

WHAT = "JSON Lines"
_BLANK = b" \t\r"


class LinesCheck:
    """``feed`` each chunk (kept in ``spool`` when ``copy``, as ``TextCheck`` does), then ``finish``."""

    def __init__(self, spool: IO[bytes], copy: bool) -> None:
        self.spool, self.copy = spool, copy
        self.size = 0
        self._fast = FastLinesCheck() if json_syntax.AVAILABLE else None
        self._lines = None if self._fast else _LineByLine(spool)

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.copy:
            self.spool.write(chunk)
        self._check(chunk)

    def replay(self, end: int) -> None:
        """Check the first ``end`` bytes already in the spool (another check had them)."""
        for block in text_check.spooled_blocks(self.spool, end):
            self.size += len(block)
            self._check(block)

    def finish(self) -> None:
        if self._fast is not None:
            try:
                self._fast.close()
                return
            except json_syntax.Refused:
                self._line_by_line()
        assert self._lines is not None
        self._lines.finish()

    def _check(self, chunk: bytes) -> None:
        if self._fast is None:
            assert self._lines is not None
            self._lines.feed(chunk)
            return
        try:
            if text_check.first_not_whitespace(chunk) != -1:  # the one-text check locates it
                raise json_syntax.Refused
            self._fast.feed(chunk)
        except json_syntax.TooLarge:
            raise text_check.invalid_at(self.spool, self.size, text_check.TOO_LARGE, WHAT) from None
        except json_syntax.Refused:
            self._line_by_line()

    def _line_by_line(self) -> None:
        """From now on, line by line: the bytes so far first, from the spool."""
        self._fast, self._lines = None, _LineByLine(self.spool)
        for block in text_check.spooled_blocks(self.spool, self.size):
            self._lines.feed(block)


class _LineByLine:
    """Each line of the body checked as one JSON text as its pieces arrive (memory flat however long
    a line is); ``spool`` holds the whole body, to say where a refusal is."""

    def __init__(self, spool: IO[bytes]) -> None:
        self._spool = spool
        self._position = 0  # bytes of the body seen
        self._line_start = 0
        self._line: text_check.TextCheck | None = None
        self._blank = True
        self._texts = 0

    def feed(self, chunk: bytes) -> None:
        for index, piece in enumerate(chunk.split(b"\n")):
            if index:
                self._end_line()
                self._position += 1
                self._line_start = self._position
            if piece:
                self._blank = self._blank and not piece.strip(_BLANK)
                self._located(self._text().feed, piece)
                self._position += len(piece)

    def finish(self) -> None:
        self._end_line()
        if not self._texts:
            reason = text_check.ONLY_WHITESPACE if self._position else text_check.EMPTY
            raise text_check.invalid_at(self._spool, self._position, reason, WHAT)

    def _text(self) -> text_check.TextCheck:
        if self._line is None:
            self._line = text_check.TextCheck(text_check.new_spool(), copy=True)
        return self._line

    def _end_line(self) -> None:
        line, self._line = self._line, None
        if line is None:
            return
        with line:
            if not self._blank:
                self._located(line.finish)
                self._texts += 1
        self._blank = True

    def _located(self, check: Callable[..., None], *args: bytes) -> None:
        """Run one line's ``check``, its refusal said of the whole body: which line, which column."""
        try:
            check(*args)
        except InvalidJSON as error:
            if self._line is not None:
                self._line.close()
            offset = self._line_start + (error.offset or 0)
            raise text_check.invalid_at(self._spool, offset, error.reason, WHAT) from None
