"""Raw deflate and CRC-32 for the zip writer, from the fastest binding installed.

Chosen by measurement (``python -m bench.bench_compression``; figures in docs/DESIGN.md): on sheet XML,
ISA-L (PyPI ``isal``) at level 2 deflates at several hundred MB/s, four times the standard library's
zlib at level 1, for a workbook about 1.1x the size xlsxwriter writes at zlib's default level 6.
zlib-ng at level 1 is fast too but 1.5x the size, past the 1.25x we allow; at level 3 it is smaller
but slower than ISA-L. ``isal`` has wheels for Linux (x86-64, arm64), macOS and Windows on x86-64;
where it is not installed (Windows on arm64, other interpreters) the standard library's zlib at
level 3 takes its place: slower, about as small, the same format.
"""

from types import ModuleType

try:
    from isal import isal_zlib as backend

    LEVEL = 2
except ImportError:  # pragma: no cover - a platform without an isal wheel
    import zlib as backend

    LEVEL = 3

_RAW = -15
"""Negative window bits: a bare deflate stream, as zip wants, with no zlib header or checksum."""


class Compressor:
    """Deflate a stream written in pieces, counting its uncompressed size and CRC-32 as it goes."""

    __slots__ = ("_compressobj", "_crc32", "crc", "size")

    def __init__(self, level: int = LEVEL, module: ModuleType = backend) -> None:
        self._compressobj = module.compressobj(level, module.DEFLATED, _RAW)
        self._crc32 = module.crc32
        self.crc = 0
        self.size = 0

    def compress(self, data: bytes) -> bytes:
        self.crc = self._crc32(data, self.crc)
        self.size += len(data)
        return self._compressobj.compress(data)

    def flush(self) -> bytes:
        return self._compressobj.flush()


def independent_block(data: bytes) -> bytes:
    """``data`` deflated on its own and ended with a sync flush, so blocks made this way, one after the
    other and then ``FINAL_BLOCK``, are one deflate stream (the way pigz joins its pieces). No state
    lives between the calls: each costs about 3% in size on 64 KiB of sheet XML."""
    compressor = backend.compressobj(LEVEL, backend.DEFLATED, _RAW)
    return compressor.compress(data) + compressor.flush(backend.Z_SYNC_FLUSH)


FINAL_BLOCK = backend.compressobj(LEVEL, backend.DEFLATED, _RAW).flush()
"""An empty last block, which ends a stream of ``independent_block``s."""


def crc32(data: bytes, value: int = 0) -> int:
    return backend.crc32(data, value)
