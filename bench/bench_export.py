"""Time the Excel export against pandas and xlsxwriter on the same flat dataset, and print the ratios.

Usage (from the repository root; needs requirements-bench.txt):

    python -m bench.bench_export [--records N] [--repeat R]
    python -m bench.bench_export --url http://127.0.0.1:8000 [--server-pid PID] [--token TOKEN]

The dataset (N records x 24 fields, default 100,000) is generated into bench/out/ unless it exists.
Each contender runs in a fresh process, so its peak memory is its own:

(a)  ``service.excel.write_workbook`` straight from the file, the export the API runs;
(b)  pandas ``json_normalize`` + ``to_excel`` (pandas' default xlsx engine, openpyxl);
(c)  xlsxwriter with ``constant_memory``, rows from ``json.load``, with ``strings_to_formulas`` and
     ``strings_to_urls`` off so that it is as literal with text as (a) (it is also faster that way).

Targets from issue 3: (a) at most 0.35x (b) and at most 1.0x (c). Times are wall clock and CPU time
of the process; on a busy machine the CPU times are the steadier comparison. Nothing is asserted.

With ``--url`` it instead times (a') the export through the live API: upload, then GET
``/datasets/<id>/excel/`` (the measured part), then delete. With ``--server-pid`` it samples the
resident memory of that process and all its children (gunicorn workers are children of the master)
during the GET and reports the growth over the level before the request.
"""

import argparse
import contextlib
import json
import multiprocessing
import resource
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.make_dataset import write_dataset

OUT = Path(__file__).parent / "out"


def export_ours(source: Path, target: Path) -> None:
    from service.excel import write_workbook

    with target.open("wb") as out:
        write_workbook(lambda: source.open("rb"), out)


def export_pandas(source: Path, target: Path) -> None:
    import pandas

    with source.open("rb") as file:
        frame = pandas.json_normalize(json.load(file))
    frame.to_excel(target, index=False)  # pandas picks openpyxl for .xlsx


def export_xlsxwriter(source: Path, target: Path) -> None:
    import xlsxwriter

    with source.open("rb") as file:
        records = json.load(file)
    columns = list(dict.fromkeys(key for record in records for key in record))
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    with xlsxwriter.Workbook(target, options) as workbook:
        sheet = workbook.add_worksheet("data")
        sheet.write_row(0, 0, columns)
        for number, record in enumerate(records, 1):
            sheet.write_row(number, 0, [record.get(column) for column in columns])


CONTENDERS: dict[str, Callable[[Path, Path], None]] = {
    "(a) write_workbook": export_ours,
    "(b) pandas json_normalize + to_excel (openpyxl)": export_pandas,
    "(c) xlsxwriter constant_memory": export_xlsxwriter,
}


def _timed(name: str, source: Path, results: "multiprocessing.Queue[tuple[float, float, int]]") -> None:
    with tempfile.TemporaryDirectory() as folder:
        wall, cpu = time.perf_counter(), time.process_time()
        CONTENDERS[name](source, Path(folder) / "out.xlsx")
        results.put((time.perf_counter() - wall, time.process_time() - cpu, _peak_kib()))


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_in_process(name: str, source: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one contender in a fresh process."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_timed, args=(name, source, results))
    process.start()
    outcome = results.get()
    process.join()
    return outcome


def compare(source: Path, repeat: int) -> None:
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(repeat):
        for name in CONTENDERS:
            outcome = run_in_process(name, source)
            print(
                f"  {name}: {outcome[0]:.2f} s wall, {outcome[1]:.2f} s CPU, peak {outcome[2] / 1024:.0f} MiB"
            )
            if name not in best or outcome[1] < best[name][1]:
                best[name] = outcome
    ours, pandas, xlsxwriter = (best[name] for name in CONTENDERS)
    print(f"best of {repeat}:")
    for label, index in (("wall", 0), ("CPU", 1)):
        print(
            f"  {label}: (a)/(b) = {ours[index] / pandas[index]:.2f} (target <= 0.35), "
            f"(a)/(c) = {ours[index] / xlsxwriter[index]:.2f} (target <= 1.0)"
        )


# (a') The export through the live API --------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    import psutil

    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker may exit between listing and reading
            total += process.memory_info().rss
    return total


def time_api(source: Path, url: str, token: str | None, server_pid: int | None) -> None:
    import requests

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    api = url.rstrip("/")
    with source.open("rb") as file:
        created = requests.post(f"{api}/datasets/", files={"file": (source.name, file)}, headers=headers)
    created.raise_for_status()
    dataset = created.json()["id"]
    try:
        baseline = tree_rss(server_pid) if server_pid else 0
        peak = baseline
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(server_pid))  # type: ignore[arg-type]
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        if server_pid:
            sampler.start()
        started = time.perf_counter()
        with requests.get(f"{api}/datasets/{dataset}/excel/", headers=headers, stream=True) as response:
            response.raise_for_status()
            size = sum(len(chunk) for chunk in response.iter_content(1 << 20))
        elapsed = time.perf_counter() - started
        done.set()
        print(f"(a') GET /datasets/<id>/excel/: {elapsed:.2f} s wall, {size / 2**20:.1f} MiB of xlsx")
        if server_pid:
            sampler.join()
            print(
                f"     server process tree RSS: {baseline / 2**20:.0f} MiB before, peak growth {(peak - baseline) / 2**20:.0f} MiB"
            )
    finally:
        requests.delete(f"{api}/datasets/{dataset}/", headers=headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender; the best counts")
    parser.add_argument("--url", help="time the export through this live API instead")
    parser.add_argument("--token", help="bearer token for the API")
    parser.add_argument("--server-pid", type=int, help="the API server's PID, for its peak memory")
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    source = OUT / f"flat_{args.records}.json"
    if not source.exists():
        print(f"writing {source} ...")
        write_dataset(source, args.records)
    print(f"{source.name}: {args.records:,} records x 24 fields, {source.stat().st_size / 2**20:.0f} MiB")
    if args.url:
        time_api(source, args.url, args.token, args.server_pid)
    else:
        compare(source, args.repeat)


if __name__ == "__main__":
    main()
