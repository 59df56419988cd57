"""The storage module on moto's in-process S3: keys, metadata, writers, pages, caches, failures."""

import io
import itertools
import os
import threading
import time

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from service import ids
from service.errors import DatasetNotFound, StorageMisconfigured, StorageUnavailable
from service.storage import CHUNK_SIZE, PART_SIZE, Storage, StorageSettings, StoredObject

BUCKET = "unit-datasets"


def make_storage(**settings) -> Storage:
    return Storage(StorageSettings(BUCKET, region="us-east-1", **settings))


@pytest.fixture
def storage(aws_credentials):
    with mock_aws():
        storage = make_storage()
        storage.ensure_bucket()
        yield storage


def save(storage: Storage, body: bytes = b"[1, 2]", filename: str = "data.json", format: str = "json"):
    with storage.dataset_writer(filename, format) as writer:
        writer.write(body)
        return writer.commit()


def keys(storage: Storage) -> list[str]:
    return [item["Key"] for item in storage.client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def calls(storage: Storage, *operations: str) -> list[str]:
    """The names of the calls among ``operations`` the client makes from now on, in order."""
    made: list[str] = []
    for operation in operations:
        storage.client.meta.events.register(
            f"before-call.s3.{operation}", lambda operation=operation, **_: made.append(operation)
        )
    return made


def test_saved_datasets_keep_bytes_and_metadata(storage):
    body = '{"ключ": "значение"}'.encode()
    dataset = save(storage, body, "данные 1.json")
    assert ids.is_valid(dataset.id)
    assert (dataset.filename, dataset.size, dataset.format) == ("данные 1.json", len(body), "json")
    head = storage.client.head_object(Bucket=BUCKET, Key=f"datasets/{dataset.id}")
    assert head["Metadata"]["format"] == "json" and head["ContentType"] == "application/json"
    assert storage.get(dataset.id) == dataset
    with storage.open_content(dataset.id) as content:
        assert content.read() == body
    lines = save(storage, b'{"a": 1}\n{"a": 2}\n', "log.jsonl", format="jsonl")
    assert storage.get(lines.id).format == "jsonl"
    head = storage.client.head_object(Bucket=BUCKET, Key=f"datasets/{lines.id}")
    assert head["ContentType"] == "application/x-ndjson"


def test_content_read_in_any_sizes_is_the_stored_bytes(storage):
    body = bytes(range(256)) * (CHUNK_SIZE * 5 // 2 // 256) + b"tail"
    dataset = save(storage, body, "big.json")
    with storage.open_content(dataset.id) as content:
        pieces = [content.read(16 * 1024), content.read(1), content.read(CHUNK_SIZE + 7), content.read(0)]
        pieces.append(content.read())
        assert content.read(16 * 1024) == b""
    assert b"".join(pieces) == body and pieces[3] == b""


class _CountedReads(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.sizes.append(size)
        return super().read(size)


def test_small_reads_of_a_stored_object_are_served_from_large_reads_of_its_body():
    data = b"x" * (3 * CHUNK_SIZE)
    body = _CountedReads(data)
    stored = StoredObject(body, len(data))
    read = b"".join(iter(lambda: stored.read(16 * 1024), b""))
    assert read == data
    assert body.sizes == [CHUNK_SIZE] * 4  # three full reads, then the end


def test_objects_stored_before_formats_existed_are_json_of_their_length(storage):
    dataset_id = ids.new_id()
    storage.client.put_object(
        Bucket=BUCKET, Key=f"datasets/{dataset_id}", Body=b"[1]", Metadata={"filename": "old.json"}
    )
    dataset = storage.get(dataset_id)
    assert (dataset.filename, dataset.size, dataset.format) == ("old.json", 3, "json")


def test_a_small_object_is_one_put_at_commit(storage):
    made = calls(storage, "PutObject", "CreateMultipartUpload", "UploadPart")
    with storage.dataset_writer("small.json") as writer:
        writer.write(b"[")
        writer.write(b"1]")
        assert made == [] and keys(storage) == []
        dataset = writer.commit()
    assert made == ["PutObject"]
    assert storage.open_content(dataset.id).read() == b"[1]"


def test_a_large_object_goes_in_parts_as_it_is_written_and_appears_on_commit(storage):
    body = b"[" + b" " * (2 * PART_SIZE + 1000) + b"]"
    made = calls(storage, "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
    with storage.dataset_writer("big.json") as writer:
        for start in range(0, len(body), 1024**2):
            writer.write(body[start : start + 1024**2])
        assert made == ["CreateMultipartUpload", "UploadPart", "UploadPart"]  # sent while writing
        assert keys(storage) == []
        dataset = writer.commit()
    assert made[-2:] == ["UploadPart", "CompleteMultipartUpload"]
    assert dataset.size == len(body) == storage.get(dataset.id).size
    assert storage.open_content(dataset.id).read() == body


@pytest.mark.parametrize("parts_sent", [0, 1, 3])
def test_a_writer_left_on_an_error_leaves_nothing(storage, parts_sent):
    with pytest.raises(ValueError), storage.dataset_writer("rejected.json") as writer:
        writer.write(b" " * (parts_sent * PART_SIZE + 10))
        raise ValueError("the body turned out not to be JSON")
    assert keys(storage) == []
    assert storage.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_parts_in_flight_are_bounded(aws_credentials):
    with mock_aws():
        storage = make_storage(parts_in_flight=2)
        storage.ensure_bucket()
        running, most = 0, 0
        lock = threading.Lock()

        def slow_part(**_) -> None:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with lock:
                running -= 1

        storage.client.meta.events.register("before-call.s3.UploadPart", slow_part)
        with storage.dataset_writer("big.json") as writer:
            for _ in range(6):
                writer.write(b" " * PART_SIZE)
            writer.write(b"1")
            dataset = writer.commit()
        assert most == 2
        assert storage.get(dataset.id).size == 6 * PART_SIZE + 1


def test_a_part_s3_refuses_is_storage_unavailable_and_the_upload_is_aborted(storage):
    def refuse(**_) -> None:
        raise ClientError(
            {"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "UploadPart"
        )

    storage.client.meta.events.register("before-call.s3.UploadPart", refuse)
    with pytest.raises(StorageUnavailable, match="SlowDown"), storage.dataset_writer("big.json") as writer:
        for _ in range(3):
            writer.write(b" " * PART_SIZE)
        writer.commit()
    assert keys(storage) == []
    assert storage.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_listing_pages_oldest_first_and_follows_cursors(storage):
    made = [save(storage, f"[{n}]".encode()).id for n in range(7)]
    seen, cursor = [], None
    while True:
        page, cursor = storage.list(3, cursor)
        assert len(page) <= 3
        seen += [dataset.id for dataset in page]
        if cursor is None:
            break
    assert seen == made


def test_listing_skips_foreign_keys(storage):
    kept = save(storage)
    storage.client.put_object(Bucket=BUCKET, Key="datasets/not-an-id", Body=b"{}")
    page, cursor = storage.list(10)
    assert [dataset.id for dataset in page] == [kept.id]
    assert cursor is None


def test_unknown_and_malformed_ids_are_not_found(storage):
    for missing in [ids.new_id(), "../exports/x", "", "datasets/" + ids.new_id()]:
        with pytest.raises(DatasetNotFound):
            storage.get(missing)
        with pytest.raises(DatasetNotFound):
            storage.delete(missing)
        with pytest.raises(DatasetNotFound):
            storage.get_export(missing, "workbook.xlsx")


def export(storage: Storage, dataset, name: str = "workbook.xlsx", body: bytes = b"workbook") -> None:
    with storage.export_writer(dataset, name, "application/octet-stream") as writer:
        writer.write(body)
        writer.commit()


def test_delete_removes_the_dataset_and_everything_made_from_it(storage):
    dataset, other = save(storage), save(storage)
    for name in ("workbook.xlsx", "data.csv", "root=%2Fa/workbook.xlsx"):
        export(storage, dataset, name)
    export(storage, other)
    storage.client.put_object(Bucket=BUCKET, Key=f"exports/{dataset.id}.xlsx", Body=b"an old cache")
    storage.delete(dataset.id)
    assert keys(storage) == [f"datasets/{other.id}", f"exports/{other.id}/workbook.xlsx"]
    with pytest.raises(DatasetNotFound):
        storage.get(dataset.id)


def test_the_export_cache_serves_only_what_was_made_from_these_bytes(storage):
    dataset = save(storage)
    assert storage.get_export(dataset.id, "workbook.xlsx") == (dataset, None)
    export(storage, dataset)
    found, cached = storage.get_export(dataset.id, "workbook.xlsx")
    assert found == dataset and cached is not None
    assert (b"".join(cached.chunks(3)), cached.length) == (b"workbook", 8)
    # A workbook made from other bytes (another ETag) is never served as this dataset's.
    storage.client.put_object(
        Bucket=BUCKET,
        Key=f"exports/{dataset.id}/workbook.xlsx",
        Body=b"other workbook",
        Metadata={"source-etag": '"another"'},
    )
    assert storage.get_export(dataset.id, "workbook.xlsx") == (dataset, None)


def test_an_export_is_never_served_once_s3_no_longer_has_its_dataset(storage):
    """However the dataset went: another replica's delete, or a lifecycle rule, ``mc rm``, a restore."""
    dataset = save(storage)
    export(storage, dataset)
    assert storage.get_export(dataset.id, "workbook.xlsx")[1] is not None  # this process knows it
    storage.client.delete_object(Bucket=BUCKET, Key=f"datasets/{dataset.id}")  # not through us
    for _ in range(3):
        with pytest.raises(DatasetNotFound):
            storage.get_export(dataset.id, "workbook.xlsx")
    other = save(storage)
    export(storage, other)
    make_storage().delete(other.id)  # another replica
    with pytest.raises(DatasetNotFound):
        storage.get_export(other.id, "workbook.xlsx")


def test_an_export_finished_after_its_dataset_was_deleted_is_removed(storage):
    dataset = save(storage)
    with storage.export_writer(dataset, "workbook.xlsx", "application/octet-stream") as writer:
        writer.write(b"workbook")
        storage.delete(dataset.id)  # a delete racing the export
        with pytest.raises(DatasetNotFound):
            writer.commit()
    assert keys(storage) == []


def test_a_racing_export_whose_check_failed_is_still_never_served(storage):
    """The export's check after its PUT got a 503, so it stays in the bucket; the dataset is gone."""
    dataset = save(storage)
    storage.delete(dataset.id)

    def unavailable(**_) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "busy"}}, "HeadObject")

    storage.client.meta.events.register("before-call.s3.HeadObject", unavailable)
    with pytest.raises(StorageUnavailable):
        export(storage, dataset)
    storage.client.meta.events.unregister("before-call.s3.HeadObject", unavailable)
    assert keys(storage) == [f"exports/{dataset.id}/workbook.xlsx"]
    with pytest.raises(DatasetNotFound):
        storage.get_export(dataset.id, "workbook.xlsx")


def test_deleting_a_missing_dataset_removes_exports_left_behind(storage):
    """What a delete cut short between its calls may leave: exports without their dataset."""
    dataset = save(storage)
    export(storage, dataset)
    storage.client.delete_object(Bucket=BUCKET, Key=f"datasets/{dataset.id}")
    with pytest.raises(DatasetNotFound):
        storage.delete(dataset.id)
    assert keys(storage) == []


def test_an_unreachable_endpoint_is_storage_unavailable(aws_credentials):
    storage = Storage(StorageSettings("any", endpoint_url="http://127.0.0.1:9", region="us-east-1"))
    with pytest.raises(StorageUnavailable, match="unreachable"):
        storage.get(ids.new_id())
    with pytest.raises(StorageUnavailable):
        storage.ensure_bucket()


@pytest.mark.parametrize(
    "code", ["AccessDenied", "InvalidAccessKeyId", "NoSuchBucket", "SignatureDoesNotMatch"]
)
def test_errors_no_retry_heals_are_misconfiguration_naming_the_code(storage, code, caplog):
    def refuse(**_) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "HeadObject")

    storage.client.meta.events.register("before-call.s3.HeadObject", refuse)
    for _ in range(3):
        with pytest.raises(StorageMisconfigured, match=code):
            storage.get(ids.new_id())
    logged = [record for record in caplog.records if code in record.getMessage()]
    assert len(logged) == 1  # once, not once per request


def test_missing_credentials_are_misconfiguration(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    storage = Storage(StorageSettings("any", endpoint_url="http://127.0.0.1:9", region="us-east-1"))
    with pytest.raises(StorageMisconfigured, match="NoCredentialsError"):
        storage.get(ids.new_id())


def count_heads(storage: Storage) -> list[str]:
    """The keys of every HeadObject call the client makes from now on."""
    heads: list[str] = []
    storage.client.meta.events.register("before-call.s3.HeadObject", lambda params, **_: heads.append(params))
    return heads


def test_a_listing_reads_the_metadata_of_each_dataset_once(storage):
    made = [save(storage, f"[{n}]".encode(), f"{n}.json") for n in range(5)]
    other = make_storage()  # another replica: knows nothing yet
    heads = count_heads(other)
    first, _ = other.list(10)
    assert first == made and len(heads) == 5
    again, _ = other.list(10)
    assert again == made and len(heads) == 5


def test_a_listing_never_serves_metadata_for_other_bytes(storage):
    dataset = save(storage, b"[1]", "before.json")
    assert storage.list(10)[0] == [dataset]
    # Another writer replaces the object under the same key: new bytes, new ETag, new metadata.
    storage.client.put_object(
        Bucket=BUCKET,
        Key=f"datasets/{dataset.id}",
        Body=b"[2, 3]",
        Metadata={"filename": "after.json", "format": "json"},
    )
    listed, _ = storage.list(10)
    assert [(item.filename, item.size) for item in listed] == [("after.json", 6)]
    storage.delete(dataset.id)
    assert storage.list(10) == ([], None)


def test_parts_keep_every_byte_in_order_whatever_the_sizes_written(storage):
    body = os.urandom(2 * PART_SIZE + 12345)
    sizes = itertools.cycle([1, 777_777, 3 * 1024**2 + 1, PART_SIZE, 0, 5])
    with storage.dataset_writer("odd.bin") as writer:
        start = 0
        while start < len(body):
            end = start + next(sizes)
            writer.write(bytearray(body[start:end]))  # a buffer the caller may reuse, too
            start = end
        dataset = writer.commit()
    assert storage.open_content(dataset.id).read() == body
