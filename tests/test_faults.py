"""Storage faults: with S3 gone every call is a prompt 503 with a message, and when S3 returns the same
API process carries on. An upload that S3 drops half-way leaves no dataset behind.

The module has its own SeaweedFS, stopped and restarted on the same ports and data, and its own API.
"""

import http.client
import io
import re
import signal
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests

from deploy import embedded_s3
from tests.probes import (
    all_datasets,
    api_server,
    assert_error,
    export_files,
    held_response,
    incompressible_records,
    upload_json,
    wait_for,
)

BUCKET = "faults"
CALL_LIMIT_S = 15  # boto3's connect timeout and retries are set to fail fast, far inside this
# The settings shorten S3's timeouts here, so a frozen server is not 30 s per test.
SETTINGS = {"S3_CONNECT_TIMEOUT": "2", "S3_READ_TIMEOUT": "3", "S3_MAX_ATTEMPTS": "2"}
# A server that accepts connections but never answers costs the read timeout on each of the
# attempts (2 x 3 s), and no more; the readiness probe answers within READY_TIMEOUT (2 s) always.
FROZEN_LIMIT_S = 12
READY_LIMIT_S = 3


class RestartableS3:
    """A SeaweedFS that can be stopped and started again on the same ports and data."""

    def __init__(self, data_dir, log) -> None:
        self.data_dir, self.log = data_dir, log
        self.server = embedded_s3.start(data_dir, "fault-access", "fault-secret-0123456789", log=log)

    def stop(self) -> None:
        self.server.stop()

    def freeze(self) -> None:
        """Stop the process without closing its sockets: connections open, answers never come."""
        self.server.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.server.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.server = embedded_s3.start(
            self.data_dir,
            self.server.access_key,
            self.server.secret_key,
            log=self.log,
            ports=self.server.ports,
        )

    def keys(self) -> list[str]:
        client = boto3.client(
            "s3",
            endpoint_url=self.server.endpoint_url,
            aws_access_key_id=self.server.access_key,
            aws_secret_access_key=self.server.secret_key,
            region_name="us-east-1",
        )
        return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    with open(folder / "seaweedfs.log", "ab") as log:
        server = RestartableS3(folder / "data", log)
        yield server
        server.stop()


@pytest.fixture(scope="module")
def api(s3, tmp_path_factory):
    with api_server(s3.server, BUCKET, tmp_path_factory.mktemp("faults-api"), **SETTINGS) as server:
        yield server.url


def ready(api: str) -> bool:
    return requests.get(f"{api}/readyz", timeout=CALL_LIMIT_S).status_code == 200


def listed_ids(api: str) -> list[str] | None:
    """The ids of the datasets the API lists, or None while it answers with an error."""
    response = requests.get(f"{api}/datasets/", params={"limit": 1000}, timeout=30)
    return [dataset["id"] for dataset in response.json()["items"]] if response.status_code == 200 else None


def created(response: requests.Response) -> dict | None:
    """The dataset an upload made, or None if it was refused (a 503 while S3 comes back)."""
    return response.json() if response.status_code == 201 else None


def timed(method: str, url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, url, timeout=2 * FROZEN_LIMIT_S, **kwargs)
    return response, time.monotonic() - started


