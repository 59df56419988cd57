"""The page's server side, on moto in-process: what / renders, and the headers it is served with."""

import io

import pytest
from moto import mock_aws

from service import create_app
from service.web import size

HOSTILE_NAME = "<img src=x onerror=alert(1)>.json"


def upload(client, name: str, body: bytes = b'[{"a": 1}]') -> dict:
    response = client.post("/datasets/", data={"file": (io.BytesIO(body), name)})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_the_page_lists_the_datasets_with_names_escaped(client):
    created = upload(client, HOSTILE_NAME)
    html = client.get("/").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;.json" in html and "<img" not in html
    assert f'href="?dataset={created["id"]}"' in html


def test_a_link_to_a_dataset_renders_its_details_and_downloads(client):
    created = upload(client, "people.json")
    html = client.get(f"/?dataset={created['id']}").get_data(as_text=True)
    assert '<h2 id="dataset-heading" tabindex="-1">people.json</h2>' in html
    assert f'href="/datasets/{created["id"]}/excel/"' in html
    assert f'href="/datasets/{created["id"]}/content/"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?dataset=nope", "No dataset with id &#39;nope&#39;."),
        ("?cursor=nope", "cursor: must be the next_cursor of a page this API gave out."),
    ],
)
def test_what_cannot_be_shown_says_why_as_the_api_would(client, query, message):
    response = client.get(f"/{query}")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_a_page_of_datasets_links_to_the_next(client):
    created = [upload(client, f"{number}.json")["id"] for number in range(3)]
    html = client.get(f"/?cursor={created[0]}").get_data(as_text=True)
    assert f'data-id="{created[0]}"' not in html and f'data-id="{created[2]}"' in html


def test_with_tokens_the_page_shows_no_datasets_until_the_script_has_one(aws_credentials):
    with mock_aws():
        app = create_app({"TESTING": True, "S3_ENDPOINT_URL": None, "S3_BUCKET": "web", "API_TOKENS": ["t"]})
        client = app.test_client()
        upload_headers = {"Authorization": "Bearer t"}
        stored = client.post(
            "/datasets/", data={"file": (io.BytesIO(b"[]"), "secret.json")}, headers=upload_headers
        )
        assert stored.status_code == 201
        html = client.get("/").get_data(as_text=True)
        assert "secret.json" not in html and 'data-rendered="false"' in html
        assert "secret.json" not in client.get(f"/?dataset={stored.get_json()['id']}").get_data(as_text=True)


def test_the_page_and_its_files_carry_the_security_headers(client):
    for path in ("/", "/assets/page.js", "/assets/page.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert (
            "default-src 'self'" in policy
            and "script-src 'self'" in policy
            and "frame-ancestors 'none'" in policy
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in client.get("/datasets/").headers  # the API's JSON needs none


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (53143, "51.9 KiB"), (3 * 1024**3, "3.0 GiB")],
)
def test_sizes_read_as_the_script_writes_them(value, shown):
    assert size(value) == shown


def test_a_link_with_a_root_links_the_workbook_of_those_records(client):
    created = upload(client, "nested.json", b'{"results": [{"a": 1}]}')
    html = client.get(f"/?dataset={created['id']}&root=/results").get_data(as_text=True)
    assert f'href="/datasets/{created["id"]}/excel/?root=%2Fresults"' in html
    assert 'id="root-input" name="root" type="text" value="/results"' in html
