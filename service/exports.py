"""What is made from a stored dataset: its tables, its workbook and its CSV files, each made once and
then served from the bucket.

Every export of one dataset and one ``root`` shares one survey (``tables_for``): the tables the
document makes, cached as ``tables.v<MODEL_VERSION>.json`` beside the exports, so the tables API, the previews, the
workbook and the CSV files read the document's structure once. The survey decides every 422 before
anything is sent.

A first export is streamed (``Export.length`` is None, so the response is chunked): a thread runs the
writer, whose bytes go both to the bucket (``storage.export_writer``, a multipart upload completed only
when the file is whole) and, through a bounded ``relay.Relay``, to the client while the rest is still being
written. The last bytes of the file are held back until the cache has the whole file, so a client can
only ever receive a complete file from an export that succeeded: S3 failing half-way, or the source
becoming unreadable, cuts the response short (a broken chunked transfer, never a complete-looking file)
and leaves no cache entry. A client that goes away cancels the writer, which aborts the upload and
removes its temporary files. A cached file is relayed from the bucket read ahead of the client
(``relay.read_ahead``), so fetching and sending overlap.

Cache names (``exports/<id>/<name>`` in the bucket): ``tables.v<MODEL_VERSION>.json``, ``workbook.xlsx``,
``table-<name>.csv`` and ``table-<name>.excel.csv`` for the whole document; under
``root-<sha256 of the pointer>/`` the same for a ``root``.
"""

import hashlib
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO
from urllib.parse import quote

from . import relay
from .errors import BadRequest, StorageUnavailable, TableNotFound
from .export import csvfile, pointer, tables, xlsx
from .export.model import MAIN_TABLE, MODEL_VERSION, Date, Table, TableModel, Value
from .storage import Dataset, ObjectWriter, Storage, StoredObject

log = logging.getLogger(__name__)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
MODEL_MIMETYPE = "application/json"
WORKBOOK = "workbook.xlsx"
SURVEY = f"tables.v{MODEL_VERSION}.json"
RELAY_CHUNK = 256 * 1024
"""Bytes per chunk handed to the client while a file is made: small enough that the first ones leave
early, large enough that their number costs nothing."""


@dataclass(frozen=True)
class Export:
    """A file to send: its chunks, and its length if known (a cached file; None while it is made);
    or, for a cached file on this host's disk, ``file`` (then ``chunks`` is empty)."""

    # Closed by the WSGI server when the response ends; for a file being made, closing it early
    # (the client went away) cancels the writer.
    chunks: Iterable[bytes]
    length: int | None
    file: BinaryIO | None = None


def tables_for(storage: Storage, dataset_id: str, root: str = "") -> tuple[Dataset, TableModel]:
    """The dataset and the tables its document (or the value ``root`` points at) makes: the survey,
    from the cache when it holds one made from these bytes, otherwise made now and cached."""
    name = _cache_name(root, SURVEY)
    dataset, cached = storage.get_export(dataset_id, name)
    if cached is not None:
        with cached:
            return dataset, TableModel.from_json(cached.read())
    _check_root(dataset, root)
    model = tables.survey(_opener(storage, dataset), format=dataset.format, root=root)
    try:
        with storage.export_writer(dataset, name, MODEL_MIMETYPE) as cache:
            cache.write(model.to_json())
            cache.commit()
    except StorageUnavailable as error:  # the survey serves this request; the next one surveys again
        log.warning("tables of %s not cached: %s", dataset.id, error.message)
    return dataset, model


def preview(storage: Storage, dataset_id: str, table_name: str, limit: int, root: str = "") -> dict:
    """The first ``limit`` rows of one table, shaped as the body of ``GET /datasets/<id>/tables/<name>/``
    (values typed as in JSON; dates as their text). TableNotFound for a table the dataset does not make."""
    dataset, model = tables_for(storage, dataset_id, root)
    table = _table(dataset, model, table_name)
    found = tables.rows(_opener(storage, dataset), model, tables=[table.name], limit=limit)
    return {
        "name": table.name,
        "columns": [column.name for column in table.columns],
        "rows": [[_json_value(value) for value in values] for _, values in found],
        "total_rows": table.rows,
    }


def workbook_for(storage: Storage, dataset_id: str, root: str = "") -> tuple[Dataset, Export]:
    """The dataset and its workbook: cached, or made now while it streams (see the module's doc)."""
    name = _cache_name(root, WORKBOOK)
    dataset, cached = storage.get_export(dataset_id, name)
    if cached is not None:
        return dataset, _relayed(dataset, name, cached)
    dataset, model = tables_for(storage, dataset_id, root)
    opener = _opener(storage, dataset)

    def write(sink: "_Tee") -> None:
        xlsx.write_xlsx(model, tables.rows(opener, model), sink)

    return dataset, Export(_made(storage, dataset, name, XLSX_MIMETYPE, write), None)


