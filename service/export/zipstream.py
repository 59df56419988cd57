"""A zip archive written front to back onto a sink that cannot seek (an HTTP response, an S3 upload).

An entry is written one of three ways:

- ``add(name, data)``: small and whole, so its local header carries its sizes and CRC;
- ``stream(name)``: compressed straight to the sink as it is written. Its sizes are unknown when the
  local header goes out, so the header sets flag bit 3 and a data descriptor follows the data;
- ``append(spool)``: a ``Spool`` compressed into a temporary file while other entries were being
  streamed, then copied in whole, its header complete like ``add``'s.

The central directory at the end repeats every entry's sizes and offset; it is what spreadsheet programs
and ``zipfile`` read. ZIP64 is used only where it is needed (APPNOTE 4.3.9, 4.5.3): an entry whose sizes
or offset pass 4 GiB gets a ZIP64 extra field in the central directory (and, for a spooled or whole
entry, in its local header), a streamed entry that grew past 4 GiB gets 8-byte sizes in its data
descriptor, and an archive past 65,535 entries or with its directory past 4 GiB gets the ZIP64 end
records. Small workbooks stay plain zip, which every reader takes (xlsxwriter's documentation warns
that Excel may offer to repair ZIP64 files).
"""

import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from service.export import deflate

ZIP32_LIMIT = 0xFFFFFFFF
"""Sizes and offsets above this need ZIP64."""
ENTRY_LIMIT = 0xFFFF
"""Entry counts above this need the ZIP64 end records."""

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_DESCRIPTOR = struct.Struct("<IIII")
_DESCRIPTOR64 = struct.Struct("<IIQQ")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_END64_LOCATOR = struct.Struct("<IIQI")

_DEFLATED = 8
_NEEDS_DESCRIPTOR = 0x08
_UTF8_NAME = 0x800
_VERSION = 20
_VERSION64 = 45
_DOS_DATE = (1980 - 1980) << 9 | 1 << 5 | 1  # 1980-01-01 00:00, as xlsxwriter: the same cells, same bytes
_DOS_TIME = 0
_COPY_CHUNK = 1 << 20


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Output(Protocol):
    """Where an entry's data goes: ``write`` as it comes, ``finish`` once it is whole."""

    def write(self, data: bytes, /) -> None: ...

    def finish(self) -> None: ...


@dataclass
class _Entry:
    """What the central directory says about one entry."""

    name: bytes
    flags: int
    crc: int
    compressed: int
    size: int
    offset: int


