"""A JSON check at C speed, for uploads: yajl called through ctypes with no callbacks.

ijson's C backend makes a Python object for every token, which held uploads to about
60 MB/s; yajl on its own, told nothing about the tokens, checks ten times as fast and
releases the GIL while it does, so the relay to S3 runs meanwhile.

It is a fast path, not a judge. It accepts only documents the export's parser reads (ijson on
the same yajl, numbers as Decimal and int, strings as UTF-8), and raises ``Refused`` on
everything else, including a few valid documents it cannot vouch for cheaply; the caller then
lets ijson decide, as the export would. What yajl alone does not see:

- invalid UTF-8 that yajl's lexer lets through: it checks only that each lead byte has the right
  number of continuation bytes, so overlong forms, surrogates and code points past U+10FFFF pass.
  Those are the sequences that start with the lead bytes C0, C1 or F5-F7, or with E0, ED, F0 or F4
  followed by a byte out of range (RFC 3629's table); they are looked for byte by byte, and only
  a chunk with many of those four leads (Indic or Hangul text) is run through Python's strict decoder;
- ``\\uD800``-``\\uDFFF`` escapes, which yajl decodes into bytes Python may refuse: any such
  escape is refused here (escaped astral characters, such as emoji, go the exact way);
- numbers Python cannot read: integers past its digit limit (never under 640 digits) and
  exponents past Decimal's (18 digits). Any run of 600 digits, or an exponent of 16 digits,
  is refused here.

It also bounds memory: yajl holds a value that spans chunks whole, so a document whose one
string, number or nesting needs more than ``MAX_PARSER_MEMORY`` raises ``TooLarge``, also while
the exact parser decides (``track``).
"""

import codecs
import ctypes
import importlib.machinery
import re
import sys
import weakref
from pathlib import Path
from types import ModuleType

import ijson

_LONG_DIGITS = 600
_LONG_EXPONENT = 16
# Bytes of the stream so far that are checked again with the next chunk: the longest pattern.
_OVERLAP = _LONG_DIGITS
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Digits and signs become "0", exponent letters "e"; then plain substring searches (C speed) find
# the long numbers, one search for an exponent with a sign or without. Other bytes stay as they
# are, and a sign counted as a digit, these can only add false alarms (a 15-digit exponent after
# its sign, 600 dashes in a row).
_NUMBER_SHAPE = bytes.maketrans(b"0123456789+-eE", b"000000000000ee")
_LONG_DIGIT_RUN = b"0" * _LONG_DIGITS
_LONG_EXPONENT_SHAPE = b"e" + b"0" * _LONG_EXPONENT
OPEN_STRING = "parse error: trailing garbage, a string after the JSON text that is never closed"
_BEFORE_A_NUMBER = frozenset(b" \t\r\n[,:")
_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)
# Lead bytes yajl lets through that no valid UTF-8 has (overlong two-byte forms; past U+10FFFF).
_NEVER_UTF8 = (b"\xc0", b"\xc1", b"\xf5", b"\xf6", b"\xf7")
# Lead bytes valid only before some continuation bytes: (lead, lowest, highest next byte refused).
_UTF8_NEXT_REFUSED = (
    (b"\xe0", 0x80, 0x9F),
    (b"\xed", 0xA0, 0xBF),
    (b"\xf0", 0x80, 0x8F),
    (b"\xf4", 0x90, 0xBF),
)
_UTF8_LEADS_LOOKED_AT = 64
"""Past this many of those leads in a chunk, Python's decoder checks it instead, in one C loop."""


class Refused(Exception):
    """The fast check does not vouch for the bytes so far: the exact parser must decide."""


class Invalid(Refused):
    """yajl itself refused the bytes, so ijson, on the same yajl, refuses them at the same byte:
    a ``SyntaxCheck`` finds it without ijson's slower replay."""


def _extension_of(backend: ModuleType) -> str | None:
    """The compiled module ijson's ``backend`` runs on: the extension module loaded from the
    backend's own folder (ijson names it privately, so it is found by where it lives)."""
    folder = Path(backend.__file__ or "").parent
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(_EXTENSION_SUFFIXES) and Path(path).parent == folder:
            return path
    return None