def test_an_outage_is_a_prompt_503_everywhere_and_the_service_recovers(s3, api):
    kept = upload_json(api, b'[{"name": "kept", "n": 1}]', filename="kept.json").json()
    export = requests.get(f"{api}/datasets/{kept['id']}/excel/", timeout=60)
    assert export.status_code == 200

    s3.stop()
    calls = {
        "list": ("GET", "/datasets/", {}),
        "info": ("GET", f"/datasets/{kept['id']}/", {}),
        "upload": ("POST", "/datasets/", {"files": {"file": ("new.json", b"[1, 2]")}}),
        "raw upload": (
            "POST",
            "/datasets/",
            {"data": b"{}", "headers": {"Content-Type": "application/json"}},
        ),
        "content": ("GET", f"/datasets/{kept['id']}/content/", {}),
        "excel": ("GET", f"/datasets/{kept['id']}/excel/", {}),
        "delete": ("DELETE", f"/datasets/{kept['id']}/", {}),
        "readiness": ("GET", "/readyz", {}),
    }
    for name, (method, path, kwargs) in calls.items():
        response, seconds = timed(method, api + path, **kwargs)
        assert_error(response, 503)
        print(f"{name} with S3 down: {response.status_code} in {seconds:.2f} s")
        assert seconds < CALL_LIMIT_S, (name, seconds)
    assert requests.get(f"{api}/healthz", timeout=5).status_code == 200  # the process itself is fine

    s3.restart()
    wait_for(lambda: ready(api), timeout=60)
    # A restarted SeaweedFS answers a bucket's HEAD a moment before its listings are whole again.
    wait_for(lambda: listed_ids(api) == [kept["id"]], timeout=60)
    assert requests.get(f"{api}/datasets/{kept['id']}/content/", timeout=30).content == (
        b'[{"name": "kept", "n": 1}]'
    )
    again = requests.get(f"{api}/datasets/{kept['id']}/excel/", timeout=60)
    assert again.status_code == 200 and again.content == export.content  # the cache survived
    fresh = upload_json(api, b'{"after": "the outage"}')
    assert fresh.status_code == 201
    assert requests.delete(f"{api}/datasets/{fresh.json()['id']}/", timeout=30).status_code == 204


class CutOffBody:
    """A request body of ``megabytes`` of valid JSON that stops S3 once half of it has been sent.

    With ``declared`` it has a length (so requests sends Content-Length); without, it is chunked."""

    def __init__(self, s3: RestartableS3, megabytes: int, declared: bool) -> None:
        row = b'{"text": "' + b"x" * 1000 + b'"},'
        rows = megabytes * 1000 // 2
        self.halves = (b"[" + row * rows, row * rows + b"{}]")
        self.s3 = s3
        if declared:
            self.len = sum(map(len, self.halves))  # what requests takes a streamed body's length from

    def __iter__(self):
        yield self.halves[0]
        self.s3.stop()  # S3 goes away while the client is still sending
        yield self.halves[1]


@pytest.mark.parametrize(
    ("megabytes", "declared"),
    [(4, False), (4, True), (40, True)],
    ids=["4 MB chunked", "4 MB with Content-Length", "40 MB, in S3 multipart parts"],
)
def test_an_upload_cut_off_by_an_outage_leaves_no_dataset(s3, api, megabytes, declared):
    wait_for(lambda: ready(api), timeout=60)
    before_ids = {dataset["id"] for dataset in all_datasets(api)}
    before_keys = s3.keys()
    body = CutOffBody(s3, megabytes, declared)

    response, seconds = timed(
        "POST", f"{api}/datasets/", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 503)
    assert seconds < CALL_LIMIT_S + 15  # stopping weed is part of this request's time

    s3.restart()
    wait_for(lambda: ready(api), timeout=60)
    assert {dataset["id"] for dataset in all_datasets(api)} == before_ids
    assert s3.keys() == before_keys


