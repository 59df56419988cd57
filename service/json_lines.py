"""A JSON Lines check at C speed: every line blank or one JSON text, without a Python step per line.

Two yajl handles read each chunk, neither told anything about lines:

- ``texts`` reads the bytes as they are, as any number of JSON texts one after another
  (``yajl_allow_multiple_values``), and vouches for them as ``json_syntax.FastCheck`` does;
- ``records`` reads them as the body of one JSON array, every run of whitespace that holds a
  newline turned into a comma (``[line1,line2,...]``).

Both accept exactly when every line is blank or one JSON text. A line with two texts (``1 2``,
``{}{}``) breaks the array; a text that spans lines must hold a newline between two of its
tokens, and no two tokens of a JSON value may stand both side by side (what ``texts`` sees) and
with a comma between them (what ``records`` sees): after a value inside a container only a comma
or the container's end may follow, everywhere else a comma may not. So a refusal of either means
"not JSON Lines", or that the exact parser must decide (``Refused``), and the caller then checks
line by line to say which line and why.
"""

import re

from . import json_syntax

# Both begin with a literal, which re searches for at C speed.
_LINE_BREAKS = re.compile(rb"\n[ \t\r\n]*")
_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")
_WHITESPACE = b" \t\r\n"
_BLANK = b" \t\r"


class FastLinesCheck:
    """``feed`` each chunk, then ``close``: Refused (or its Invalid) if the body may not be JSON
    Lines, TooLarge as ``json_syntax`` bounds a value. Needs ``json_syntax.AVAILABLE``."""

    def __init__(self) -> None:
        self._texts = json_syntax.FastCheck(multiple_values=True)
        self._records = json_syntax.SyntaxCheck()
        self._records.feed(b"[")
        self._started = False  # a text has begun
        self._owed = False  # the last chunk ended in a line break: a comma before the next text

    def feed(self, chunk: bytes) -> None:
        self._texts.feed(chunk)
        self._records.feed(self._array_part(chunk))

    def close(self) -> None:
        """Every line checked out, and there was a text at all."""
        if not self._started:
            raise json_syntax.Invalid("no JSON text")
        self._texts.close()
        self._records.feed(b"]")
        self._records.close()

    def _array_part(self, chunk: bytes) -> bytes:
        """``chunk`` as a piece of the array: line breaks as commas, blank lines gone, no comma
        before the first text or after the last."""
        prefix = b""
        if not self._started or self._owed:
            chunk = chunk.lstrip(_WHITESPACE)
            if not chunk:
                return b""
            prefix = b"," if self._started else b""
            self._started, self._owed = True, False
        # Most chunks have no blank line: then every line break is one comma, at bytes.replace's speed.
        part = _LINE_BREAKS.sub(b",", chunk) if _BLANK_LINE.search(chunk) else chunk.replace(b"\n", b",")
        if b"\n" in chunk[len(chunk.rstrip(_WHITESPACE)) :]:
            # The chunk ends in a line break, which may go on in the next chunk or end the last line.
            part, self._owed = part.rstrip(_BLANK)[:-1], True
        return prefix + part