def csv_for(
    storage: Storage, dataset_id: str, table_name: str = MAIN_TABLE, root: str = "", excel: bool = False
) -> tuple[Dataset, Export]:
    """The dataset and one of its tables as CSV (``excel``: for a spreadsheet program): cached, or
    made now while it streams. Numbers keep every digit they had in the JSON."""
    name = _csv_cache_name(root, table_name, excel)
    dataset, cached = storage.get_export(dataset_id, name)
    if cached is not None:
        return dataset, _relayed(dataset, name, cached)
    dataset, model = tables_for(storage, dataset_id, root)
    table = _table(dataset, model, table_name)
    opener = _opener(storage, dataset)

    def write(sink: "_Tee") -> None:
        found = tables.rows(opener, model, exact=True, detect_dates=False, tables=[table.name])
        csvfile.write_csv(table, (values for _, values in found), sink, excel=excel)

    return dataset, Export(_made(storage, dataset, name, CSV_MIMETYPE, write), None)


def _relayed(dataset: Dataset, name: str, cached: StoredObject) -> Export:
    """A cached file: from this host's disk as it is, or from the bucket read a chunk ahead of the client."""
    if cached.file is not None:
        return Export((), cached.length, cached.file)
    return Export(relay.read_ahead(cached.chunks(), f"relay {dataset.id}/{name}"), cached.length)


def workbook_head(storage: Storage, dataset_id: str, root: str = "") -> tuple[Dataset, Export]:
    """For HEAD: the dataset and its workbook without a body: the cached one's length, or none while
    it is not made yet. Converts nothing; a malformed ``root`` is a BadRequest all the same."""
    return _head(storage, dataset_id, _cache_name(root, WORKBOOK), root)


def csv_head(
    storage: Storage, dataset_id: str, table_name: str = MAIN_TABLE, root: str = "", excel: bool = False
) -> tuple[Dataset, Export]:
    """For HEAD: as ``workbook_head`` for a table's CSV. An unknown table is still TableNotFound,
    from the survey (cached after the first time), but no CSV is made."""
    dataset, head = _head(storage, dataset_id, _csv_cache_name(root, table_name, excel), root)
    if head.length is None:
        dataset, model = tables_for(storage, dataset_id, root)
        _table(dataset, model, table_name)
    return dataset, head


def _head(storage: Storage, dataset_id: str, name: str, root: str) -> tuple[Dataset, Export]:
    dataset, cached = storage.get_export(dataset_id, name)
    _check_root(dataset, root)
    if cached is None:
        return dataset, Export(iter(()), None)
    cached.close()
    return dataset, Export(iter(()), cached.length)


def _csv_cache_name(root: str, table_name: str, excel: bool) -> str:
    return _cache_name(root, f"table-{quote(table_name, safe='')}{'.excel' if excel else ''}.csv")


def _cache_name(root: str, name: str) -> str:
    if not root:
        return name
    digest = hashlib.sha256(root.encode("utf-8", "surrogatepass")).hexdigest()
    return f"root-{digest}/{name}"


def _check_root(dataset: Dataset, root: str) -> None:
    """A malformed pointer is a BadRequest (before any reading), and so is any ``root`` for JSON Lines."""
    if not root:
        return
    pointer.parse(root)
    if dataset.format == "jsonl":
        raise BadRequest(
            "root applies to JSON datasets; this one is JSON Lines, where each line is a record."
        )


def _table(dataset: Dataset, model: TableModel, name: str) -> Table:
    try:
        return model.table(name)
    except KeyError:
        names = ", ".join(repr(table.name) for table in model.tables)
        raise TableNotFound(
            f"Dataset {dataset.id!r} has no table {name[:100]!r}; its tables: {names}."
        ) from None


def _opener(storage: Storage, dataset: Dataset) -> Callable[[], BinaryIO]:
    """What the engine reads the document with: each call opens a new stream of the stored bytes."""
    return lambda: storage.open_content(dataset.id)  # type: ignore[return-value] (a file-like StoredObject)


def _json_value(value: Value) -> object:
    """A row value as the JSON the tables API shows: dates as their text; a number too large for a
    double (``1E400``) as its digits."""
    if isinstance(value, Date):
        return value.text
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if math.isfinite(as_float) else str(value)
    return value


# --- A file streamed to the client while it is written and cached ---------------------------------


class _Tee:
    """The writers' sink: every byte to the cache at once, and to the relay in ``RELAY_CHUNK``s, always
    holding some back, so that the file's last bytes can only follow its commit (``finish``)."""

    def __init__(self, cache: ObjectWriter, to_client: relay.Relay) -> None:
        self._cache, self._relay = cache, to_client
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        self._cache.write(data)
        self._pending += data
        while len(self._pending) > RELAY_CHUNK:
            self._relay.put(bytes(self._pending[:RELAY_CHUNK]))
            del self._pending[:RELAY_CHUNK]

    def finish(self) -> None:
        """Commit the cache, then hand the client what was held back."""
        self._cache.commit()
        self._relay.put(bytes(self._pending))


def _made(
    storage: Storage, dataset: Dataset, name: str, content_type: str, write: Callable[[_Tee], None]
) -> relay.Produced:
    """Export ``name`` as ``write`` makes it, cached as it goes (see the module's doc)."""

    def make(to_client: relay.Relay) -> None:
        try:
            with storage.export_writer(dataset, name, content_type) as cache:
                sink = _Tee(cache, to_client)
                write(sink)
                sink.finish()
        except relay.Cancelled:
            log.info("export %s of %s stopped: the client went away", name, dataset.id)
            to_client.end()
        except BaseException as error:
            log.warning("export %s of %s cut short: %s", name, dataset.id, error)
            to_client.end(error)
        else:
            to_client.end()

    return relay.Produced(make, f"export {dataset.id}/{name}")
