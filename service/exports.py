"""Spreadsheet exports of stored datasets, made once and then served from the bucket."""

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from . import excel
from .errors import StorageUnavailable
from .storage import Dataset, Storage

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024**2  # per read from S3 or the temporary file, and per write to the client
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKBOOK = "workbook.xlsx"  # the default export's name among the dataset's exports


@dataclass(frozen=True)
class Workbook:
    """A finished workbook to stream: its chunks and its length in bytes."""

    chunks: Iterator[bytes]
    length: int


def workbook_for(storage: Storage, dataset_id: str) -> tuple[Dataset, Workbook]:
    """The dataset and its spreadsheet: from the cache if it holds one made from these bytes,
    otherwise converted now (into a temporary file, never whole in memory) and cached."""
    dataset, cached = storage.get_export(dataset_id, WORKBOOK)
    if cached is not None:
        return dataset, Workbook(cached.chunks(CHUNK_SIZE), cached.length)
    made = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    try:
        excel.write_workbook(lambda: storage.open_content(dataset.id), made)
        length = made.tell()
        made.seek(0)
        try:
            with storage.export_writer(dataset, WORKBOOK, XLSX_MIMETYPE) as cache:
                while chunk := made.read(CHUNK_SIZE):
                    cache.write(chunk)
                cache.commit()
        except StorageUnavailable as error:
            # The workbook is made: the client gets it; the next request makes it again.
            log.warning("export of %s not cached: %s", dataset.id, error.message)
        made.seek(0)
    except BaseException:
        made.close()
        raise
    return dataset, Workbook(closing_chunks(made, iter(lambda: made.read(CHUNK_SIZE), b"")), length)


def closing_chunks(source: IO[bytes], chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Yield ``chunks``, closing ``source`` when done or when the client goes away."""
    try:
        yield from chunks
    finally:
        source.close()
