"""Dataset storage in an S3-compatible bucket. The only module that talks to boto3.

Layout of the bucket:
- ``datasets/<id>``: the uploaded bytes, exactly; the object's own metadata carries the
  filename (percent-encoded, since S3 metadata is ASCII) and the size.
- ``exports/<id>.xlsx``: the cached spreadsheet, tagged with the ETag of the dataset it was
  made from, so a cache entry is only ever served for the bytes it was made from.
"""

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from urllib.parse import quote, unquote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, current_app

from . import ids
from .errors import DatasetNotFound, StorageUnavailable

log = logging.getLogger(__name__)

DATASETS_PREFIX = "datasets/"
EXPORTS_PREFIX = "exports/"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_NO_BUCKET_CODES = {"NoSuchBucket"}
# Bounded, deliberate failure: a dead endpoint is reported as 503 in seconds rather than
# hanging a worker thread through botocore's default retries and 60 s timeouts.
_CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=15,
    retries={"mode": "standard", "total_max_attempts": 2},
    max_pool_connections=32,
    # Checksums only where S3 requires them: several S3-compatible servers reject or
    # mishandle the CRC trailers newer botocore sends by default.
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    s3={"addressing_style": "path"},
)
_TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=8 * 1024**2, multipart_chunksize=8 * 1024**2, max_concurrency=4
)
# A streamed upload (StreamingUpload) holds its parts in memory: at most this many at once
# (s3transfer's setting, which boto3's constructor does not take).
_TRANSFER_CONFIG.max_in_memory_upload_chunks = 4
METADATA_CACHE_ENTRIES = 20_000  # about 10 MB per worker; 200 list pages of 100
_STREAM_QUEUE_CHUNKS = 32  # chunks handed from the request thread to a StreamingUpload, at most


@dataclass(frozen=True)
class Dataset:
    id: str
    filename: str
    size: int
    created_at: datetime
    etag: str


@dataclass(frozen=True)
class StoredObject:
    """An open object body to stream to a client; close it when done."""

    body: Any  # botocore StreamingBody: read(), iter_chunks(), close()
    length: int


