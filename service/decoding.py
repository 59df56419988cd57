"""What an upload's bytes are before they are JSON: gzip, and which Unicode encoding.

Pure and streaming: nothing here reads a whole body. ``gunzip`` inflates chunks as they arrive,
with the size limit on what comes out, so a small file that inflates to gigabytes is refused after
producing little more than the limit and holding one output chunk. ``sniff_encoding`` reads the
first four bytes: JSON is UTF-8 (RFC 8259), optionally after a byte-order mark, and a UTF-16 or
UTF-32 file is recognised (by its mark, or by where the NUL bytes fall, RFC 4627 section 3) so
that its refusal can say what the file is and how to save it as UTF-8.
"""

import codecs
import re
import zlib
from collections.abc import Iterable, Iterator

from .errors import BadRequest, InvalidJSON, PayloadTooLarge

SNIFF_BYTES = 4  # what sniff_encoding needs to see of a body
OUTPUT_CHUNK = 256 * 1024  # the most gunzip inflates at a time
_INPUT_SLICE = 64 * 1024  # input handed to zlib at a time: bounds the copy it makes of what it leaves
_GZIP = 16 + zlib.MAX_WBITS  # zlib's gzip framing: header, deflate, CRC-32 and length checked
_GZIP_MAGIC = b"\x1f\x8b"
# The 32-bit marks first: UTF-32 LE's begins with UTF-16 LE's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Without a mark, a wide encoding shows as NULs around the first character, which can only be
# one that begins a JSON text; a NUL beside anything else is no text, for the parser to refuse.
_FIRST = rb'[ \t\r\n\[{"\-0-9tfn]'
_WIDE_PATTERNS = (
    (re.compile(rb"\0\0\0" + _FIRST), "utf-32-be"),
    (re.compile(rb"\0" + _FIRST), "utf-16-be"),
    (re.compile(_FIRST + rb"\0\0\0"), "utf-32-le"),
    (re.compile(_FIRST + rb"\0"), "utf-16-le"),
)
_READABLE = {
    "utf-16-le": "UTF-16 (little-endian)",
    "utf-16-be": "UTF-16 (big-endian)",
    "utf-32-le": "UTF-32 (little-endian)",
    "utf-32-be": "UTF-32 (big-endian)",
}


def is_gzip(first_bytes: bytes) -> bool:
    """Whether a body beginning with ``first_bytes`` (two are enough) is gzip. JSON text can never
    begin so: 0x1F is a control character."""
    return first_bytes.startswith(_GZIP_MAGIC)


def gunzip(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """The decompressed bytes of the gzip data in ``chunks``, in pieces of at most OUTPUT_CHUNK.

    Members one after another are one stream (``cat a.gz b.gz``, as gzip itself reads them), and
    zero bytes after a member are padding, as gzip ignores them. PayloadTooLarge as soon as the
    output passes ``limit`` bytes, before that piece is yielded; BadRequest for data that is not
    gzip, fails its checks, or ends inside a member.
    """
    inflater = zlib.decompressobj(_GZIP)  # None between members
    produced = 0
    for chunk in chunks:
        view = memoryview(chunk)
        for start in range(0, len(view), _INPUT_SLICE):
            data = view[start : start + _INPUT_SLICE]
            while True:
                if inflater is None:  # padding, or the next member
                    data = bytes(data).lstrip(b"\0")
                    if not data:
                        break
                    if not _GZIP_MAGIC.startswith(data[:2]):
                        raise BadRequest(
                            "The upload goes on after its gzip data with bytes that are not gzip."
                        )
                    inflater = zlib.decompressobj(_GZIP)
                try:
                    piece = inflater.decompress(data, OUTPUT_CHUNK)
                except zlib.error as error:
                    raise BadRequest(f"The upload is not valid gzip data ({_reason(error)}).") from None
                produced += len(piece)
                if produced > limit:
                    raise PayloadTooLarge(
                        f"The upload is larger than the limit of {limit} bytes once decompressed."
                    )
                if piece:
                    yield piece
                if inflater.eof:
                    data, inflater = inflater.unused_data, None
                    if not data:
                        break
                else:
                    # A full piece may leave output inside zlib even when all input is taken.
                    data = inflater.unconsumed_tail
                    if not data and len(piece) < OUTPUT_CHUNK:
                        break
    if inflater is not None:
        raise BadRequest("The gzip data ends early: the upload was cut short inside a gzip member.")


def _reason(error: zlib.error) -> str:
    """zlib's words without its code: ``incorrect header check``, ``invalid block type`` ..."""
    return str(error).rpartition(": ")[2] or "corrupt"


def sniff_encoding(first_bytes: bytes) -> str:
    """The encoding of a JSON body beginning with ``first_bytes`` (SNIFF_BYTES of them, or the whole
    body if shorter), as a Python codec name: ``"utf-8"``, ``"utf-8-sig"`` (a UTF-8 byte-order mark),
    ``"utf-16-le"``, ``"utf-16-be"``, ``"utf-32-le"`` or ``"utf-32-be"``.

    Without a mark: JSON begins with an ASCII character, so a NUL among the first bytes is the high
    part of a wider code unit: ``00 00 00 xx`` is UTF-32 BE, ``00 xx`` UTF-16 BE, ``xx 00 00 00``
    UTF-32 LE, ``xx 00`` UTF-16 LE, where ``xx`` is a character a JSON text can begin with (so a
    binary file with NULs is not called UTF-16). Anything else is UTF-8 (its validity is the
    parser's business).
    """
    for mark, encoding in _BYTE_ORDER_MARKS:
        if first_bytes.startswith(mark):
            return encoding
    head = first_bytes[:SNIFF_BYTES]
    for pattern, encoding in _WIDE_PATTERNS:
        if pattern.match(head):
            return encoding
    return "utf-8"


def require_utf8(first_bytes: bytes) -> str:
    """``sniff_encoding``'s answer when it is UTF-8 (``"utf-8"`` or ``"utf-8-sig"``); otherwise
    InvalidJSON (400) naming the encoding and saying how to save the file as UTF-8."""
    encoding = sniff_encoding(first_bytes)
    if encoding in _READABLE:
        raise InvalidJSON(
            f"The file is {_READABLE[encoding]} text, and JSON must be UTF-8 (RFC 8259). Save it as"
            ' UTF-8 and upload it again: in Notepad, "Save as" with Encoding "UTF-8"; in PowerShell,'
            " Out-File or Set-Content with -Encoding utf8."
        )
    return encoding