class ZipWriter:
    """Entries written in order to ``sink``; ``close()`` writes the central directory.

    ``zip64_limit`` and ``entry_limit`` exist so that tests can reach ZIP64 without writing 4 GiB.
    """

    def __init__(self, sink: Sink, *, zip64_limit: int = ZIP32_LIMIT, entry_limit: int = ENTRY_LIMIT) -> None:
        self._sink = sink
        self._offset = 0
        self._entries: list[_Entry] = []
        self._zip64_limit = zip64_limit
        self._entry_limit = entry_limit
        self._streaming = False

    def _write(self, data: bytes) -> None:
        if data:
            self._sink.write(data)
            self._offset += len(data)

    def add(self, name: str, data: bytes) -> None:
        """One whole entry, compressed at once."""
        compressor = deflate.Compressor()
        compressed = compressor.compress(data) + compressor.flush()
        entry = self._start(name, crc=compressor.crc, compressed=len(compressed), size=len(data))
        self._write_local_header(entry)
        self._write(compressed)

    def stream(self, name: str) -> "StreamedEntry":
        """An entry compressed straight to the sink; nothing else may be written until it is closed."""
        if self._streaming:
            raise RuntimeError("an entry is still being streamed")
        self._streaming = True
        entry = self._start(name, crc=0, compressed=0, size=0, flags=_NEEDS_DESCRIPTOR)
        self._write_local_header(entry)
        return StreamedEntry(self, entry)

    def append(self, spool: "Spool") -> None:
        """Copy in an entry that ``spool`` compressed to a temporary file; ``spool`` must be finished."""
        compressed = spool.file.tell()
        entry = self._start(spool.name, crc=spool.crc, compressed=compressed, size=spool.size)
        self._write_local_header(entry)
        spool.file.seek(0)
        while chunk := spool.file.read(_COPY_CHUNK):
            self._write(chunk)

    def close(self) -> None:
        """Write the central directory and the end records. The sink is left open."""
        if self._streaming:
            raise RuntimeError("an entry is still being streamed")
        start = self._offset
        for entry in self._entries:
            self._write_central_header(entry)
        self._write_end(start, self._offset - start)

    def _start(self, name: str, *, crc: int, compressed: int, size: int, flags: int = 0) -> _Entry:
        encoded = name.encode()
        if not name.isascii():
            flags |= _UTF8_NAME
        entry = _Entry(encoded, flags, crc, compressed, size, self._offset)
        self._entries.append(entry)
        return entry

    def _write_local_header(self, entry: _Entry) -> None:
        # A streamed entry's sizes are zero here; its data descriptor carries them.
        zip64 = max(entry.size, entry.compressed) > self._zip64_limit
        extra = struct.pack("<HHQQ", 1, 16, entry.size, entry.compressed) if zip64 else b""
        sizes = (ZIP32_LIMIT, ZIP32_LIMIT) if zip64 else (entry.compressed, entry.size)
        header = _LOCAL_HEADER.pack(
            0x04034B50,
            _VERSION64 if zip64 else _VERSION,
            entry.flags,
            _DEFLATED,
            _DOS_TIME,
            _DOS_DATE,
            entry.crc,
            *sizes,
            len(entry.name),
            len(extra),
        )
        self._write(header + entry.name + extra)

    def _finish_streamed(self, entry: _Entry) -> None:
        if entry.size > self._zip64_limit or entry.compressed > self._zip64_limit:
            descriptor = _DESCRIPTOR64.pack(0x08074B50, entry.crc, entry.compressed, entry.size)
        else:
            descriptor = _DESCRIPTOR.pack(0x08074B50, entry.crc, entry.compressed, entry.size)
        self._write(descriptor)
        self._streaming = False

    def _write_central_header(self, entry: _Entry) -> None:
        fields = []  # the ZIP64 extra holds, in this order, exactly the fields that overflow
        size, compressed, offset = entry.size, entry.compressed, entry.offset
        if size > self._zip64_limit:
            fields.append(size)
            size = ZIP32_LIMIT
        if compressed > self._zip64_limit:
            fields.append(compressed)
            compressed = ZIP32_LIMIT
        if offset > self._zip64_limit:
            fields.append(offset)
            offset = ZIP32_LIMIT
        extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
        version = _VERSION64 if fields else _VERSION
        header = _CENTRAL_HEADER.pack(
            0x02014B50,
            version,
            version,
            entry.flags,
            _DEFLATED,
            _DOS_TIME,
            _DOS_DATE,
            entry.crc,
            compressed,
            size,
            len(entry.name),
            len(extra),
            0,  # comment
            0,  # disk
            0,  # internal attributes
            0,  # external attributes
            offset,
        )
        self._write(header + entry.name + extra)

    def _write_end(self, start: int, length: int) -> None:
        count = len(self._entries)
        if count > self._entry_limit or start > self._zip64_limit or length > self._zip64_limit:
            end64 = self._offset
            self._write(
                _END64.pack(0x06064B50, 44, _VERSION64, _VERSION64, 0, 0, count, count, length, start)
            )
            self._write(_END64_LOCATOR.pack(0x07064B50, 0, end64, 1))
            count, start, length = 0xFFFF, ZIP32_LIMIT, ZIP32_LIMIT
        self._write(_END.pack(0x06054B50, 0, 0, count, count, length, start, 0))


class StreamedEntry:
    """An entry being compressed straight to the archive's sink."""

    def __init__(self, archive: ZipWriter, entry: _Entry) -> None:
        self._archive = archive
        self._entry = entry
        self._compressor = deflate.Compressor()

    def write(self, data: bytes) -> None:
        self._archive._write(self._compressor.compress(data))

    def finish(self) -> None:
        """Flush the compressor and write the data descriptor."""
        self._archive._write(self._compressor.flush())
        entry = self._entry
        entry.crc, entry.size = self._compressor.crc, self._compressor.size
        entry.compressed = self._archive._offset - entry.offset - _LOCAL_HEADER.size - len(entry.name)
        self._archive._finish_streamed(entry)


class Spool:
    """An entry compressed into an anonymous temporary file, to be appended to an archive later.

    Each ``write`` is deflated as a block of its own (``deflate.independent_block``), so a spool holds
    no compressor between writes: a workbook may have hundreds of child sheets spooling at once, and a
    compressor each would be a few hundred KB each. Write in pieces of tens of KB or more, or the
    blocks cost in size. Close it (or use it as a context manager) on every path: closing removes the
    file.
    """

    def __init__(self, name: str, *, opener: Callable[[], BinaryIO] = tempfile.TemporaryFile) -> None:
        self.name = name
        self.file = opener()
        self.crc = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self.crc = deflate.crc32(data, self.crc)
        self.size += len(data)
        self.file.write(deflate.independent_block(data))

    def finish(self) -> None:
        """End the deflate stream; the spool is then ready for ``ZipWriter.append``."""
        self.file.write(deflate.FINAL_BLOCK)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