class _MetadataCache:
    """Datasets already read, by id, so a listing need not HEAD them again.

    Datasets never change once stored, and an entry is used only when the listing shows the
    object with the same ETag, so a stale entry cannot be served; deleted datasets simply stop
    being listed. Bounded: the least recently used entries go first.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, Dataset] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, dataset_id: str, etag: str) -> Dataset | None:
        with self._lock:
            dataset = self._entries.get(dataset_id)
            if dataset is None or dataset.etag != etag:
                return None
            self._entries.move_to_end(dataset_id)
            return dataset

    def keep(self, dataset: Dataset) -> Dataset:
        with self._lock:
            self._entries[dataset.id] = dataset
            self._entries.move_to_end(dataset.id)
            if len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return dataset

    def forget(self, dataset_id: str) -> None:
        with self._lock:
            self._entries.pop(dataset_id, None)


class Storage:
    """Datasets and their cached exports in one bucket."""

    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str | None = None) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="s3-head")
        self._known = _MetadataCache(METADATA_CACHE_ENTRIES)

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (clients are thread-safe; sessions are not)."""
        with self._client_lock:
            if self._client is None:
                session = boto3.session.Session()
                self._client = session.client(
                    "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=_CLIENT_CONFIG
                )
            return self._client

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet."""
        with translate_errors():
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as error:
                if _error_code(error) not in _NOT_FOUND_CODES | _NO_BUCKET_CODES:
                    raise
            params: dict[str, Any] = {"Bucket": self.bucket}
            if self.region and self.region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self.client.create_bucket(**params)
                log.info("created bucket %s", self.bucket)
            except ClientError as error:
                if _error_code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    def save(self, body: IO[bytes], filename: str, size: int) -> Dataset:
        """Store a validated upload under a new id (multipart for big bodies)."""
        dataset_id = ids.new_id()
        with translate_errors():
            self._store(body, dataset_id, filename, size)
        return self.get(dataset_id)

    def _store(self, body: IO[bytes], dataset_id: str, filename: str, size: int) -> None:
        """Send ``body`` to the dataset's key with the metadata every dataset carries."""
        self.client.upload_fileobj(
            body,
            self.bucket,
            _dataset_key(dataset_id),
            ExtraArgs={
                "Metadata": {"filename": quote(filename, safe=""), "size": str(size)},
                "ContentType": "application/json",
            },
            Config=_TRANSFER_CONFIG,
        )

    @contextmanager
    def upload(self, filename: str, size: int) -> Iterator["StreamingUpload"]:
        """A new dataset of ``size`` bytes stored while its bytes still arrive: ``write()`` them,
        then ``commit()``. Nothing is visible in the bucket before the commit; leaving the block
        without one aborts the upload, so a rejected body leaves nothing behind."""
        stored = StreamingUpload(self, filename, size)
        try:
            yield stored
        except BaseException:
            stored.abort()
            raise

    def get(self, dataset_id: str) -> Dataset:
        """The dataset with this id, or DatasetNotFound."""
        _check_id(dataset_id)
        with translate_errors(dataset_id):
            head = self.client.head_object(Bucket=self.bucket, Key=_dataset_key(dataset_id))
        return self._known.keep(_dataset(dataset_id, head))

    def list(self, limit: int, after: str | None = None) -> tuple[list[Dataset], str | None]:
        """Up to ``limit`` datasets oldest first, starting after the id ``after``.

        Returns the page and the cursor for the next one (None on the last page). S3 lists keys
        without their metadata: datasets this process has read before come from its cache (when
        the listing shows the same ETag), the others are fetched concurrently, not one HEAD
        after another.
        """
        found: list[tuple[str, str]] = []  # (id, ETag)
        start_after = None if after is None else _dataset_key(after)
        truncated = True
        # Keys that are not ids (put in the bucket by other tools) are skipped, listing on past
        # them, so that the cursor is always an id: one ending a page must not end the paging.
        while truncated and len(found) < limit:
            params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": DATASETS_PREFIX, "MaxKeys": limit}
            if start_after is not None:
                params["StartAfter"] = start_after
            with translate_errors():
                page = self.client.list_objects_v2(**params)
            listed = page.get("Contents", [])
            keys = [obj["Key"] for obj in listed]
            for obj in listed:
                dataset_id = obj["Key"].removeprefix(DATASETS_PREFIX)
                if ids.is_valid(dataset_id):
                    found.append((dataset_id, obj.get("ETag", "")))
            truncated = bool(page.get("IsTruncated") and keys)
            start_after = keys[-1] if keys else start_after
        more = truncated or len(found) > limit
        found = found[:limit]
        known = {dataset_id: self._known.find(dataset_id, etag) for dataset_id, etag in found}
        missing = [dataset_id for dataset_id, dataset in known.items() if dataset is None]
        known.update(zip(missing, self._executor.map(self._head_or_none, missing), strict=True))
        next_cursor = found[-1][0] if more and found else None
        # A dict keeps the listing's order; None marks a dataset deleted since the listing.
        return [dataset for dataset in known.values() if dataset is not None], next_cursor

    def _head_or_none(self, dataset_id: str) -> Dataset | None:
        """A listed dataset (its id already checked), or None if it was deleted since the listing."""
        try:
            return self.get(dataset_id)
        except DatasetNotFound:
            return None

    def delete(self, dataset_id: str) -> None:
        """Delete a dataset and its cached export.

        The export goes before the dataset and again after it, so it never outlives the dataset
        (``get_with_export`` relies on that): a failure between the calls leaves a dataset without
        an export, and an export a concurrent request cached meanwhile is caught by the second
        delete or by ``save_export``'s own check.
        """
        _check_id(dataset_id)  # before any key is made of it
        export_key = _export_key(dataset_id)
        try:
            self.get(dataset_id)  # S3 deletes are silent about missing keys; we answer 404
        except DatasetNotFound:
            with translate_errors(dataset_id):  # what a delete cut short may have left behind
                self.client.delete_object(Bucket=self.bucket, Key=export_key)
            raise
        with translate_errors(dataset_id):
            self._known.forget(dataset_id)
            self.client.delete_object(Bucket=self.bucket, Key=export_key)
            self.client.delete_object(Bucket=self.bucket, Key=_dataset_key(dataset_id))
            self.client.delete_object(Bucket=self.bucket, Key=export_key)

    def open_content(self, dataset_id: str) -> StoredObject:
        """The stored bytes of a dataset, as a stream."""
        _check_id(dataset_id)
        with translate_errors(dataset_id):
            response = self.client.get_object(Bucket=self.bucket, Key=_dataset_key(dataset_id))
        return StoredObject(response["Body"], response["ContentLength"])

    def get_with_export(self, dataset_id: str) -> tuple[Dataset, StoredObject | None]:
        """The dataset, and its cached spreadsheet if there is one made from its bytes (else None).

        A dataset this process has read before, with the ETag the export was made from, is not
        read again: an export never outlives its dataset (see ``delete``), so finding it is
        finding the dataset. That saves a HEAD, a third of a cached export's time in the API.
        """
        _check_id(dataset_id)
        response = self._get_export(dataset_id)
        if response is not None:
            known = self._known.find(dataset_id, response["Metadata"].get("source-etag", ""))
            if known is not None:
                return known, StoredObject(response["Body"], response["ContentLength"])
        try:
            dataset = self.get(dataset_id)
        except BaseException:
            if response is not None:
                response["Body"].close()
            raise
        return dataset, _made_from(dataset, response)

    def _get_export(self, dataset_id: str) -> dict[str, Any] | None:
        """The GetObject response of the cached spreadsheet, or None if there is none."""
        try:
            with translate_errors(dataset_id):
                return self.client.get_object(Bucket=self.bucket, Key=_export_key(dataset_id))
        except DatasetNotFound:
            return None

    def save_export(self, dataset: Dataset, workbook: IO[bytes]) -> None:
        """Cache a finished spreadsheet. One PUT replaces the object whole, so concurrent first
        exports of one dataset each store a complete workbook; unlike upload_fileobj it leaves
        ``workbook`` open for the caller to stream."""
        with translate_errors(dataset.id):
            self.client.put_object(
                Bucket=self.bucket,
                Key=_export_key(dataset.id),
                Body=workbook,
                ContentType=XLSX_MIMETYPE,
                Metadata={"source-etag": dataset.etag},
            )
        # A delete that ran while the workbook was made may have removed the export key before this
        # PUT; then the dataset is gone too, and the export must not outlive it.
        try:
            self.get(dataset.id)
        except DatasetNotFound:
            with translate_errors(dataset.id):
                self.client.delete_object(Bucket=self.bucket, Key=_export_key(dataset.id))
            raise


