"""Dataset storage in an S3-compatible bucket. The only module that talks to boto3.

Layout of the bucket:
- ``datasets/<id>``: the uploaded bytes, exactly; the object's own metadata carries the
  filename (percent-encoded, since S3 metadata is ASCII) and the format (``json`` or ``jsonl``).
- ``exports/<id>/<name>``: what was made from a dataset (workbooks, CSV files, table surveys), each
  tagged with the ETag of the dataset it was made from (``source-etag``), so an entry is only ever
  served for the bytes it was made from. ``exports/<id>.xlsx`` is where older versions cached.

Out of it come plain file-like streams (``StoredObject``) and the errors of ``service.errors``,
never a botocore body or exception. Exports this host has sent lately also live on its disk
(``disk_cache``), so that a repeat is sent from there.
"""

import functools
import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar
from urllib.parse import quote, unquote

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from flask import Flask, current_app

from . import ids
from .disk_cache import DiskCache, Entry
from .errors import DatasetNotFound, StorageMisconfigured, StorageUnavailable

log = logging.getLogger(__name__)

DATASETS_PREFIX = "datasets/"
EXPORTS_PREFIX = "exports/"
FORMATS = ("json", "jsonl")
CONTENT_TYPES = {"json": "application/json", "jsonl": "application/x-ndjson"}
# S3 wants every part but the last to be at least 5 MiB; 8 MiB is what boto3's transfers use.
PART_SIZE = 8 * 1024**2
CHUNK_SIZE = 1024**2  # per read of a stored object handed out as chunks
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_NO_BUCKET_CODES = {"NoSuchBucket"}
# S3 errors that no retry heals: the settings or the bucket are wrong. A 500-class error naming
# the code, not "unreachable, try again".
_MISCONFIGURED_CODES = {
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "AuthorizationHeaderMalformed",
    "InvalidAccessKeyId",
    "InvalidBucketName",
    "NoSuchBucket",
    "PermanentRedirect",
    "SignatureDoesNotMatch",
}
# What the network does, as opposed to what botocore was told (a missing credential, a bad parameter).
_UNREACHABLE_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


