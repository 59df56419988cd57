"""Access control with API_TOKENS set: every /datasets call needs one of the bearer tokens; the probes
and the documentation stay open; an unauthorised upload is refused before its body is read.
"""

import json
import os
import subprocess
import sys

import pytest
import requests

from tests.probes import assert_error, raw_request, upload_json

TOKENS = ("secret-token-1", "secret-token-2")  # what the secured_server fixture is started with

BAD_AUTHORIZATIONS = {
    "missing": None,
    "empty": "",
    "scheme only": "Bearer",
    "empty token": "Bearer ",
    "wrong token": "Bearer not-a-token",
    "a token's prefix": "Bearer secret-token",
    "a token extended": "Bearer secret-token-10",
    "both tokens": "Bearer secret-token-1,secret-token-2",
    "no scheme": "secret-token-1",
    "basic scheme": "Basic c2VjcmV0LXRva2VuLTE6",
    "token as basic": "Basic secret-token-1",
    "token in quotes": 'Bearer "secret-token-1"',
    "non-ascii": "Bearer s\u00e9cret-token-1",
}


def headers_for(authorization: str | None) -> dict[str, str]:
    return {} if authorization is None else {"Authorization": authorization}


@pytest.fixture(scope="module")
def stored(secured_server) -> str:
    response = upload_json(secured_server, b'[{"a": 1}]', headers={"Authorization": f"Bearer {TOKENS[0]}"})
    assert response.status_code == 201
    return response.json()["id"]


def every_call(url: str, dataset_id: str) -> list[tuple[str, str, dict]]:
    return [
        ("GET", f"{url}/datasets/", {}),
        ("GET", f"{url}/datasets/?limit=1", {}),
        ("POST", f"{url}/datasets/", {"files": {"file": ("x.json", b"[1]")}}),
        ("POST", f"{url}/datasets/", {"data": b"[1]", "headers": {"Content-Type": "application/json"}}),
        ("GET", f"{url}/datasets/{dataset_id}/", {}),
        ("GET", f"{url}/datasets/{dataset_id}/excel/", {}),
        ("GET", f"{url}/datasets/{dataset_id}/content/", {}),
        ("DELETE", f"{url}/datasets/{dataset_id}/", {}),
        ("GET", f"{url}/datasets/01ARZ3NDEKTSV4RRFFQ69G5FAV/", {}),  # unknown: still 401, not 404
        ("GET", f"{url}/datasets/nope/", {}),
    ]


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATIONS.values(), ids=BAD_AUTHORIZATIONS.keys())
def test_every_datasets_call_without_a_valid_token_is_401(secured_server, stored, authorization):
    for method, url, kwargs in every_call(secured_server, stored):
        headers = {**kwargs.pop("headers", {}), **headers_for(authorization)}
        response = requests.request(method, url, headers=headers, timeout=30, **kwargs)
        assert "token" in assert_error(response, 401), (method, url)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # Nothing was stored or deleted on the way.
    good = {"Authorization": f"Bearer {TOKENS[0]}"}
    assert requests.get(f"{secured_server}/datasets/{stored}/", headers=good, timeout=30).status_code == 200


@pytest.mark.parametrize("token", TOKENS)
def test_each_token_opens_every_call(secured_server, token):
    for scheme in ("Bearer", "bearer"):
        headers = {"Authorization": f"{scheme} {token}"}
        created = upload_json(secured_server, b'{"k": "v"}', filename="t.json", headers=headers)
        assert created.status_code == 201
        dataset_id = created.json()["id"]
        for suffix in ("", "excel/", "content/"):
            url = f"{secured_server}/datasets/{dataset_id}/{suffix}"
            assert requests.get(url, headers=headers, timeout=30).status_code == 200
        listed = requests.get(f"{secured_server}/datasets/", headers=headers, timeout=30)
        assert dataset_id in {dataset["id"] for dataset in listed.json()["items"]}
        deleted = requests.delete(f"{secured_server}/datasets/{dataset_id}/", headers=headers, timeout=30)
        assert deleted.status_code == 204


def test_probes_and_documentation_stay_open(secured_server):
    assert requests.get(f"{secured_server}/healthz", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{secured_server}/readyz", timeout=10).json()["status"] == "ready"
    docs = requests.get(f"{secured_server}/docs", timeout=10)
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    spec = requests.get(f"{secured_server}/swagger.json", timeout=10).json()
    # The document says which calls need the token: all of /datasets, none of the probes.
    assert spec["security"] == [{"bearer": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert spec["paths"]["/readyz"]["get"]["security"] == []


def test_an_unauthorised_upload_is_refused_before_its_body_is_sent(secured_server):
    head = (
        "POST /datasets/ HTTP/1.1\nHost: test\nContent-Type: application/json\n"
        f"Content-Length: {500 * 1024**2}"
    )
    response = raw_request(secured_server, head, timeout=10)  # none of the 500 MB is ever sent
    assert response.status == 401 and "token" in response.json()["message"]
    multipart = head.replace("application/json", "multipart/form-data; boundary=zz")
    assert raw_request(secured_server, multipart, timeout=10).status == 401


def test_the_cli_passes_its_token(secured_server, tmp_path):
    def dsclient(*args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("DSCLIENT_URL", "DSCLIENT_TOKEN")}
        command = [sys.executable, "-m", "dsclient", "--url", secured_server, *args]
        return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    allowed = dsclient("--token", TOKENS[1], "--json", "list")
    assert allowed.returncode == 0, allowed.stderr
    assert isinstance(json.loads(allowed.stdout), list)
    refused = dsclient("--json", "list")
    assert refused.returncode == 1 and "token" in refused.stderr
