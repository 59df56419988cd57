"""Everything lives in the bucket: a restart of the API loses no dataset, and deleting a dataset
removes its object and its cached export (checked in the bucket itself)."""

import requests

from service import exports
from tests.probes import api_server, assert_error, bucket_client, upload_json


def test_a_restart_of_the_api_loses_no_dataset(s3_server, tmp_path):
    body = b'[{"survives": true}]'
    with api_server(s3_server, "restart", tmp_path) as first:
        dataset = upload_json(first.url, body, filename="keep.json").json()
        workbook = requests.get(f"{first.url}/datasets/{dataset['id']}/excel/", timeout=60).content
    with api_server(s3_server, "restart", tmp_path) as second:
        assert requests.get(f"{second.url}/datasets/{dataset['id']}/", timeout=30).json() == dataset
        listed = requests.get(f"{second.url}/datasets/", timeout=30).json()["items"]
        assert listed == [dataset]
        assert requests.get(f"{second.url}/datasets/{dataset['id']}/content/", timeout=30).content == body
        assert requests.get(f"{second.url}/datasets/{dataset['id']}/excel/", timeout=60).content == workbook


def test_deleting_removes_the_object_and_its_cached_export(s3_server, tmp_path):
    client = bucket_client(s3_server)
    with api_server(s3_server, "deletion", tmp_path) as api:
        kept = upload_json(api.url, b"[1]").json()["id"]
        gone = upload_json(api.url, b'[{"x": 1}]').json()["id"]
        for dataset_id in (kept, gone):
            requests.get(f"{api.url}/datasets/{dataset_id}/excel/", timeout=60).raise_for_status()

        def keys_of() -> set[str]:
            return {item["Key"] for item in client.list_objects_v2(Bucket="deletion")["Contents"]}

        before = keys_of()
        made = {
            f"exports/{gone}/{exports.SURVEY}",
            f"exports/{gone}/workbook.xlsx",
        }  # the survey and the workbook
        assert {key for key in before if gone in key} == {f"datasets/{gone}", *made}
        assert requests.delete(f"{api.url}/datasets/{gone}/", timeout=30).status_code == 204
        assert keys_of() == {key for key in before if gone not in key}
        assert_error(requests.delete(f"{api.url}/datasets/{gone}/", timeout=30), 404)
        assert_error(requests.get(f"{api.url}/datasets/{gone}/excel/", timeout=30), 404)


def test_objects_the_api_did_not_write_are_skipped_or_refused_not_500(s3_server, tmp_path):
    """Keys and bodies put into the bucket by some other tool: listed only if they are datasets,
    and a body that is not JSON is a 422 on export, never a server error."""
    client = bucket_client(s3_server)
    client.create_bucket(Bucket="foreign")
    with api_server(s3_server, "foreign", tmp_path) as api:
        ours = upload_json(api.url, b"[1]").json()
        foreign_id = ours["id"][:-1] + ("0" if ours["id"][-1] != "0" else "1")
        client.put_object(Bucket="foreign", Key=f"datasets/{foreign_id}", Body=b"{not json")  # no metadata
        for key in ("datasets/not-an-id", "datasets/sub/" + foreign_id, "elsewhere/x", "exports/x.xlsx"):
            client.put_object(Bucket="foreign", Key=key, Body=b"[]")
        listed = requests.get(f"{api.url}/datasets/", timeout=30)
        assert listed.status_code == 200
        assert sorted(dataset["id"] for dataset in listed.json()["items"]) == sorted([ours["id"], foreign_id])
        # Page by page too, every next_cursor (whatever key ended the page) is one the API accepts.
        paged, params = [], {"limit": 1}
        while True:
            page = requests.get(f"{api.url}/datasets/", params=params, timeout=30)
            assert page.status_code == 200, page.text
            paged += [dataset["id"] for dataset in page.json()["items"]]
            if page.json()["next_cursor"] is None:
                break
            params["cursor"] = page.json()["next_cursor"]
        assert sorted(paged) == sorted([ours["id"], foreign_id])
        info = requests.get(f"{api.url}/datasets/{foreign_id}/", timeout=30).json()
        assert info["filename"] == "dataset.json" and info["size"] == len(b"{not json")
        assert "JSON" in assert_error(
            requests.get(f"{api.url}/datasets/{foreign_id}/excel/", timeout=30), 422
        )
        assert requests.get(f"{api.url}/datasets/{foreign_id}/content/", timeout=30).content == b"{not json"
        assert requests.delete(f"{api.url}/datasets/{foreign_id}/", timeout=30).status_code == 204