def _load_yajl() -> tuple[ctypes.CDLL | None, str]:
    """The yajl that ijson's C backend parses with, ready to call, and what checks uploads.

    Found by construction, not by a path: the extension's own handle resolves the symbols of
    the libraries it links (dlsym searches a handle's dependencies on Linux and macOS), and of a
    yajl built into it (IJSON_EMBED_YAJL). So it is the very yajl ijson refuses documents with,
    never another copy on the system. Where the symbols are not reachable that way (Windows,
    whose GetProcAddress searches one module only), ijson checks uploads alone, and says so.
    """
    try:
        backend = ijson.get_backend("yajl2_c")
    except ImportError:
        return None, "ijson (python backend: no C extension on this platform; slow)"
    extension = _extension_of(backend)
    try:
        library = ctypes.CDLL(extension) if extension else None
        version = library.yajl_version() if library else 0
    except (OSError, AttributeError):
        library, version = None, 0
    if library is None or version // 10000 != 2:
        return None, "ijson (yajl2_c; its yajl is not callable directly here; slow)"
    library.yajl_alloc.restype = ctypes.c_void_p
    library.yajl_alloc.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    library.yajl_parse.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    library.yajl_complete_parse.argtypes = [ctypes.c_void_p]
    library.yajl_free.argtypes = [ctypes.c_void_p]
    library.yajl_get_error.restype = ctypes.c_void_p
    library.yajl_get_error.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    library.yajl_free_error.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    library.yajl_config.argtypes = [ctypes.c_void_p, ctypes.c_int]  # variadic: the fixed ones only
    library.yajl_get_bytes_consumed.restype = ctypes.c_size_t
    library.yajl_get_bytes_consumed.argtypes = [ctypes.c_void_p]
    major, minor, micro = version // 10000, version // 100 % 100, version % 100
    return library, f"yajl {major}.{minor}.{micro} direct (the one ijson's yajl2_c extension uses)"


_yajl, VALIDATOR = _load_yajl()
AVAILABLE = _yajl is not None
_YAJL_OK = 0
_ALLOW_MULTIPLE_VALUES = 0x08  # yajl_option yajl_allow_multiple_values
# yajl keeps a token that spans chunks whole in a buffer it doubles, and one byte per level of
# nesting: memory that grows with the value, not with the chunk. Past this much, a document is
# refused: strings and numbers under 8 MiB and nesting under 16 million levels fit.
MAX_PARSER_MEMORY = 16 * 1024**2

# yajl's allocations go to Python's raw allocator: thread-safe, callable without the GIL's help,
# and part of the C API on every platform (unlike "the process's C library", which Windows lacks).
_raw_malloc = ctypes.pythonapi.PyMem_RawMalloc
_raw_malloc.restype = ctypes.c_void_p
_raw_malloc.argtypes = [ctypes.c_size_t]
_raw_realloc = ctypes.pythonapi.PyMem_RawRealloc
_raw_realloc.restype = ctypes.c_void_p
_raw_realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_raw_free = ctypes.pythonapi.PyMem_RawFree
_raw_free.restype = None
_raw_free.argtypes = [ctypes.c_void_p]
_MALLOC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_REALLOC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_FREE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class _AllocFuncs(ctypes.Structure):
    """yajl_alloc_funcs."""

    _fields_ = [("malloc", _MALLOC), ("realloc", _REALLOC), ("free", _FREE), ("ctx", ctypes.c_void_p)]


class TooLarge(Exception):
    """One value needs more than ``MAX_PARSER_MEMORY`` to be checked."""


class MemoryLost(Refused):
    """The memory count failed (its own MemoryError): the check stops vouching and bounding."""


