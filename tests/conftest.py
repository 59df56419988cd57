"""Fixtures: an app on moto's in-process S3 for fast tests, and real servers for integration.

The chain follows Flask's tutorial: ``app`` -> ``client``; and for HTTP against real
processes: ``s3_server`` (SeaweedFS) -> ``live_server`` (gunicorn), plus ``moto_s3_server``
(moto's standalone server) for running the same calls against a second S3 implementation.
Every gunicorn, here or in a test module's own fixture, comes from ``tests.probes.api_server``.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from deploy import embedded_s3
from service import create_app
from tests.probes import api_server

DATA = Path(__file__).parent / "data"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, so nothing can reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)


@pytest.fixture
def app(aws_credentials: None, tmp_path: Path) -> Iterator:
    """The app on moto's in-process S3, with a disk cache of its own."""
    settings = {
        "S3_ENDPOINT_URL": None,
        "S3_BUCKET": "test-datasets",
        "LOCAL_CACHE_DIR": str(tmp_path / "local"),
    }
    with mock_aws():
        yield create_app({"TESTING": True, **settings})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[embedded_s3.EmbeddedS3]:
    """A real SeaweedFS S3 server on loopback, for the whole session."""
    data = tmp_path_factory.mktemp("seaweedfs")
    with open(data / "server.log", "ab") as log:
        server = embedded_s3.start(data / "data", "test-access", "test-secret-key-0123456789", log=log)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_s3_server() -> Iterator[embedded_s3.EmbeddedS3]:
    """moto's standalone S3 server process: a second, independent S3 implementation."""
    port = embedded_s3.free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    embedded_s3.wait_until_answering(url, process, timeout=60)
    server = embedded_s3.EmbeddedS3(process, url, "moto-access", "moto-secret")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_server(s3_server, tmp_path_factory) -> Iterator[str]:
    """Base URL of gunicorn serving the API on SeaweedFS."""
    with api_server(s3_server, "live", tmp_path_factory.mktemp("api")) as server:
        yield server.url


@pytest.fixture(scope="session")
def secured_server(s3_server, tmp_path_factory) -> Iterator[str]:
    """Base URL of a server that requires one of two bearer tokens."""
    tokens = "secret-token-1,secret-token-2"
    with api_server(s3_server, "secured", tmp_path_factory.mktemp("api"), API_TOKENS=tokens) as server:
        yield server.url


@pytest.fixture(scope="session", params=["seaweedfs", "moto"])
def any_s3_live_server(request, tmp_path_factory) -> Iterator[str]:
    """Base URL of the API on each S3 implementation in turn."""
    s3 = request.getfixturevalue("s3_server" if request.param == "seaweedfs" else "moto_s3_server")
    with api_server(s3, f"any-{request.param}", tmp_path_factory.mktemp("api")) as server:
        yield server.url


@pytest.fixture
def sample_path() -> Path:
    return DATA / "sample_data_2.json"
