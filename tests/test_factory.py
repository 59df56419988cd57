import os
import subprocess
import sys

import pytest
from moto import mock_aws

from deploy.embedded_s3 import free_port
from service import config, create_app
from service.config import ConfigurationError
from tests.servers import GUNICORN_CONFIG


def test_settings_come_from_the_environment(monkeypatch, aws_credentials):
    monkeypatch.setenv("S3_BUCKET", "from-env")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("API_TOKENS", " a , b,,")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: start-up must survive
    app = create_app()
    assert app.config["S3_BUCKET"] == "from-env"
    assert app.config["MAX_UPLOAD_BYTES"] == 1234
    assert app.config["API_TOKENS"] == ["a", "b"]
    assert app.extensions["storage"].settings.endpoint_url == "http://127.0.0.1:9"


def test_test_config_overrides_the_environment(app):
    assert app.testing
    assert app.config["S3_BUCKET"] == "test-datasets"
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["MAX_UPLOAD_BYTES"]


def test_the_bucket_is_created_at_start_up(app):
    storage = app.extensions["storage"]
    names = [bucket["Name"] for bucket in storage.client.list_buckets()["Buckets"]]
    assert "test-datasets" in names


def test_paths_without_the_trailing_slash_answer_directly(client):
    created = client.post("/datasets", data=b"[1]", content_type="application/json")
    assert created.status_code == 201
    dataset_id = created.get_json()["id"]
    assert client.get("/datasets").get_json()["items"][0]["id"] == dataset_id
    assert client.get(f"/datasets/{dataset_id}").get_json()["id"] == dataset_id
    assert client.get(f"/datasets/{dataset_id}/content").data == b"[1]"
    assert client.delete(f"/datasets/{dataset_id}").status_code == 204


def test_a_path_nothing_answers_at_is_404_naming_it(client):
    for path in ("/docs/datasets/", "/datasets/x/y/z/", "/nothing"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json() == {
            "message": f"Nothing answers at {path}; the API's calls are listed at /docs."
        }


def test_a_bad_query_argument_is_the_one_error_shape_naming_it(client):
    response = client.get("/datasets/?limit=0")
    assert response.status_code == 400
    assert response.get_json() == {"message": "limit: must be a whole number from 1 to 1000, not '0'."}


def test_list_parameters_come_from_the_query_string_only(client):
    response = client.get("/datasets/", json={"limit": 5, "cursor": 5})
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_cursor": None}


def test_an_all_non_ascii_name_gets_a_plain_ascii_fallback(client):
    created = client.post("/datasets/?filename=данные.json", data=b"[1]", content_type="application/json")
    excel = client.get(f"/datasets/{created.get_json()['id']}/excel/")
    disposition = excel.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=download.xlsx; ")
    assert "filename*=UTF-8''%D0%B4%D0%B0%D0%BD%D0%BD%D1%8B%D0%B5.xlsx" in disposition


def test_an_invalid_bucket_name_refuses_to_start(aws_credentials):
    with pytest.raises(ConfigurationError, match="S3_BUCKET='Not_A_Bucket' is not a valid S3 bucket name"):
        create_app({"S3_BUCKET": "Not_A_Bucket"})


def test_the_server_with_an_invalid_bucket_name_stops_in_one_line():
    env = {**os.environ, "S3_BUCKET": "no..dots", "PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "datasets-api: S3_BUCKET='no..dots' is not a valid S3 bucket name: use 3 to 63 lower-case"
        " letters, digits, dots and hyphens, starting and ending with a letter or digit."
    ]


@pytest.mark.parametrize("name", ["ab", "a" * 64, "UPPER", "-start", "end-", "192.168.1.1", "under_score"])
def test_bucket_names_s3_refuses_are_refused(name):
    with pytest.raises(ConfigurationError):
        config.check({**config.from_environment({}), "S3_BUCKET": name})


def test_bucket_names_s3_takes_are_taken():
    for name in ("datasets", "my-data.2026", "a1b"):
        config.check({**config.from_environment({}), "S3_BUCKET": name})


def test_a_test_config_does_not_inherit_the_shell_s_settings(monkeypatch, aws_credentials):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "5")
    monkeypatch.setenv("API_TOKENS", "from-the-shell")
    monkeypatch.setenv("S3_BUCKET", "shell-bucket")
    with mock_aws():
        app = create_app({"TESTING": True, "S3_BUCKET": "test-datasets"})
    assert app.config["MAX_UPLOAD_BYTES"] == config.GIB
    assert app.config["API_TOKENS"] == []
    assert app.config["S3_BUCKET"] == "test-datasets"


def test_the_local_cache_can_be_turned_off_but_not_made_negative():
    assert config.from_environment({"LOCAL_CACHE_BYTES": "0"})["LOCAL_CACHE_BYTES"] == 0
    with pytest.raises(ConfigurationError, match="LOCAL_CACHE_BYTES must be 0"):
        config.check({**config.from_environment({}), "LOCAL_CACHE_BYTES": -1})
