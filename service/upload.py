"""The upload pipeline: an upload's body received, decoded, checked and stored as it arrives;
and the names uploads are kept under."""

import codecs
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Protocol
from urllib.parse import quote

from . import decoding, lines_check, text_check
from .errors import BadRequest, InvalidJSON, PayloadTooLarge, UnsupportedMediaType
from .storage import Dataset, Storage

CHUNK_SIZE = text_check.CHUNK_SIZE
READ_SIZE = 4 * CHUNK_SIZE
"""Bytes asked of a raw request body at a time: gunicorn receives up to 1 MiB per call, and a smaller
read makes it copy what it holds over again for each piece handed out."""
JSON_LINES_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines"})
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
_GZIP_CODINGS = frozenset({"gzip", "x-gzip"})  # Content-Encoding names of gzip
_AFTER_ONE_TEXT = "trailing garbage"  # yajl's words for what follows one whole JSON text
DEFAULT_FILENAME = "dataset.json"
# S3 keeps all of an object's metadata in 2 KiB of headers; the percent-encoded name
# must leave room for the rest.
_MAX_ENCODED_FILENAME = 1024
# Control characters, and the bidirectional controls that make "evil\u202egnp.json" display
# as "eviljson.png" wherever the name is shown.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Upload:
    """An upload as the request gave it, before anything was read."""

    stream: IO[bytes]
    filename: str
    # The body's length as declared (a raw body's Content-Length); None for a chunked body, whose
    # size is known only at its end, and for a multipart file, whose form says where it ends.
    declared_size: int | None = None
    media_type: str | None = None  # of a raw body, or of the multipart file
    content_encoding: str | None = None  # of a raw body


class Sink(Protocol):
    """Where the checked bytes go (a storage writer), the format they turned out to be, and the
    name they are kept under."""

    format: str
    filename: str

    def write(self, data: bytes) -> None: ...


def store(storage: Storage, sent: Upload, max_bytes: int) -> Dataset:
    """The upload pipeline: receive the body, decode it, check it and store it, all as it arrives.

    receive (``_received``: chunks, the size limit, the declared length) -> decode (``_decoded``:
    gzip; then the encoding, which must be UTF-8) -> check (``_Document``: one JSON text or JSON
    Lines, the format decided, errors located) -> store (the storage's writer sends parts to S3
    while the rest still arrives). Nothing is visible in the bucket before the whole body has
    checked out; any error aborts the writer.
    """
    with storage.dataset_writer(sent.filename, format_hint(sent) or "json") as writer:
        receive(sent, max_bytes, writer)
        return writer.commit()


def receive(sent: Upload, max_bytes: int, sink: Sink) -> None:
    """Check the upload as it comes, writing each chunk of the dataset's bytes to ``sink`` and
    setting its ``format``. Raises PayloadTooLarge past ``max_bytes`` (of the decompressed bytes),
    BadRequest for a body shorter than declared or broken gzip, UnsupportedMediaType for an
    encoding other than gzip, and InvalidJSON (saying where it broke) for anything that is neither
    one JSON text nor JSON Lines, or not UTF-8."""
    raw, gzipped = _decoded(sent, _received(sent, max_bytes), max_bytes)
    sink.filename = inflated_name(sent.filename) if gzipped else sent.filename
    head, chunks = _peek(raw, decoding.SNIFF_BYTES)
    bom = len(codecs.BOM_UTF8) if decoding.require_utf8(head) == "utf-8-sig" else 0
    spool = text_check.new_spool()
    hint = format_hint(sent)
    sink.format = hint or "json"
    skip = bom
    try:
        document = _Document(spool, hint=hint)
        for chunk in chunks:
            sink.write(chunk)  # the bytes as uploaded (a BOM kept); the check reads past the BOM
            text, skip = chunk[skip:], max(0, skip - len(chunk))
            if text:
                document.feed(text)
                if document.format != sink.format:
                    sink.format = document.format
        document.finish()
        sink.format = document.format
    except InvalidJSON as refusal:
        raise refusal.after(bom) from None
    finally:
        spool.close()


def inflated_name(filename: str) -> str:
    """The name of a gzip upload's decompressed bytes, which is what is stored: ``data.json.gz``
    gives ``data.json``, so the original downloads under a name that says what it holds."""
    if not filename.lower().endswith(".gz"):
        return filename
    return filename[: -len(".gz")].rstrip() or DEFAULT_FILENAME


def format_hint(sent: Upload) -> str | None:
    """ "jsonl" when the upload says it is JSON Lines (its type, or its name); None if it does not
    say, and the content decides."""
    if sent.media_type in JSON_LINES_TYPES:
        return "jsonl"
    if sent.filename.lower().removesuffix(".gz").endswith(JSON_LINES_SUFFIXES):
        return "jsonl"
    return None