def test_credentials_s3_refuses_are_a_500_naming_s3s_code_and_readyz_says_so(s3, tmp_path):
    """Misconfiguration never heals by retrying: not 503 "unreachable" but what S3 said."""
    wrong = {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    with api_server(s3.server, BUCKET, tmp_path, **wrong) as misconfigured:
        for path in ("/datasets/", "/datasets/", f"/datasets/{'0' * 26}/content/"):
            message = assert_error(requests.get(misconfigured.url + path, timeout=CALL_LIMIT_S), 500)
            assert "misconfigured" in message, message
            assert "SignatureDoesNotMatch" in message or "403 Forbidden" in message, message
        ready = assert_error(requests.get(misconfigured.url + "/readyz", timeout=CALL_LIMIT_S), 503)
        assert "misconfigured (403 Forbidden)" in ready, ready
        for _ in range(5):
            requests.get(misconfigured.url + "/datasets/", timeout=CALL_LIMIT_S)
    logged = re.findall(
        r"storage is misconfigured \(([^)]*)\)", (tmp_path / f"gunicorn-{BUCKET}.log").read_text()
    )
    assert "SignatureDoesNotMatch" in logged
    # Logged once per worker process (two), not once per request.
    assert all(logged.count(what) <= 2 for what in logged), logged


def test_readiness_answers_within_two_seconds_whatever_s3_does(s3, api):
    wait_for(lambda: ready(api), timeout=60)
    s3.freeze()
    try:
        for _ in range(3):
            response, seconds = timed("GET", f"{api}/readyz")
            assert_error(response, 503)
            assert seconds < READY_LIMIT_S, seconds
    finally:
        s3.thaw()
    wait_for(lambda: ready(api), timeout=60)
    assert requests.get(f"{api}/readyz", timeout=5).json()["validator"].startswith("yajl 2.")


def test_a_frozen_s3_is_a_503_after_the_read_timeouts_and_health_stays_up(s3, api):
    wait_for(lambda: ready(api), timeout=60)
    # After the thaw of the test before, SeaweedFS may take writes a moment after it answers a HEAD.
    dataset = wait_for(lambda: created(upload_json(api, b'{"frozen": false}')), timeout=60)
    paths = ["/readyz", "/datasets/", f"/datasets/{dataset['id']}/", f"/datasets/{dataset['id']}/content/"]
    s3.freeze()
    try:
        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            waiting = [pool.submit(timed, "GET", api + path) for path in paths]
            time.sleep(2)
            # Threads stuck on S3 do not stop the process from answering its liveness probe.
            health, seconds = timed("GET", f"{api}/healthz")
            assert health.status_code == 200 and seconds < 2
            for path, future in zip(paths, waiting, strict=True):
                response, seconds = future.result()
                print(f"{path} with S3 frozen: {response.status_code} in {seconds:.1f} s")
                assert_error(response, 503)
                assert seconds < FROZEN_LIMIT_S, (path, seconds)
    finally:
        s3.thaw()
    wait_for(lambda: ready(api), timeout=60)
    assert requests.get(f"{api}/datasets/{dataset['id']}/", timeout=30).json() == dataset


def test_an_outage_before_a_first_export_begins_is_a_503(s3, api):
    wait_for(lambda: ready(api), timeout=60)
    dataset = upload_json(api, b'[{"n": 1}]').json()
    s3.stop()
    try:
        assert_error(requests.get(f"{api}/datasets/{dataset['id']}/excel/", timeout=60), 503)
    finally:
        s3.restart()
    wait_for(lambda: ready(api), timeout=60)


def test_an_outage_during_a_first_export_cuts_the_transfer_and_caches_nothing(s3, tmp_path):
    """S3 stops while a big first export streams: the client, which has the first bytes already,
    sees the transfer break off (never a complete-looking file), nothing is cached and no temporary
    file is left. Before the export streamed, this was a 503 or a whole workbook, depending on how
    far it got."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    with api_server(s3.server, BUCKET, tmp_path, TMPDIR=str(temp), **SETTINGS) as server:
        api = server.url
        wait_for(lambda: ready(api), timeout=60)
        dataset = upload_json(api, incompressible_records(24, child_every=10)).json()
        with held_response(api, f"/datasets/{dataset['id']}/excel/") as response:
            assert response.status == 200
            received = response.read(64 * 1024)
            s3.stop()
            with pytest.raises(http.client.IncompleteRead) as cut:
                response.read()
        received += cut.value.partial
        with pytest.raises(zipfile.BadZipFile):
            zipfile.ZipFile(io.BytesIO(received))
        wait_for(lambda: export_files(server, temp) == {}, timeout=60)

        s3.restart()
        wait_for(lambda: ready(api), timeout=60)
        stored = s3.keys()
        assert [key for key in stored if key.startswith(f"exports/{dataset['id']}/workbook")] == []
        again = requests.get(f"{api}/datasets/{dataset['id']}/excel/", timeout=120)
        with zipfile.ZipFile(io.BytesIO(again.content)) as workbook:
            assert workbook.testzip() is None
