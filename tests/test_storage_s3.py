"""The storage module against a real S3 server (SeaweedFS): multipart writers, the export rule.

moto checks the calls; this checks that a real server takes them as we make them (part sizes,
explicit completes and aborts) and that an export is served only while S3 has its dataset,
through the API's gunicorn workers too.
"""

import threading
import uuid

import pytest
import requests

from service.errors import DatasetNotFound
from service.storage import PART_SIZE, Storage, StorageSettings
from tests.probes import api_server, bucket_client, upload_json


@pytest.fixture(scope="module")
def bucket() -> str:
    return f"storage-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def storage(s3_server, bucket, monkeypatch) -> Storage:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    storage = Storage(StorageSettings(bucket, endpoint_url=s3_server.endpoint_url, region="us-east-1"))
    storage.ensure_bucket()
    return storage


def test_a_multipart_writer_on_a_real_server(storage):
    body = bytes(range(256)) * (PART_SIZE * 2 // 256) + b"tail"
    with storage.dataset_writer("big.json") as writer:
        for start in range(0, len(body), 300_000):  # writes that do not line up with parts
            writer.write(body[start : start + 300_000])
        assert writer.started
        dataset = writer.commit()
    assert storage.get(dataset.id) == dataset and dataset.size == len(body)
    with storage.open_content(dataset.id) as content:
        assert b"".join(content.chunks()) == body
    with pytest.raises(RuntimeError), storage.dataset_writer("abandoned.json") as abandoned:
        abandoned.write(body)
        raise RuntimeError("refused")
    uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
    assert [upload["Key"] for upload in uploads if upload["Key"] == abandoned.key] == []
    with pytest.raises(DatasetNotFound):
        storage.get(abandoned.key.removeprefix("datasets/"))


def test_an_export_racing_a_delete_on_a_real_server_never_outlives_it(storage):
    for _ in range(5):
        with storage.dataset_writer("raced.json") as writer:
            writer.write(b"[1]")
            dataset = writer.commit()
        started = threading.Barrier(2)

        def delete(dataset_id: str, started: threading.Barrier) -> None:
            started.wait()
            storage.delete(dataset_id)

        deleter = threading.Thread(target=delete, args=(dataset.id, started))
        deleter.start()
        try:
            with storage.export_writer(dataset, "workbook.xlsx", "application/octet-stream") as export:
                export.write(b"workbook" * 1000)
                started.wait()
                export.commit()
        except DatasetNotFound:
            pass  # the delete came first: the export was removed by its own check
        deleter.join()
        with pytest.raises(DatasetNotFound):
            storage.get_export(dataset.id, "workbook.xlsx")
        listed = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=f"exports/{dataset.id}")
        assert listed.get("Contents", []) == []


def test_the_api_serves_no_export_once_its_dataset_left_the_bucket(s3_server, tmp_path):
    """Issue 12, item 1: removed by other means (a lifecycle rule, ``mc rm``), after every worker
    has served the export; each replica and worker must ask S3, not its memory."""
    bucket = f"removed-{uuid.uuid4().hex[:8]}"
    with api_server(s3_server, bucket, tmp_path) as first, api_server(s3_server, bucket, tmp_path) as second:
        dataset_id = upload_json(first.url, b'[{"a": 1}, {"a": 2}]').json()["id"]
        for _ in range(6):
            for server in (first, second):
                requests.get(f"{server.url}/datasets/{dataset_id}/excel/", timeout=30).raise_for_status()
        for server in (first, second):  # each now sends it from its own disk
            assert list(server.local_cache.glob(f"{dataset_id}/*workbook.xlsx"))
        bucket_client(s3_server).delete_object(Bucket=bucket, Key=f"datasets/{dataset_id}")
        for _ in range(6):
            for server in (first, second):
                response = requests.get(f"{server.url}/datasets/{dataset_id}/excel/", timeout=30)
                assert response.status_code == 404, response.headers
                assert requests.get(f"{server.url}/datasets/{dataset_id}/", timeout=30).status_code == 404
        for server in (first, second):
            assert not (server.local_cache / dataset_id).exists()