def _received(sent: Upload, max_bytes: int) -> Iterator[bytes]:
    """The body in chunks, up to ``max_bytes``; all of what it declared, or BadRequest."""
    size = 0
    while received := sent.stream.read(READ_SIZE):
        size += len(received)
        if size > max_bytes:
            raise PayloadTooLarge(f"The upload is larger than the limit of {max_bytes} bytes.")
        for start in range(0, len(received), CHUNK_SIZE):  # a read within one chunk is not copied
            yield received[start : start + CHUNK_SIZE]
    if sent.declared_size is not None and size != sent.declared_size:
        # gunicorn ends the body quietly when the client hangs up half-way; a prefix that happens
        # to be valid JSON must not be stored as if it were the upload.
        raise BadRequest(
            f"The body ended after {size} of the {sent.declared_size} bytes its Content-Length declared."
        )


def _decoded(sent: Upload, raw: Iterator[bytes], max_bytes: int) -> tuple[Iterator[bytes], bool]:
    """The dataset's bytes, and whether they were gzip: the body's Content-Encoding undone (a list
    of codings in the order applied, RFC 9110; ``identity`` is none), then the file's own gzip if
    its first bytes are gzip's, each inflated as it arrives with the limit on what comes out."""
    codings = [coding.strip().lower() for coding in (sent.content_encoding or "").split(",")]
    codings = [coding for coding in codings if coding not in ("", "identity")]
    if not set(codings) <= _GZIP_CODINGS:
        raise UnsupportedMediaType(
            f"Unsupported Content-Encoding {sent.content_encoding!r}: send the body as it is, or gzip."
        )
    for _coding in codings:
        raw = decoding.gunzip(raw, max_bytes)
    head, raw = _peek(raw, 2)
    if not decoding.is_gzip(head):
        return raw, bool(codings)
    head, raw = _peek(decoding.gunzip(raw, max_bytes), 2)
    if decoding.is_gzip(head):
        raise BadRequest("The upload is gzip inside gzip: decompress it once, then upload it again.")
    return raw, True


def _peek(chunks: Iterator[bytes], size: int) -> tuple[bytes, Iterator[bytes]]:
    """The first ``size`` bytes of ``chunks`` (fewer if it ends first), and all of them still to come.
    Reads as few chunks as that takes (one, unless they are tiny)."""
    seen: list[bytes] = []
    for chunk in chunks:
        seen.append(chunk)
        if sum(map(len, seen)) >= size:
            break
    return b"".join(seen)[:size], itertools.chain(seen, chunks)


class _Document:
    """The uploaded text checked as the format it says it is (``hint``), or else as one JSON text
    until it turns out to be JSON Lines: one whole text, then more on the next lines. ``format``
    is what it is so far."""

    def __init__(self, spool: IO[bytes], hint: str | None) -> None:
        self.format = hint or "json"
        self._decided = hint is not None
        checks = {"json": text_check.TextCheck, "jsonl": lines_check.LinesCheck}
        self._check: text_check.TextCheck | lines_check.LinesCheck = checks[self.format](spool, copy=True)

    def feed(self, text: bytes) -> None:
        try:
            self._check.feed(text)
        except InvalidJSON as refusal:
            self._as_lines(refusal)

    def finish(self) -> None:
        try:
            self._check.finish()
        except InvalidJSON as refusal:
            self._as_lines(refusal)
            try:
                self._check.finish()
            except InvalidJSON as error:
                raise _explaining(refusal, error) from None

    def _as_lines(self, refusal: InvalidJSON) -> None:
        """One JSON text followed by more: check it all again as JSON Lines, and go on so if it is."""
        if self._decided or _AFTER_ONE_TEXT not in refusal.reason:
            raise refusal
        self._decided = True
        check = self._check
        lines = lines_check.LinesCheck(check.spool, copy=False)
        try:
            lines.replay(check.size)
        except InvalidJSON as error:
            raise _explaining(refusal, error) from None
        lines.copy = check.copy
        self._check, self.format = lines, "jsonl"


def _explaining(as_json: InvalidJSON, as_lines: InvalidJSON) -> InvalidJSON:
    """Of a body refused both as one JSON text and as JSON Lines, the refusal that explains more:
    JSON Lines' if its first line was whole, else the one text's (``[1] "abc`` is not JSON Lines)."""
    return as_json if as_lines.line == 1 else as_lines


def clean_filename(raw: str | None) -> str:
    """The name to keep for an upload: path parts and control characters stripped,
    cut (at a character boundary) to what S3 metadata can carry."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    name = _CONTROL_CHARACTERS.sub("", name).strip()
    while len(quote(name, safe="")) > _MAX_ENCODED_FILENAME:
        name = name[:-1]
    return name if name not in ("", ".", "..") else DEFAULT_FILENAME