class _Aborted(Exception):
    """Raised into the transfer by StreamingUpload.abort, so s3transfer aborts the multipart upload."""


_END = object()


class StreamingUpload:
    """boto3's upload_fileobj in a thread of its own, reading from a queue the request thread fills.

    s3transfer sends parts as they fill and completes the multipart upload (or PUTs a small body)
    only on reaching the end, which ``commit()`` sends after the whole body checked out; an error
    raised into it instead makes s3transfer abort the multipart upload.
    """

    def __init__(self, storage: Storage, filename: str, size: int) -> None:
        self._storage = storage
        self.dataset_id = ids.new_id()
        self._chunks: queue.Queue = queue.Queue(maxsize=_STREAM_QUEUE_CHUNKS)
        self._pending = bytearray()
        self._ended = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._transfer, args=(filename, size), daemon=True)
        self._thread.start()

    def _transfer(self, filename: str, size: int) -> None:
        try:
            self._storage._store(self, self.dataset_id, filename, size)
        except BaseException as error:  # handed to the request thread by _put and commit
            self._error = error

    def read(self, amount: int = -1) -> bytes:
        """What s3transfer reads the body with, in its own thread."""
        while not self._ended and (amount < 0 or len(self._pending) < amount):
            chunk = self._chunks.get()
            if chunk is _END:
                self._ended = True
            elif isinstance(chunk, _Aborted):
                raise chunk
            else:
                self._pending += chunk
        size = len(self._pending) if amount < 0 else min(amount, len(self._pending))
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data

    def write(self, chunk: bytes) -> None:
        """Send the next bytes of the body (StorageUnavailable if the transfer failed)."""
        self._put(chunk)

    def commit(self) -> Dataset:
        """End the body, wait for S3 to have it whole, and return the stored dataset."""
        self._put(_END)
        self._thread.join()
        self._raise_error()
        return self._storage.get(self.dataset_id)

    def abort(self) -> None:
        """Give up: the transfer aborts its multipart upload, or never PUTs."""
        with suppress(StorageUnavailable):
            self._put(_Aborted())
        self._thread.join()

    def _put(self, item: object) -> None:
        """Queue ``item`` for the transfer thread; waits while the queue is full, unless the
        transfer has ended (failed), which would otherwise leave the request waiting forever."""
        while True:
            self._raise_error()
            if not self._thread.is_alive():
                return
            with suppress(queue.Full):
                self._chunks.put(item, timeout=0.5)
                return

    def _raise_error(self) -> None:
        if self._error is not None and not isinstance(self._error, _Aborted):
            with translate_errors():
                raise self._error