class _Memory:
    """Python's raw allocator, handed to one yajl handle, counting the bytes it holds. yajl
    allocates rarely (when a buffer or its stack grows), so calling back into Python costs nothing.

    No Python exception may reach C: ctypes would swallow it and hand yajl a NULL it does not
    check. So each callback makes its C call first and does its bookkeeping after, inside a
    ``try``; if the bookkeeping fails (a MemoryError), yajl still gets its valid pointer, and the
    count is marked ``lost``: the check then stops vouching, and the exact parser decides.
    """

    def __init__(self) -> None:
        self.held = 0
        self.lost = False
        self._sizes: dict[int, int] = {}
        self.funcs = _AllocFuncs(_MALLOC(self._malloc), _REALLOC(self._realloc), _FREE(self._free), None)

    def _malloc(self, _context: int | None, size: int) -> int | None:
        pointer = _raw_malloc(size)
        try:
            self._count(pointer, size)
        except BaseException:
            self.lost = True
        return pointer

    def _realloc(self, _context: int | None, pointer: int | None, size: int) -> int | None:
        moved = _raw_realloc(pointer, size)
        try:
            if moved:  # on failure the old block is still held
                self.held -= self._sizes.pop(pointer or 0, 0)
                self._count(moved, size)
        except BaseException:
            self.lost = True
        return moved

    def _free(self, _context: int | None, pointer: int | None) -> None:
        _raw_free(pointer)
        try:
            self.held -= self._sizes.pop(pointer or 0, 0)
        except BaseException:
            self.lost = True

    def _count(self, pointer: int | None, size: int) -> None:
        if pointer:
            self._sizes[pointer] = size
            self.held += size


def _free_handle(handle: int, _memory: _Memory) -> None:
    """yajl_free; taking the allocator it calls back keeps that alive until then."""
    assert _yajl is not None
    _yajl.yajl_free(handle)


class SyntaxCheck:
    """yajl with no callbacks, for one document: syntax, and the memory a value takes. ``feed``
    each chunk, then ``close``; both raise Invalid with yajl's words. Needs ``AVAILABLE``."""

    exact = False

    def __init__(self, *, multiple_values: bool = False) -> None:
        """``multiple_values``: any number of JSON texts one after another, with whitespace between
        them where they need it (yajl's ``yajl_allow_multiple_values``), as JSON Lines has them."""
        assert _yajl is not None, "yajl could not be loaded; use the exact parser"
        memory = _Memory()
        self._memory = memory
        self._handle = _yajl.yajl_alloc(None, ctypes.byref(memory.funcs), None)  # no callbacks
        if not self._handle:
            raise MemoryError("yajl_alloc could not allocate a parser")
        weakref.finalize(self, _free_handle, self._handle, memory)
        if multiple_values:
            _yajl.yajl_config(self._handle, _ALLOW_MULTIPLE_VALUES, ctypes.c_int(1))
        self._one_text = not multiple_values
        self._parsing = True

    def feed(self, chunk: bytes) -> None:
        self.track(chunk)
        if not self._parsing:
            raise Invalid(self._error())

    def track(self, chunk: bytes) -> None:
        """Parse ``chunk`` for the memory it takes, also once the exact parser decides: ijson
        runs the same yajl, so it holds what this one holds. Raises TooLarge, never Invalid."""
        if self._parsing:
            self._parsing = _yajl.yajl_parse(self._handle, chunk, len(chunk)) == _YAJL_OK
            if self._memory.held > MAX_PARSER_MEMORY and not self._memory.lost:
                raise TooLarge

    def stopped_at(self, chunk: bytes) -> int | None:
        """Feed ``chunk`` whole: None if yajl takes it, else how many of its bytes yajl had
        consumed when it refused (within a token's length of the byte that, fed alone, is refused)."""
        if _yajl.yajl_parse(self._handle, chunk, len(chunk)) == _YAJL_OK:
            return None
        self._parsing = False
        return _yajl.yajl_get_bytes_consumed(self._handle)

    def close(self) -> None:
        """The document must be one whole value (or whole values, one after another)."""
        if not self._parsing or _yajl.yajl_complete_parse(self._handle) != _YAJL_OK:
            raise Invalid(self._error())
        # yajl's end feeds it a space, which ends a number or a word but goes into a string: a
        # string left open after the one value (``[1] "abc``) passes unremarked. A quote now
        # closes such a string, which yajl then calls trailing garbage; with none open it only
        # begins one. (Among many values, that string is just one more, but unfinished.)
        if self._one_text and _yajl.yajl_parse(self._handle, b'"', 1) != _YAJL_OK:
            raise Invalid(OPEN_STRING)

    def _error(self) -> str:
        """yajl's reason for refusing: "parse error: premature EOF" and a pointer below it."""
        message = _yajl.yajl_get_error(self._handle, 0, None, 0)
        try:
            return ctypes.string_at(message).decode("utf-8", "replace")
        finally:
            _yajl.yajl_free_error(self._handle, message)


