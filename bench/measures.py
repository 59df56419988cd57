"""The measures: each times the API and, in the same run, the boto3 call a client talking to S3
directly would make for the same thing, or the converter a user would run instead, and returns both.

Timings alternate between the API and the baseline so that a change in the machine's load
during the run falls on both sides of a ratio alike.
"""

import random
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from bench.bench_export import (
    FLATTERER_CSV,
    FLATTERER_XLSX,
    PANDAS,
    RUSTPY_XLSXWRITER,
    XLSXWRITER,
    installed,
    run_in_process,
    tree_pids,
    tree_rss,
)
from bench.make_dataset import write_dataset
from service import ids
from tests.probes import temp_files

MB = 1024**2
BYTES_PER_RECORD = 550  # about what bench.make_dataset writes per flat record of 24 fields
MULTIPART_BOUNDARY = "datasets-bench-boundary"


@dataclass(frozen=True)
class Sizes:
    upload_mb: int
    upload_repeats: int
    info_requests: int
    list_objects: int
    list_pages: int
    export_records: int
    export_repeats: int
    load_seconds: float
    export_runs: int
    nested_records: int
    memory_records: int
    load_clients: int = 16


FULL = Sizes(
    upload_mb=100,
    upload_repeats=5,
    info_requests=400,
    list_objects=10_000,
    list_pages=20,
    export_records=100_000,
    export_repeats=25,
    load_seconds=10,
    export_runs=2,
    nested_records=20_000,
    memory_records=1_000_000,
)
QUICK = Sizes(
    upload_mb=10,
    upload_repeats=2,
    info_requests=100,
    list_objects=1_000,
    list_pages=5,
    export_records=10_000,
    export_repeats=3,
    load_seconds=3,
    export_runs=1,
    nested_records=2_000,
    memory_records=20_000,
)
EXPORT_MEMORY_BUDGET = 100 * 1024**2  # issue 11: server memory growth during an export
TEMP_DISK_ALLOWANCE = 4 * 1024**2  # issue 11: an export's temporary disk beyond the finished file


@dataclass(frozen=True)
class Result:
    """One measure: seconds through the API, seconds for the S3 floor, and the target ratio."""

    name: str
    api: float
    baseline: float
    target: float | None
    note: str = ""
    unit: str = "s"  # "s": seconds; "B": bytes (memory against a budget)

    @property
    def ratio(self) -> float:
        return self.api / self.baseline

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


@dataclass
class Bench:
    """What every measure works with: the live API, an S3 client on the same bucket, scratch space."""

    url: str
    s3: Any  # a boto3 S3 client
    bucket: str
    workdir: Path
    sizes: Sizes
    server_pid: int
    temp_dir: Path  # the server's TMPDIR

    def __post_init__(self) -> None:
        self.session = requests.Session()

    def post_json(self, path: Path, filename: str) -> dict:
        """Upload ``path`` through the API as a raw JSON body (what dsclient does)."""
        with path.open("rb") as body:
            response = self.session.post(
                f"{self.url}/datasets/",
                params={"filename": filename},
                data=body,
                headers={"Content-Type": "application/json"},
            )
        return _created(response)

    def server_pids(self) -> list[int]:
        """gunicorn's master and workers."""
        return tree_pids(self.server_pid)

    def server_rss(self) -> int:
        """Resident memory of gunicorn's master and workers together, in bytes."""
        return tree_rss(self.server_pid)


