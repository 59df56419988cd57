"""Exports this host has sent lately, kept on its own disk, so that the next request for one is sent
by the kernel (``sendfile``) instead of being relayed from the bucket through Python.

The bucket stays the record. An entry is named by its dataset's id and ETag, and ``storage`` opens one
only after S3 has just said (a HEAD) that the dataset exists with that ETag, so it is served under
exactly the rule a bucket copy is: never for a dataset S3 no longer has, whichever replica or tool
removed it. An entry is written while its bytes are relayed from the bucket the first time, under a
temporary name, and renamed into place only once whole: a reader finds a whole file or none. Several
processes may share the directory (gunicorn's workers do). Past ``max_bytes`` the entries used least
recently are removed. The disk failing is never a request's failure: the bucket still has everything.
"""

import logging
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

log = logging.getLogger(__name__)

_PARTIAL = ".partial"
_NOT_IN_A_NAME = re.compile(r"[^0-9A-Za-z-]")
_STALE_PARTIAL_SECONDS = 3600
"""A partial entry this old was left by a process that died while writing it."""


class DiskCache:
    """Whole exports in ``directory``, at most ``max_bytes`` of them."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory, self.max_bytes = directory, max_bytes
        self._warned = threading.Event()

    def open(self, dataset_id: str, etag: str, name: str) -> BinaryIO | None:
        """The entry, open for reading (so a removal meanwhile cannot cut it short), or None."""
        path = self._path(dataset_id, etag, name)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            return None
        except OSError as error:
            self.warn(error)
            return None
        with suppress(OSError):
            os.utime(file.fileno())  # used now: the last to be removed
        return file

    def entry(self, dataset_id: str, etag: str, name: str, length: int) -> "Entry | None":
        """A new entry to write ``length`` bytes into, or None if it would not fit or cannot be made."""
        if length > self.max_bytes // 4:
            return None  # one file must not push everything else out
        path = self._path(dataset_id, etag, name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=_PARTIAL)
        except OSError as error:
            self.warn(error)
            return None
        return Entry(self, os.fdopen(descriptor, "wb"), Path(partial), path, length)

    def forget(self, dataset_id: str) -> None:
        """Remove every entry of a dataset (deleted, or found missing)."""
        shutil.rmtree(self.directory / dataset_id, ignore_errors=True)

    def make_room(self) -> None:
        """Remove the entries used least recently until the rest fit in ``max_bytes``; and partial
        ones a dead process left."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        try:
            for path in self.directory.glob("*/*"):
                try:
                    status = path.stat()
                except FileNotFoundError:
                    continue
                if path.name.endswith(_PARTIAL):
                    if now - status.st_mtime > _STALE_PARTIAL_SECONDS:
                        path.unlink(missing_ok=True)
                    continue
                entries.append((status.st_mtime, status.st_size, path))
            total = sum(size for _, size, _ in entries)
            for _, size, path in sorted(entries):
                if total <= self.max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size
        except OSError as error:
            self.warn(error)

    def _path(self, dataset_id: str, etag: str, name: str) -> Path:
        return self.directory / dataset_id / f"{_NOT_IN_A_NAME.sub('', etag)}-{quote(name, safe='')}"

    def warn(self, error: OSError) -> None:
        """Say once that the disk cache does not work (the bucket serves everything meanwhile)."""
        if not self._warned.is_set():
            self._warned.set()
            log.warning(
                "export disk cache %s not usable, exports come from the bucket: %s", self.directory, error
            )


class Entry:
    """An entry being written: ``write`` its bytes in order; it is kept only if they come to its length."""

    def __init__(self, cache: DiskCache, file: BinaryIO, partial: Path, path: Path, length: int) -> None:
        self._cache, self._file, self._partial, self._path = cache, file, partial, path
        self._missing = length
        self._failed = self._closed = False

    def write(self, data: bytes) -> None:
        if self._failed:
            return
        try:
            self._file.write(data)
        except OSError as error:  # a full disk: the client still gets its bytes
            self._cache.warn(error)
            self._failed = True
        self._missing -= len(data)

    def close(self) -> None:
        """Keep the entry if it is whole, else remove it."""
        if self._closed:
            return
        self._closed = True
        try:
            self._file.close()
            if self._missing == 0 and not self._failed:
                os.replace(self._partial, self._path)
                self._cache.make_room()
                return
        except OSError as error:
            self._cache.warn(error)
        self._partial.unlink(missing_ok=True)