@dataclass(frozen=True)
class StorageSettings:
    """Where the bucket is and how patiently to talk to it (see the README's Settings)."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    connect_timeout: float = 3
    read_timeout: float = 15
    max_attempts: int = 2
    max_pool_connections: int = 32
    # Parts of one upload sent at once: its memory is at most this many parts plus one filling.
    parts_in_flight: int = 4
    metadata_cache_entries: int = 20_000  # about 10 MB per process; 200 list pages of 100
    ready_timeout: float = 2  # /readyz answers within about this, whatever S3 does
    local_cache_dir: str = ""
    local_cache_bytes: int = 0  # exports kept on this host's disk; 0: none


@dataclass(frozen=True)
class Dataset:
    id: str
    filename: str
    size: int
    created_at: datetime
    etag: str
    format: str = "json"


class StoredObject:
    """An open stored object: ``read`` it like a file or take its ``chunks``; close it when done.
    S3 failing half-way raises StorageUnavailable, like any other storage call. ``file`` is set when
    the bytes are a file on this host's disk, which a server can send without reading it.

    Small reads are served from a ``CHUNK_SIZE`` read of the body: each read of botocore's stream
    costs tens of microseconds whatever its size, and the export's parser reads 16 KB at a time
    (3,400 reads for a 55 MB document; buffered, a first export took 4-6% less time)."""

    def __init__(self, body: Any, length: int, file: BinaryIO | None = None) -> None:
        self._body = body  # botocore's StreamingBody (which stays in this module), or a local file
        self._pending = memoryview(b"")  # read from the body, not yet handed out
        self.length = length
        self.file = file

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            if size < 0 or size >= CHUNK_SIZE:
                return self._read_body(size)
            self._pending = memoryview(self._read_body(CHUNK_SIZE))
        if size < 0:
            rest, self._pending = bytes(self._pending), memoryview(b"")
            return rest + self._read_body(-1)
        piece, self._pending = self._pending[:size], self._pending[size:]
        return bytes(piece)

    def _read_body(self, size: int) -> bytes:
        with _s3_errors():
            return self._body.read(None if size < 0 else size)

    def chunks(self, size: int = CHUNK_SIZE) -> Generator[bytes, None, None]:
        """The rest of the object in pieces of ``size``, closed at the end or when given up."""
        try:
            while chunk := self.read(size):
                yield chunk
        finally:
            self.close()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> "StoredObject":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


T = TypeVar("T")


class ObjectWriter(Generic[T]):
    """A new object written as it is produced, invisible until ``commit()``.

    ``write`` buffers; each time a part's worth (8 MiB) has accumulated it is sent with an explicit
    ``upload_part`` (the multipart upload is created for the first one), at most
    ``parts_in_flight`` at once on threads of the writer's own, so sending overlaps producing.
    ``commit`` sends the rest and completes the upload; a body smaller than one part is one
    ``put_object`` then. ``abort`` (or leaving a ``with`` block on an exception) aborts the
    multipart upload, so nothing is left behind. ``on_commit`` turns the new object's ETag into
    what ``commit`` returns.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        content_type: str,
        metadata: dict[str, str],
        parts_in_flight: int,
        on_commit: Callable[[str, int], T],
    ) -> None:
        self._client, self._bucket, self.key = client, bucket, key
        self._content_type, self._metadata = content_type, dict(metadata)
        self._on_commit = on_commit
        self._parts_in_flight = parts_in_flight
        self._buffer = _Pieces()
        self._upload_id: str | None = None
        self._parts: list[Future] = []
        self._slots = threading.BoundedSemaphore(parts_in_flight)
        self._pool: ThreadPoolExecutor | None = None
        self._open = True
        self._restate = False
        self.size = 0

    @property
    def started(self) -> bool:
        """Whether a part has gone, which fixes the object's metadata and content type."""
        return self._upload_id is not None

    def describe(self, *, content_type: str, metadata: dict[str, str]) -> None:
        """Change what the object will say about itself. Before its first part, that is what the
        upload is created with; after (rare: what the object is turned out late), the committed
        object is copied onto itself with the new description (S3 copies up to 5 GB in one call)."""
        self._content_type, self._metadata = content_type, {**self._metadata, **metadata}
        self._restate = self.started

    def write(self, data: bytes) -> None:
        """Add ``data``; sends a part whenever 8 MiB have accumulated (waits while
        ``parts_in_flight`` are on their way). StorageUnavailable if a part failed."""
        if not self._open:
            raise RuntimeError("write after commit or abort")
        self._buffer.add(data)
        self.size += len(data)
        while self._buffer.size >= PART_SIZE:
            self._send(self._buffer.take(PART_SIZE))

    def commit(self) -> T:
        """Make the object whole and visible, and return what ``on_commit`` makes of it."""
        if not self._open:
            raise RuntimeError("commit after commit or abort")
        with _s3_errors():
            if self._upload_id is None:
                etag = self._client.put_object(
                    Bucket=self._bucket,
                    Key=self.key,
                    Body=self._buffer.take(self._buffer.size),
                    ContentType=self._content_type,
                    Metadata=self._metadata,
                )["ETag"]
            else:
                if self._buffer.size:
                    self._send(self._buffer.take(self._buffer.size))
                numbered = enumerate(self._parts, start=1)
                parts = [{"PartNumber": number, "ETag": part.result()} for number, part in numbered]
                etag = self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": parts},
                )["ETag"]
                if self._restate:
                    etag = self._client.copy_object(
                        Bucket=self._bucket,
                        Key=self.key,
                        CopySource={"Bucket": self._bucket, "Key": self.key},
                        MetadataDirective="REPLACE",
                        ContentType=self._content_type,
                        Metadata=self._metadata,
                    )["CopyObjectResult"]["ETag"]
        self._close()
        return self._on_commit(etag, self.size)

    def abort(self) -> None:
        """Give up: parts in flight are waited for, then the multipart upload is aborted."""
        if not self._open:
            return
        self._close()
        if self._upload_id is not None:
            try:
                with _s3_errors():
                    self._client.abort_multipart_upload(
                        Bucket=self._bucket, Key=self.key, UploadId=self._upload_id
                    )
            except StorageUnavailable as error:
                # The bucket's lifecycle rule for incomplete uploads is what is left to clean it.
                log.warning("multipart upload of %s not aborted: %s", self.key, error.message)

    def __enter__(self) -> "ObjectWriter[T]":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if exc_type is not None:
            self.abort()

    def _send(self, part: bytes) -> None:
        with _s3_errors():
            if self._upload_id is None:
                self._upload_id = self._client.create_multipart_upload(
                    Bucket=self._bucket, Key=self.key, ContentType=self._content_type, Metadata=self._metadata
                )["UploadId"]
                self._pool = ThreadPoolExecutor(self._parts_in_flight, thread_name_prefix="s3-part")
            self._raise_failed_part()
            self._slots.acquire()  # the bound on parts held in memory
            assert self._pool is not None
            self._parts.append(self._pool.submit(self._upload_part, len(self._parts) + 1, part))

    def _upload_part(self, number: int, part: bytes) -> str:
        try:
            return self._client.upload_part(
                Bucket=self._bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=part
            )["ETag"]
        finally:
            self._slots.release()

    def _raise_failed_part(self) -> None:
        for part in self._parts:
            if part.done() and part.exception() is not None:
                part.result()

    def _close(self) -> None:
        self._open = False
        self._buffer = _Pieces()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class _Pieces:
    """Bytes gathered for a part: the pieces as written, joined once when a part is taken (one copy,
    where a growing bytearray copies each piece in, then the part out, then moves the rest)."""

    def __init__(self) -> None:
        self._pieces: deque[bytes] = deque()
        self.size = 0

    def add(self, data: bytes) -> None:
        # Kept as given, so a buffer the caller may reuse is copied now.
        self._pieces.append(data if type(data) is bytes else bytes(data))
        self.size += len(data)

    def take(self, size: int) -> bytes:
        """The first ``size`` bytes (at most all there are); the rest stays. Only a piece cut by
        the part's end is copied twice: its rest is kept, its head joined through a view."""
        taken: list[bytes | memoryview] = []
        wanted = min(size, self.size)
        self.size -= wanted
        while wanted:
            piece = self._pieces.popleft()
            if len(piece) > wanted:
                self._pieces.appendleft(bytes(piece[wanted:]))
                piece = memoryview(piece)[:wanted]
            taken.append(piece)
            wanted -= len(piece)
        return b"".join(taken)


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


