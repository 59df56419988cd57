"""The storage module on moto's in-process S3: keys, metadata, pages, cache, failures."""

import io

import pytest
from moto import mock_aws

from service import ids
from service.errors import DatasetNotFound, StorageUnavailable
from service.storage import Storage


@pytest.fixture
def storage(aws_credentials):
    with mock_aws():
        storage = Storage("unit-datasets", region="us-east-1")
        storage.ensure_bucket()
        yield storage


def save(storage: Storage, body: bytes = b"[1, 2]", filename: str = "data.json"):
    return storage.save(io.BytesIO(body), filename, len(body))


def test_saved_datasets_keep_bytes_and_metadata(storage):
    body = '{"ключ": "значение"}'.encode()
    dataset = save(storage, body, "данные 1.json")
    assert ids.is_valid(dataset.id)
    assert (dataset.filename, dataset.size) == ("данные 1.json", len(body))
    head = storage.client.head_object(Bucket="unit-datasets", Key=f"datasets/{dataset.id}")
    assert head["Metadata"]["size"] == str(len(body))
    assert storage.get(dataset.id) == dataset
    assert storage.open_content(dataset.id).body.read() == body


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
    storage.client.put_object(Bucket="unit-datasets", Key="datasets/not-an-id", Body=b"{}")
    page, cursor = storage.list(10)
    assert [dataset.id for dataset in page] == [kept.id]
    assert cursor is None


def test_unknown_and_malformed_ids_are_not_found(storage):
    for missing in [ids.new_id(), "../exports/x", "", "datasets/" + ids.new_id()]:
        with pytest.raises(DatasetNotFound):
            storage.get(missing)
        with pytest.raises(DatasetNotFound):
            storage.delete(missing)


def test_a_streamed_upload_appears_on_commit_and_leaves_nothing_when_abandoned(storage):
    body = b"[" + b" " * (20 * 1024**2) + b"]"  # past the multipart threshold: sent in parts

    def send(stored) -> None:
        for start in range(0, len(body), 1024**2):
            stored.write(body[start : start + 1024**2])

    with storage.upload("big.json", len(body)) as stored:
        send(stored)
        dataset = stored.commit()
    assert (dataset.filename, dataset.size) == ("big.json", len(body))
    assert storage.open_content(dataset.id).body.read() == body
    for small in (False, True):  # abandoned after every part was sent, or before the first
        with pytest.raises(ValueError), storage.upload("rejected.json", len(body)) as stored:
            if not small:
                send(stored)
            raise ValueError("the body turned out not to be JSON")
    keys = storage.client.list_objects_v2(Bucket="unit-datasets").get("Contents", [])
    assert [item["Key"] for item in keys] == [f"datasets/{dataset.id}"]
    assert storage.client.list_multipart_uploads(Bucket="unit-datasets").get("Uploads", []) == []


def test_delete_removes_the_dataset_and_its_export(storage):
    dataset = save(storage)
    storage.save_export(dataset, io.BytesIO(b"workbook"))
    storage.delete(dataset.id)
    keys = storage.client.list_objects_v2(Bucket="unit-datasets").get("Contents", [])
    assert keys == []
    with pytest.raises(DatasetNotFound):
        storage.get(dataset.id)


def test_the_export_cache_serves_only_what_was_made_from_these_bytes(storage):
    dataset = save(storage)
    assert storage.get_with_export(dataset.id) == (dataset, None)
    storage.save_export(dataset, io.BytesIO(b"workbook"))
    found, cached = storage.get_with_export(dataset.id)
    assert found == dataset and cached is not None and cached.body.read() == b"workbook"
    # A workbook made from other bytes (another ETag) is never served as this dataset's.
    storage.client.put_object(
        Bucket="unit-datasets",
        Key=f"exports/{dataset.id}.xlsx",
        Body=b"other workbook",
        Metadata={"source-etag": '"another"'},
    )
    assert storage.get_with_export(dataset.id) == (dataset, None)


def test_a_cached_export_the_process_knows_the_dataset_of_costs_no_head(storage):
    dataset = save(storage)
    storage.save_export(dataset, io.BytesIO(b"workbook"))
    heads = count_heads(storage)
    found, cached = storage.get_with_export(dataset.id)
    assert found == dataset and cached is not None and cached.body.read() == b"workbook"
    assert heads == []
    other = Storage("unit-datasets", region="us-east-1")  # another replica: reads the dataset once
    other_heads = count_heads(other)
    for _ in range(3):
        assert other.get_with_export(dataset.id)[0] == dataset
    assert len(other_heads) == 1


def test_an_export_is_not_served_once_another_replica_deleted_its_dataset(storage):
    dataset = save(storage)
    storage.save_export(dataset, io.BytesIO(b"workbook"))
    assert storage.get_with_export(dataset.id)[1] is not None  # this process now knows the dataset
    Storage("unit-datasets", region="us-east-1").delete(dataset.id)
    with pytest.raises(DatasetNotFound):
        storage.get_with_export(dataset.id)


def test_deleting_a_missing_dataset_removes_an_export_left_behind(storage):
    """What a delete cut short between its calls may leave: the export without its dataset."""
    dataset = save(storage)
    storage.save_export(dataset, io.BytesIO(b"workbook"))
    storage.client.delete_object(Bucket="unit-datasets", Key=f"datasets/{dataset.id}")
    with pytest.raises(DatasetNotFound):
        storage.delete(dataset.id)
    assert storage.client.list_objects_v2(Bucket="unit-datasets").get("Contents", []) == []


def test_an_unreachable_endpoint_is_storage_unavailable(aws_credentials):
    storage = Storage("any", endpoint_url="http://127.0.0.1:9", region="us-east-1")
    with pytest.raises(StorageUnavailable, match="unreachable"):
        storage.get(ids.new_id())
    with pytest.raises(StorageUnavailable):
        storage.ensure_bucket()


def count_heads(storage: Storage) -> list[str]:
    """The keys of every HeadObject call the client makes from now on."""
    heads: list[str] = []
    storage.client.meta.events.register("before-call.s3.HeadObject", lambda params, **_: heads.append(params))
    return heads


def test_a_listing_reads_the_metadata_of_each_dataset_once(storage):
    made = [save(storage, f"[{n}]".encode(), f"{n}.json") for n in range(5)]
    other = Storage("unit-datasets", region="us-east-1")  # another replica: knows nothing yet
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
        Bucket="unit-datasets",
        Key=f"datasets/{dataset.id}",
        Body=b"[2, 3]",
        Metadata={"filename": "after.json", "size": "6"},
    )
    listed, _ = storage.list(10)
    assert [(item.filename, item.size) for item in listed] == [("after.json", 6)]
    storage.delete(dataset.id)
    assert storage.list(10) == ([], None)