def _created(response: requests.Response) -> dict:
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text[:200]}")
    return response.json()


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def write_json(path: Path, megabytes: int) -> Path:
    """A flat JSON array of about ``megabytes`` MiB, from the export benchmark's generator."""
    write_dataset(path, records=megabytes * MB // BYTES_PER_RECORD)
    return path


def upload(bench: Bench) -> list[Result]:
    """A large upload, raw body and multipart form, against boto3's upload_file of the same file."""
    size = bench.sizes.upload_mb
    source = write_json(bench.workdir / "upload.json", size)
    form = _multipart_body(source, bench.workdir / "upload.multipart")
    form_type = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"

    def post_form() -> None:
        with form.open("rb") as body:
            response = bench.session.post(
                f"{bench.url}/datasets/", data=body, headers={"Content-Type": form_type}
            )
        uploaded.append(_created(response)["id"])

    uploaded: list[str] = []
    raw, multipart, baseline = [], [], []
    for attempt in range(bench.sizes.upload_repeats):
        key = f"baseline/upload-{attempt}.json"
        baseline.append(timed(lambda key=key: bench.s3.upload_file(str(source), bench.bucket, key)))
        raw.append(timed(lambda: uploaded.append(bench.post_json(source, "upload.json")["id"])))
        multipart.append(timed(post_form))
        bench.s3.delete_object(Bucket=bench.bucket, Key=key)
    for dataset_id in uploaded:  # keep the bucket small for the measures that follow
        bench.session.delete(f"{bench.url}/datasets/{dataset_id}/")
    form.unlink()
    source.unlink()
    floor = statistics.median(baseline)
    megabytes = source_note(size, floor)
    return [
        Result(f"upload {size} MB, raw JSON body", statistics.median(raw), floor, 1.3, megabytes),
        Result(f"upload {size} MB, multipart form", statistics.median(multipart), floor, 1.3, megabytes),
    ]


def source_note(megabytes: int, seconds: float) -> str:
    return f"boto3 {megabytes / seconds:.0f} MB/s"


def _multipart_body(source: Path, path: Path) -> Path:
    """The form a browser sends for ``source``, written once so no encoding is timed."""
    head = (
        f"--{MULTIPART_BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{source.name}"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    with path.open("wb") as out, source.open("rb") as body:
        out.write(head)
        while block := body.read(8 * MB):
            out.write(block)
        out.write(f"\r\n--{MULTIPART_BOUNDARY}--\r\n".encode())
    return path


def small_dataset(bench: Bench) -> str:
    """The id of a small dataset uploaded through the API."""
    path = bench.workdir / "small.json"
    write_dataset(path, records=10)
    return bench.post_json(path, "small.json")["id"]


def info(bench: Bench, dataset_id: str) -> Result:
    """One dataset's details over a keep-alive session, against boto3's head_object."""
    url = f"{bench.url}/datasets/{dataset_id}/"
    key = f"datasets/{dataset_id}"

    def api() -> None:
        bench.session.get(url).raise_for_status()

    def head() -> None:
        bench.s3.head_object(Bucket=bench.bucket, Key=key)

    for _ in range(20):  # warm connections and both gunicorn workers
        api()
        head()
    api_times, head_times = [], []
    for _ in range(bench.sizes.info_requests):
        api_times.append(timed(api))
        head_times.append(timed(head))
    return Result(
        "dataset info GET /datasets/<id>/ (median)",
        statistics.median(api_times),
        statistics.median(head_times),
        2.0,
        f"{bench.sizes.info_requests} requests each",
    )


def fill_bucket(bench: Bench, count: int) -> list[str]:
    """``count`` small datasets written straight to S3 with the metadata the service writes."""

    def put(number: int) -> str:
        dataset_id = ids.new_id()
        body = f'{{"n": {number}}}'.encode()
        bench.s3.put_object(
            Bucket=bench.bucket,
            Key=f"datasets/{dataset_id}",
            Body=body,
            ContentType="application/json",
            Metadata={"filename": quote(f"item-{number}.json", safe=""), "size": str(len(body))},
        )
        return dataset_id

    with ThreadPoolExecutor(max_workers=32) as pool:
        return sorted(pool.map(put, range(count)))


def list_page(bench: Bench, dataset_ids: list[str]) -> list[Result]:
    """A page of 100 from the middle of a big bucket, against one list_objects_v2 of 100 keys.

    S3 lists keys without their user metadata, so the first time a server lists a dataset it
    HEADs it (16 at a time); after that the metadata comes from its cache, checked against the
    listing's ETags. Both are measured: each page is asked for twice, cold then warm. The cold
    line's note adds what the page's HEADs alone cost a boto3 client doing the same."""
    rng = random.Random(7)
    cold_times, warm_times, list_times, head_times = [], [], [], []
    pool = ThreadPoolExecutor(max_workers=16)
    for page in range(bench.sizes.list_pages + 2):  # the first two warm up
        cursor = dataset_ids[rng.randrange(len(dataset_ids) - 100)]

        def api(cursor: str = cursor) -> None:
            response = bench.session.get(f"{bench.url}/datasets/", params={"limit": 100, "cursor": cursor})
            response.raise_for_status()
            if len(response.json()["items"]) != 100:
                raise RuntimeError("the API listed fewer than 100 datasets")

        def listing(cursor: str = cursor) -> None:
            bench.s3.list_objects_v2(
                Bucket=bench.bucket, Prefix="datasets/", MaxKeys=100, StartAfter=f"datasets/{cursor}"
            )

        def heads(cursor: str = cursor) -> None:
            start = dataset_ids.index(cursor) + 1
            keys = [f"datasets/{dataset_id}" for dataset_id in dataset_ids[start : start + 100]]
            list(pool.map(lambda key: bench.s3.head_object(Bucket=bench.bucket, Key=key), keys))

        cold_time, warm_time = timed(api), timed(api)
        list_time, head_time = timed(listing), timed(heads)
        if page >= 2:
            cold_times.append(cold_time)
            warm_times.append(warm_time)
            list_times.append(list_time)
            head_times.append(head_time)
    pool.shutdown()
    name = f"list page of 100 of {len(dataset_ids):,} (median)"
    listing_time = statistics.median(list_times)
    return [
        Result(
            f"{name}, first read",
            statistics.median(cold_times),
            listing_time,
            None,
            f"100 head_object, 16 at a time: {statistics.median(head_times) * 1000:.0f} ms",
        ),
        Result(
            name,
            statistics.median(warm_times),
            listing_time,
            3.0,
            f"{bench.sizes.list_pages} pages, read before",
        ),
    ]


def cached_export(bench: Bench) -> list[Result]:
    """A cached workbook through the API, against boto3's get_object of the cached object."""
    records = bench.sizes.export_records
    path = bench.workdir / "export.json"
    write_dataset(path, records=records)
    dataset_id = bench.post_json(path, "export.json")["id"]
    path.unlink()
    url = f"{bench.url}/datasets/{dataset_id}/excel/"

    def api() -> int:
        with bench.session.get(url, stream=True) as response:
            response.raise_for_status()
            return sum(len(chunk) for chunk in response.iter_content(MB))

    first = timed(api)  # converts and caches
    key = cached_workbook_key(bench, dataset_id)

    def get() -> int:
        body = bench.s3.get_object(Bucket=bench.bucket, Key=key)["Body"]
        return sum(len(chunk) for chunk in body.iter_chunks(MB))

    length = get()
    api_times, get_times = [], []
    for _ in range(bench.sizes.export_repeats):
        api_times.append(timed(api))
        get_times.append(timed(get))
    return [
        Result(
            f"cached Excel export, {records:,} x 24 (median)",
            statistics.median(api_times),
            statistics.median(get_times),
            1.2,
            f"{length / MB:.1f} MB workbook; first export {first:.1f} s",
        )
    ]


def cached_workbook_key(bench: Bench, dataset_id: str) -> str:
    """The key of the dataset's one cached workbook, found by listing its exports (the layout is the
    service's business)."""
    listed = bench.s3.list_objects_v2(Bucket=bench.bucket, Prefix=f"exports/{dataset_id}")
    keys = [item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith(".xlsx")]
    if len(keys) != 1:
        raise RuntimeError(f"expected one cached workbook of {dataset_id}, found {keys}")
    return keys[0]


def load(bench: Bench, dataset_id: str) -> Result:
    """Throughput of dataset info under concurrent clients, and the server's memory meanwhile,
    against the same number of threads calling head_object."""
    clients, seconds = bench.sizes.load_clients, bench.sizes.load_seconds
    url = f"{bench.url}/datasets/{dataset_id}/"
    key = f"datasets/{dataset_id}"
    idle_rss = bench.server_rss()
    peak_rss = idle_rss
    sampling = threading.Event()

    def sample() -> None:
        nonlocal peak_rss
        while not sampling.wait(0.1):
            peak_rss = max(peak_rss, bench.server_rss())

    def api_client(deadline: float) -> int:
        done = 0
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                session.get(url).raise_for_status()
                done += 1
        return done

    def s3_client(deadline: float) -> int:
        done = 0
        while time.perf_counter() < deadline:
            bench.s3.head_object(Bucket=bench.bucket, Key=key)
            done += 1
        return done

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        api_rate = _rate(api_client, clients, seconds)
    finally:
        sampling.set()
        sampler.join()
    s3_rate = _rate(s3_client, clients, seconds)
    return Result(
        f"dataset info, {clients} concurrent clients",
        1 / api_rate,
        1 / s3_rate,
        None,
        f"{api_rate:.0f} req/s vs {s3_rate:.0f}; server RSS {idle_rss / MB:.0f} MB idle, "
        f"{peak_rss / MB:.0f} MB peak",
    )


def _rate(client: Callable[[float], int], clients: int, seconds: float) -> float:
    """Calls per second of ``clients`` threads each running ``client`` until a shared deadline."""
    start = time.perf_counter()
    deadline = start + seconds
    with ThreadPoolExecutor(max_workers=clients) as pool:
        done = sum(pool.map(client, [deadline] * clients))
    return done / (time.perf_counter() - start)


def put_dataset(bench: Bench, path: Path, filename: str) -> str:
    """A dataset written straight to S3 with the metadata the service writes; its id.

    Exports are measured on a server that has done nothing else (memory a worker freed stays resident,
    so after a big upload the growth of the next export would hide in it), hence not through the API."""
    dataset_id = ids.new_id()
    bench.s3.upload_file(
        str(path),
        bench.bucket,
        f"datasets/{dataset_id}",
        ExtraArgs={
            "Metadata": {"filename": quote(filename, safe=""), "size": str(path.stat().st_size)},
            "ContentType": "application/json",
        },
    )
    return dataset_id


def copy_dataset(bench: Bench, dataset_id: str) -> str:
    """A new dataset with the same bytes and metadata: never exported, whatever the cache's layout."""
    copy = ids.new_id()
    bench.s3.copy_object(
        Bucket=bench.bucket,
        Key=f"datasets/{copy}",
        CopySource={"Bucket": bench.bucket, "Key": f"datasets/{dataset_id}"},
        MetadataDirective="COPY",
    )
    return copy


@dataclass(frozen=True)
class Download:
    """One streamed GET through the API and what the server did meanwhile."""

    seconds: float
    first_byte: float  # seconds from sending the request to the first byte of the body
    length: int
    memory_growth: int  # peak RSS of master and workers over the level before the request
    temp_disk: int  # peak bytes of the server's temporary files


def download(bench: Bench, dataset_id: str, suffix: str) -> Download:
    """GET ``/datasets/<id>/<suffix>`` through the API, reading the body as it streams, sampling the
    server meanwhile. The dataset's info is asked first on the same connection, so the worker that
    serves the download has made its S3 client, as any worker that has served a request has."""
    bench.session.get(f"{bench.url}/datasets/{dataset_id}/").raise_for_status()
    idle = peak_rss = bench.server_rss()
    peak_disk = 0
    sampling = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_disk
        while not sampling.wait(0.05):
            peak_rss = max(peak_rss, bench.server_rss())
            peak_disk = max(peak_disk, sum(temp_files(bench.server_pids(), bench.temp_dir).values()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        start = time.perf_counter()
        with bench.session.get(f"{bench.url}/datasets/{dataset_id}/{suffix}", stream=True) as response:
            response.raise_for_status()
            chunks = response.iter_content(MB)  # while it streams: each chunk as it arrives
            length = len(next(chunks, b""))
            first_byte = time.perf_counter() - start
            length += sum(len(chunk) for chunk in chunks)
        seconds = time.perf_counter() - start
    finally:
        sampling.set()
        sampler.join()
    return Download(seconds, first_byte, length, peak_rss - idle, peak_disk)


def first_downloads(
    bench: Bench, dataset_id: str, suffix: str, runs: int, between: Callable[[], None]
) -> Download:
    """The best of ``runs`` first (uncached) downloads of ``suffix`` of copies of the dataset, calling
    ``between`` after each, so the contenders' runs alternate with the API's."""
    found = []
    for _ in range(runs):
        copy = copy_dataset(bench, dataset_id)
        found.append(download(bench, copy, suffix))
        bench.session.delete(f"{bench.url}/datasets/{copy}/")
        between()
    return min(found, key=lambda made: made.seconds)  # the least disturbed by the machine's other load


XLSX_CONTENDERS = {FLATTERER_XLSX: 1.0, RUSTPY_XLSXWRITER: 1.5, PANDAS: 0.35, XLSXWRITER: 1.0}
"""What a user would run instead of the API's first Excel export, with the target for ours / theirs."""
CSV_TARGET = 2.0  # ours / flatterer's CSV


def export(bench: Bench) -> list[Result]:
    """The flat dataset's first Excel export and the first CSV of its main table through the live API,
    against the converters a user would pick instead on the same file (each in a fresh process, those
    installed on this platform); the time to its first byte; the server's memory growth and temporary
    disk meanwhile. Run it on a fresh server (see ``put_dataset``)."""
    records, runs = bench.sizes.export_records, bench.sizes.export_runs
    path = bench.workdir / f"flat-{records}.json"
    write_dataset(path, records=records)
    dataset_id = put_dataset(bench, path, path.name)
    theirs: dict[str, list[float]] = {
        name: [] for name in [*XLSX_CONTENDERS, FLATTERER_CSV] if installed(name)
    }

    def run_contenders(names: list[str]) -> Callable[[], None]:
        def run() -> None:
            for name in names:
                if name in theirs:
                    theirs[name].append(run_in_process(name, path)[0])

        return run

    workbook = first_downloads(bench, dataset_id, "excel/", runs, run_contenders(list(XLSX_CONTENDERS)))
    table = first_downloads(bench, dataset_id, "csv/", runs, run_contenders([FLATTERER_CSV]))
    bench.session.delete(f"{bench.url}/datasets/{dataset_id}/")
    path.unlink()
    best = {name: min(found) for name, found in theirs.items()}
    label = f"first export {records:,} x 24 via API"
    note = f"best of {runs}, each contender in a fresh process"
    results = [
        Result(f"{label} / {name}", workbook.seconds, best[name], target, note)
        for name, target in XLSX_CONTENDERS.items()
        if name in best
    ]
    results += [
        Result(
            f"{label}: time to first byte / total",
            workbook.first_byte,
            workbook.seconds,
            0.4,
            f"{workbook.length / MB:.1f} MB workbook",
        ),
        temp_disk(label, workbook),
        memory(label, workbook),
    ]
    if FLATTERER_CSV in best:
        results.append(
            Result(
                f"first CSV of the main table, {records:,} x 24, via API / {FLATTERER_CSV}",
                table.seconds,
                best[FLATTERER_CSV],
                CSV_TARGET,
                f"{table.length / MB:.1f} MB CSV; {note}",
            )
        )
    return results


def nested_export(bench: Bench) -> list[Result]:
    """The issue-like dataset's first Excel export through the API against flatterer's xlsx (where it
    is installed), and the temporary disk meanwhile (its child table is the part buffered on disk)."""
    records, runs = bench.sizes.nested_records, bench.sizes.export_runs
    path = bench.workdir / f"issues-{records}.json"
    write_dataset(path, records=records, shape="issues")
    dataset_id = put_dataset(bench, path, path.name)
    flatterer_times: list[float] = []

    def run_flatterer() -> None:
        if installed(FLATTERER_XLSX):
            flatterer_times.append(run_in_process(FLATTERER_XLSX, path)[0])

    workbook = first_downloads(bench, dataset_id, "excel/", runs, run_flatterer)
    bench.session.delete(f"{bench.url}/datasets/{dataset_id}/")
    size = path.stat().st_size
    path.unlink()
    label = f"first export of {records:,} nested issues via API"
    results = [temp_disk(label, workbook)]
    if flatterer_times:
        note = f"{size / MB:.0f} MB of JSON, {workbook.length / MB:.1f} MB workbook; best of {runs}"
        results.insert(
            0, Result(f"{label} / {FLATTERER_XLSX}", workbook.seconds, min(flatterer_times), 1.0, note)
        )
    return results


def temp_disk(label: str, made: Download) -> Result:
    """The export's peak temporary disk against the finished file's size plus a few MB."""
    allowed = made.length + TEMP_DISK_ALLOWANCE
    return Result(
        f"{label}: temporary disk peak",
        made.temp_disk,
        allowed,
        1.0,
        f"budget: the {made.length / MB:.1f} MB file + {TEMP_DISK_ALLOWANCE // MB} MB",
        unit="B",
    )


def memory(label: str, made: Download) -> Result:
    return Result(
        f"{label}: server memory growth",
        made.memory_growth,
        EXPORT_MEMORY_BUDGET,
        1.0,
        f"peak over idle; {made.seconds:.1f} s; budget {EXPORT_MEMORY_BUDGET // MB} MB",
        unit="B",
    )


def export_memory(bench: Bench) -> list[Result]:
    """The server's memory growth during one first export of many records. Run it on a fresh server."""
    records = bench.sizes.memory_records
    path = bench.workdir / f"flat-{records}.json"
    write_dataset(path, records=records)
    dataset_id = put_dataset(bench, path, path.name)
    path.unlink()
    made = download(bench, dataset_id, "excel/")
    bench.session.delete(f"{bench.url}/datasets/{dataset_id}/")
    return [memory(f"first export {records:,} x 24 via API", made)]