def _client_config(settings: StorageSettings, timeout: float | None = None) -> Config:
    """Bounded, deliberate failure: a dead endpoint is a 503 in seconds rather than a worker thread
    hung through botocore's default retries and 60 s timeouts. ``timeout`` makes a client that tries
    once and gives up within it (the readiness probe's)."""
    quick = timeout is not None
    return Config(
        connect_timeout=timeout / 2 if quick else settings.connect_timeout,
        read_timeout=timeout / 2 if quick else settings.read_timeout,
        retries={"mode": "standard", "total_max_attempts": 1 if quick else settings.max_attempts},
        max_pool_connections=settings.max_pool_connections,
        # Checksums only where S3 requires them: several S3-compatible servers reject or
        # mishandle the CRC trailers newer botocore sends by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
    )


class Storage:
    """Datasets and what is made from them, in one bucket."""

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self._clients: dict[float | None, Any] = {}
        self._client_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="s3-head")
        self._known = _MetadataCache(settings.metadata_cache_entries)
        self._disk = None
        if settings.local_cache_bytes > 0:
            self._disk = DiskCache(Path(settings.local_cache_dir), settings.local_cache_bytes)

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (clients are thread-safe; sessions are not)."""
        return self._client_with(None)

    def _client_with(self, timeout: float | None) -> Any:
        with self._client_lock:
            if timeout not in self._clients:
                self._clients[timeout] = boto3.session.Session().client(
                    "s3",
                    endpoint_url=self.settings.endpoint_url,
                    region_name=self.settings.region,
                    config=_client_config(self.settings, timeout),
                )
            return self._clients[timeout]

    def ensure_bucket(self, *, quick: bool = False) -> None:
        """Create the bucket if it does not exist yet; ``quick``: within ``ready_timeout`` per call."""
        client = self._client_with(self.settings.ready_timeout) if quick else self.client
        with _s3_errors():
            try:
                client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as error:
                if _error_code(error) not in _NOT_FOUND_CODES | _NO_BUCKET_CODES:
                    raise
            params: dict[str, Any] = {"Bucket": self.bucket}
            region = self.settings.region
            if region and region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                client.create_bucket(**params)
                log.info("created bucket %s", self.bucket)
            except ClientError as error:
                if _error_code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    def dataset_writer(self, filename: str, format: str = "json") -> "DatasetWriter":
        """A new dataset under a new id, stored as its bytes are written; ``commit()`` returns it."""
        return DatasetWriter(self, filename, format)

    def get(self, dataset_id: str) -> Dataset:
        """The dataset with this id, or DatasetNotFound."""
        _check_id(dataset_id)
        with _s3_errors(dataset_id):
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
            with _s3_errors():
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
        """Delete a dataset and everything made from it.

        The exports go before the dataset and again after it, so a delete cut short leaves a
        dataset without exports rather than the reverse, and one a racing request made meanwhile
        is caught by the second sweep (or by its own writer's check). A delete that finds no
        dataset still sweeps what such a cut-short delete left. None of this is what keeps a
        missing dataset's export from being served: ``get_export`` asks S3 for the dataset each time.
        """
        _check_id(dataset_id)  # before any key is made of it
        try:
            self.get(dataset_id)  # S3 deletes are silent about missing keys; we answer 404
        except DatasetNotFound:
            self._delete_exports(dataset_id)
            raise
        self._known.forget(dataset_id)
        self._delete_exports(dataset_id)
        with _s3_errors(dataset_id):
            self.client.delete_object(Bucket=self.bucket, Key=_dataset_key(dataset_id))
        self._delete_exports(dataset_id)
        if self._disk is not None:
            self._disk.forget(dataset_id)

    def _delete_exports(self, dataset_id: str) -> None:
        """Delete every object whose key starts with ``exports/<id>`` (ids are all one length, so
        no other dataset's keys do)."""
        with _s3_errors(dataset_id):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=EXPORTS_PREFIX + dataset_id
            )
            for page in pages:
                for item in page.get("Contents", []):
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

    def open_content(self, dataset_id: str) -> StoredObject:
        """The stored bytes of a dataset, as a stream."""
        _check_id(dataset_id)
        with _s3_errors(dataset_id):
            response = self.client.get_object(Bucket=self.bucket, Key=_dataset_key(dataset_id))
        return StoredObject(response["Body"], response["ContentLength"])

    def get_export(self, dataset_id: str, name: str) -> tuple[Dataset, StoredObject | None]:
        """The dataset (DatasetNotFound if S3 does not have it) and the export ``name`` made from its
        bytes, if one is cached (else None).

        The dataset is asked of S3 every time, never of this process's memory: an export is served
        only while its dataset exists, whatever removed the dataset (a delete through another
        replica, a lifecycle rule, ``mc rm``, a restore) and whatever an export racing a delete
        left behind. Then the export comes from this host's disk if it has it for that ETag, else
        from the bucket, kept on the disk as it is read.
        """
        _check_id(dataset_id)
        try:
            dataset = self.get(dataset_id)
        except DatasetNotFound:
            if self._disk is not None:
                self._disk.forget(dataset_id)
            raise
        if self._disk is not None:
            local = self._disk.open(dataset.id, dataset.etag, name)
            if local is not None:
                return dataset, StoredObject(local, os.fstat(local.fileno()).st_size, file=local)
        try:
            with _s3_errors(dataset_id):
                response = self.client.get_object(Bucket=self.bucket, Key=_export_key(dataset_id, name))
        except DatasetNotFound:
            return dataset, None
        body, length = response["Body"], response["ContentLength"]
        if response["Metadata"].get("source-etag") != dataset.etag:
            body.close()
            return dataset, None
        if self._disk is None:
            return dataset, StoredObject(body, length)
        keep = functools.partial(self._disk.entry, dataset.id, dataset.etag, name, length)
        return dataset, StoredObject(_KeptBody(body, keep), length)

    def export_writer(self, dataset: Dataset, name: str, content_type: str) -> ObjectWriter[None]:
        """A new export ``name`` of ``dataset``, tagged with its ETag. Its commit then checks that the
        dataset still exists: a delete that ran meanwhile may have swept the exports before this one
        was complete, and then it is deleted and DatasetNotFound raised."""
        key = _export_key(dataset.id, name)

        def check_dataset(_etag: str, _size: int) -> None:
            try:
                self.get(dataset.id)
            except DatasetNotFound:
                with _s3_errors(dataset.id):
                    self.client.delete_object(Bucket=self.bucket, Key=key)
                raise

        return ObjectWriter(
            self.client,
            self.bucket,
            key,
            content_type=content_type,
            metadata={"source-etag": dataset.etag},
            parts_in_flight=self.settings.parts_in_flight,
            on_commit=check_dataset,
        )


class _KeptBody:
    """An export's body from the bucket that is also written to the disk cache as it is read. The
    entry is made at the first read, so a body closed unread (a HEAD's) costs the disk nothing."""

    def __init__(self, body: Any, keep: Callable[[], Entry | None]) -> None:
        self._body = body
        self._keep: Callable[[], Entry | None] | None = keep  # None once called
        self._entry: Entry | None = None

    def read(self, size: int | None = None) -> bytes:
        if self._keep is not None:
            self._entry, self._keep = self._keep(), None
        data = self._body.read(size)
        if self._entry is not None:
            self._entry.write(data)
        return data

    def close(self) -> None:
        self._body.close()
        if self._entry is not None:
            self._entry.close()  # kept if every byte was read


class DatasetWriter(ObjectWriter[Dataset]):
    """The writer of a new dataset; its ``format`` may change until the commit (it is metadata)."""

    def __init__(self, storage: Storage, filename: str, format: str) -> None:
        self.dataset_id = ids.new_id()
        self._filename, self._format = filename, format
        self._known = storage._known
        super().__init__(
            storage.client,
            storage.bucket,
            _dataset_key(self.dataset_id),
            content_type=CONTENT_TYPES[format],
            metadata=dataset_metadata(filename, format),
            parts_in_flight=storage.settings.parts_in_flight,
            on_commit=self._stored,
        )

    @property
    def format(self) -> str:
        return self._format

    @format.setter
    def format(self, format: str) -> None:
        if format != self._format:
            self._format = format
            self._describe()

    @property
    def filename(self) -> str:
        return self._filename

    @filename.setter
    def filename(self, filename: str) -> None:
        if filename != self._filename:
            self._filename = filename
            self._describe()

    def _describe(self) -> None:
        """The object says what the upload turned out to be: its name and format."""
        self.describe(
            content_type=CONTENT_TYPES[self._format], metadata=dataset_metadata(self._filename, self._format)
        )

    def _stored(self, etag: str, size: int) -> Dataset:
        created = ids.created_at(self.dataset_id)
        return self._known.keep(Dataset(self.dataset_id, self._filename, size, created, etag, self._format))


def dataset_metadata(filename: str, format: str) -> dict[str, str]:
    """The user metadata of a dataset's object (the size is the object's own length)."""
    return {"filename": quote(filename, safe=""), "format": format}


def _dataset_key(dataset_id: str) -> str:
    return DATASETS_PREFIX + dataset_id


def _export_key(dataset_id: str, name: str) -> str:
    return f"{EXPORTS_PREFIX}{dataset_id}/{name}"


def _check_id(dataset_id: str) -> None:
    """Refuse a malformed id before any S3 call, so no request can address another key."""
    if not ids.is_valid(dataset_id):
        raise DatasetNotFound(dataset_id)


def _dataset(dataset_id: str, head: dict[str, Any]) -> Dataset:
    metadata = head.get("Metadata", {})
    format = metadata.get("format", "json")
    return Dataset(
        id=dataset_id,
        filename=unquote(metadata.get("filename", "dataset.json")),
        # Older objects carry their size in metadata too; it is the same number.
        size=int(metadata.get("size", head["ContentLength"])),
        created_at=ids.created_at(dataset_id),
        etag=head["ETag"],
        format=format if format in FORMATS else "json",
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class _LoggedOnce:
    """Which misconfigurations have been logged, so a broken setting is one log line, not one per request."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def first(self, what: str) -> bool:
        with self._lock:
            new = what not in self._seen
            self._seen.add(what)
            return new


_misconfigurations = _LoggedOnce()


def _misconfigured(what: str, error: Exception) -> StorageMisconfigured:
    if _misconfigurations.first(what):
        log.error("storage is misconfigured (%s): %s", what, error)
    return StorageMisconfigured(f"Storage is misconfigured ({what}); check the S3 settings.")


@contextmanager
def _s3_errors(dataset_id: str | None = None) -> Iterator[None]:
    """Turn S3 failures into our own errors: missing keys into DatasetNotFound (when a dataset is
    addressed); errors no retry heals (credentials, permissions, the bucket) into
    StorageMisconfigured, naming S3's error code; the network's and S3's passing ones into
    StorageUnavailable."""
    try:
        yield
    except ClientError as error:
        code = _error_code(error)
        if dataset_id is not None and code in _NOT_FOUND_CODES:
            raise DatasetNotFound(dataset_id) from error
        if code in _MISCONFIGURED_CODES:
            raise _misconfigured(code, error) from error
        if code == "403":  # a HEAD's answer has no body, so no code: only the status says it
            raise _misconfigured("403 Forbidden", error) from error
        log.warning("S3 error: %s", error)
        raise StorageUnavailable(f"Storage error: {code or 'unknown'}; try again shortly.") from error
    except _UNREACHABLE_ERRORS as error:
        log.warning("S3 unreachable: %s", error)
        raise StorageUnavailable("Storage is unreachable; try again shortly.") from error
    except BotoCoreError as error:
        # Told something no retry changes: no credentials, a parameter S3 would refuse, ...
        raise _misconfigured(type(error).__name__, error) from error


def settings_from(config: dict[str, Any]) -> StorageSettings:
    """The storage settings in the app's configuration (``service.config``)."""
    return StorageSettings(
        bucket=config["S3_BUCKET"],
        endpoint_url=config["S3_ENDPOINT_URL"],
        region=config["AWS_REGION"],
        connect_timeout=config["S3_CONNECT_TIMEOUT"],
        read_timeout=config["S3_READ_TIMEOUT"],
        max_attempts=config["S3_MAX_ATTEMPTS"],
        max_pool_connections=config["S3_MAX_POOL_CONNECTIONS"],
        parts_in_flight=config["S3_UPLOAD_PARTS_IN_FLIGHT"],
        metadata_cache_entries=config["METADATA_CACHE_ENTRIES"],
        ready_timeout=config["READY_TIMEOUT"],
        local_cache_dir=config["LOCAL_CACHE_DIR"],
        local_cache_bytes=config["LOCAL_CACHE_BYTES"],
    )


def init_app(app: Flask) -> None:
    """Attach a Storage made from the app's settings, and create the bucket if S3 answers."""
    storage = Storage(settings_from(app.config))
    app.extensions["storage"] = storage
    try:
        storage.ensure_bucket()
    except (StorageUnavailable, StorageMisconfigured) as error:
        # Start anyway: /readyz reports what is wrong, and creates the bucket once S3 answers.
        log.warning("bucket %s not ready at start-up: %s", storage.bucket, error.message)


def get_storage() -> Storage:
    """The current app's Storage."""
    return current_app.extensions["storage"]
