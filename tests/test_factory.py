from service import create_app


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