def _made_from(dataset: Dataset, response: dict[str, Any] | None) -> StoredObject | None:
    """The cached spreadsheet in ``response`` if it was made from the dataset's bytes (else closed)."""
    if response is None:
        return None
    if response["Metadata"].get("source-etag") != dataset.etag:
        response["Body"].close()
        return None
    return StoredObject(response["Body"], response["ContentLength"])


def _dataset_key(dataset_id: str) -> str:
    return DATASETS_PREFIX + dataset_id


def _export_key(dataset_id: str) -> str:
    return f"{EXPORTS_PREFIX}{dataset_id}.xlsx"


def _check_id(dataset_id: str) -> None:
    """Refuse a malformed id before any S3 call, so no request can address another key."""
    if not ids.is_valid(dataset_id):
        raise DatasetNotFound(dataset_id)


def _dataset(dataset_id: str, head: dict[str, Any]) -> Dataset:
    metadata = head.get("Metadata", {})
    return Dataset(
        id=dataset_id,
        filename=unquote(metadata.get("filename", "dataset.json")),
        size=int(metadata.get("size", head["ContentLength"])),
        created_at=ids.created_at(dataset_id),
        etag=head["ETag"],
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def translate_errors(dataset_id: str | None = None) -> Iterator[None]:
    """Turn S3 failures into our own errors: missing keys into DatasetNotFound (when a
    dataset is addressed), anything else that is S3's or the network's into StorageUnavailable."""
    try:
        yield
    except ClientError as error:
        code = _error_code(error)
        if dataset_id is not None and code in _NOT_FOUND_CODES:
            raise DatasetNotFound(dataset_id) from error
        log.warning("S3 error: %s", error)
        raise StorageUnavailable(f"Storage error: {code or 'unknown'}.") from error
    except BotoCoreError as error:
        log.warning("S3 unreachable: %s", error)
        raise StorageUnavailable("Storage is unreachable; try again shortly.") from error


def init_app(app: Flask) -> None:
    """Attach a Storage made from the app's settings, and create the bucket if S3 answers."""
    storage = Storage(app.config["S3_BUCKET"], app.config["S3_ENDPOINT_URL"], app.config["AWS_REGION"])
    app.extensions["storage"] = storage
    try:
        storage.ensure_bucket()
    except StorageUnavailable as error:
        # Start anyway: /readyz reports the outage, and creates the bucket once S3 answers.
        log.warning("bucket %s not ready at start-up: %s", storage.bucket, error.message)


def get_storage() -> Storage:
    """The current app's Storage."""
    return current_app.extensions["storage"]