class FastCheck(SyntaxCheck):
    """The syntax check, vouching as well: Refused when the exact parser must decide."""

    def __init__(self, *, multiple_values: bool = False) -> None:
        super().__init__(multiple_values=multiple_values)
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        super().feed(chunk)  # yajl has taken it: what follows looks only inside valid tokens
        if self._memory.lost:  # the count, so the bound, cannot be trusted: ijson decides
            raise MemoryLost
        window = self._tail + chunk  # so a suspect pattern cut by the chunk boundary is whole
        if _doubtful(window):
            raise Refused
        self._tail = window[-_OVERLAP:]

    def doubts(self, chunk: bytes) -> bool:
        """Whether ``chunk``, the next after those fed, holds what the exact parser may refuse where
        yajl does not (invalid UTF-8 Python refuses, a long number). Of a chunk yajl refused, the
        exact parser must then say where the first refusal is: it may come before yajl's."""
        return _doubtful(self._tail + chunk)


def _doubtful(window: bytes) -> bool:
    return _suspect(window) or _refused_utf8(window)


def _refused_utf8(window: bytes) -> bool:
    """Whether ``window``, which yajl has let through, holds UTF-8 that Python's strict decoder
    refuses. A sequence cut off at the end is looked at again with the next chunk."""
    if window.isascii():
        return False
    if any(lead in window for lead in _NEVER_UTF8):
        return True
    leads = [(lead, low, high) for lead, low, high in _UTF8_NEXT_REFUSED if lead in window]
    if sum(window.count(lead) for lead, _, _ in leads) > _UTF8_LEADS_LOOKED_AT:
        return _refused_by_decoder(window)
    for lead, low, high in leads:
        at = window.find(lead)
        while at != -1:
            if at + 1 < len(window) and low <= window[at + 1] <= high:
                return True
            at = window.find(lead, at + 1)
    return False


def _refused_by_decoder(window: bytes) -> bool:
    """Python's strict decoder on ``window``, from its first character boundary (it may begin with
    the continuation bytes of a character already checked) to its last whole character."""
    start = 0
    while start < min(3, len(window)) and 0x80 <= window[start] <= 0xBF:
        start += 1
    try:
        codecs.utf_8_decode(window[start:], "strict", False)
    except UnicodeDecodeError:
        return True
    return False


def _suspect(window: bytes) -> bool:
    """Whether ``window`` holds a surrogate escape or a number too long to vouch for."""
    if b"\\" in window and _SURROGATE_ESCAPE.search(window):  # no escape at all: a quick search
        return True
    shape = window.translate(_NUMBER_SHAPE)
    if _LONG_DIGIT_RUN[:_LONG_EXPONENT] not in shape:  # no run of 16 digits, so no long number
        return False
    if _LONG_DIGIT_RUN in shape:
        return True
    hit = shape.find(_LONG_EXPONENT_SHAPE)
    while hit != -1:
        if _ends_a_mantissa(shape, hit):
            return True
        hit = shape.find(_LONG_EXPONENT_SHAPE, hit + 1)
    return False


def _ends_a_mantissa(shape: bytes, end: int) -> bool:
    """Whether what comes before ``end`` can be a number's mantissa, rather than, say, the
    digits before an "e" in a hexadecimal string ("7e749035..."), which are common."""
    start = end
    while start and shape[start - 1] in b"0.":  # digits, a point, a sign
        start -= 1
    return start == 0 or shape[start - 1] in _BEFORE_A_NUMBER
