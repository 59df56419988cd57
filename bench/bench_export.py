"""Time the export against what a user would pick instead, on the same dataset, and print the ratios.

Usage (from the repository root; needs requirements-bench.txt):

    python -m bench.bench_export [--records N] [--shape flat|issues] [--repeat R]
    python -m bench.bench_export --url http://127.0.0.1:8000 [--server-pid PID] [--token TOKEN]

The dataset (N records, default 100,000, from bench/make_dataset.py) is generated into bench/out/
unless it exists. Each contender runs in a fresh process, so its peak memory is its own:

- ours and ours CSV: the export the API runs (the survey, then the rows into the writer), straight
  from the file; the CSV is the main table's;
- flatterer xlsx and flatterer CSV: ``flatterer.flatten`` (Rust), the converter a user would try first;
- rustpy-xlsxwriter: Rust's rust_xlsxwriter with the whole sheet in memory, rows from ``json.load``;
- pandas: ``json_normalize`` + ``to_excel`` (pandas' default xlsx engine, openpyxl);
- xlsxwriter: ``constant_memory``, rows from ``json.load``, with ``strings_to_formulas`` and
  ``strings_to_urls`` off so that it is as literal with text as ours (it is also faster that way).

rustpy-xlsxwriter and xlsxwriter write one flat sheet, so they run on the flat shape only. Times are
wall clock and CPU time of the process; on a busy machine the CPU times are the steadier comparison.
Nothing is asserted.

With ``--url`` it instead times the export through the live API: upload, then GET
``/datasets/<id>/excel/`` (the measured part), then delete. With ``--server-pid`` it samples the
resident memory of that process and all its children (gunicorn workers are children of the master)
during the GET and reports the growth over the level before the request.
"""

import argparse
import contextlib
import importlib.util
import json
import multiprocessing
import resource
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from bench.make_dataset import SHAPES, write_dataset

OUT = Path(__file__).parent / "out"


def export_ours(source: Path, folder: Path) -> None:
    from service.export import tables, xlsx

    def open_document() -> BinaryIO:
        return source.open("rb")

    model = tables.survey(open_document)
    with (folder / "out.xlsx").open("wb") as out:
        xlsx.write_xlsx(model, tables.rows(open_document, model), out)


def export_ours_csv(source: Path, folder: Path) -> None:
    from service.export import csvfile, tables

    def open_document() -> BinaryIO:
        return source.open("rb")

    model = tables.survey(open_document)
    main = model.tables[0]
    found = tables.rows(open_document, model, exact=True, tables=[main.name])
    with (folder / "out.csv").open("wb") as out:
        csvfile.write_csv(main, (values for _, values in found), out)


def export_flatterer_xlsx(source: Path, folder: Path) -> None:
    import flatterer

    flatterer.flatten(str(source), str(folder / "flatterer"), xlsx=True, csv=False)


def export_flatterer_csv(source: Path, folder: Path) -> None:
    import flatterer

    flatterer.flatten(str(source), str(folder / "flatterer"), xlsx=False, csv=True)


def export_rustpy_xlsxwriter(source: Path, folder: Path) -> None:
    import rustpy_xlsxwriter

    with source.open("rb") as file:
        records = json.load(file)
    rustpy_xlsxwriter.write_worksheet(records, str(folder / "out.xlsx"), sheet_name="data")


def export_pandas(source: Path, folder: Path) -> None:
    import pandas

    with source.open("rb") as file:
        frame = pandas.json_normalize(json.load(file))
    frame.to_excel(folder / "out.xlsx", index=False)  # pandas picks openpyxl for .xlsx


def export_xlsxwriter(source: Path, folder: Path) -> None:
    import xlsxwriter

    with source.open("rb") as file:
        records = json.load(file)
    columns = list(dict.fromkeys(key for record in records for key in record))
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    with xlsxwriter.Workbook(folder / "out.xlsx", options) as workbook:
        sheet = workbook.add_worksheet("data")
        sheet.write_row(0, 0, columns)
        for number, record in enumerate(records, 1):
            sheet.write_row(number, 0, [record.get(column) for column in columns])


OURS = "ours"
OURS_CSV = "ours CSV"
FLATTERER_XLSX = "flatterer xlsx"
FLATTERER_CSV = "flatterer CSV"
RUSTPY_XLSXWRITER = "rustpy-xlsxwriter"
PANDAS = "pandas json_normalize + to_excel"
XLSXWRITER = "xlsxwriter constant_memory"
CONTENDERS: dict[str, Callable[[Path, Path], None]] = {
    OURS: export_ours,
    OURS_CSV: export_ours_csv,
    FLATTERER_XLSX: export_flatterer_xlsx,
    FLATTERER_CSV: export_flatterer_csv,
    RUSTPY_XLSXWRITER: export_rustpy_xlsxwriter,
    PANDAS: export_pandas,
    XLSXWRITER: export_xlsxwriter,
}
LIBRARIES = {
    OURS: "service",
    OURS_CSV: "service",
    FLATTERER_XLSX: "flatterer",
    FLATTERER_CSV: "flatterer",
    RUSTPY_XLSXWRITER: "rustpy_xlsxwriter",
    PANDAS: "pandas",
    XLSXWRITER: "xlsxwriter",
}
FLAT_ONLY = {RUSTPY_XLSXWRITER, XLSXWRITER}
"""Contenders that write one sheet of top-level fields: a nested dataset is not theirs to export."""


def _timed(name: str, source: Path, results: "multiprocessing.Queue[tuple[float, float, int]]") -> None:
    with tempfile.TemporaryDirectory() as folder:
        wall, cpu = time.perf_counter(), time.process_time()
        CONTENDERS[name](source, Path(folder))
        results.put((time.perf_counter() - wall, time.process_time() - cpu, _peak_kib()))


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_in_process(name: str, source: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one contender in a fresh process."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_timed, args=(name, source, results))
    process.start()
    process.join()  # the result is a small tuple, which the queue's pipe holds until it is read
    if process.exitcode != 0:
        raise RuntimeError(f"{name} failed in its process (exit status {process.exitcode})")
    return results.get()


def installed(name: str) -> bool:
    """Whether the contender's library is installed (flatterer has no wheel for some platforms)."""
    return importlib.util.find_spec(LIBRARIES[name]) is not None


def compare(source: Path, shape: str, repeat: int) -> None:
    """Each contender ``repeat`` times; then ours against each, by the best wall and CPU times."""
    names = [name for name in CONTENDERS if (shape == "flat" or name not in FLAT_ONLY) and installed(name)]
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(repeat):
        for name in names:
            outcome = run_in_process(name, source)
            print(
                f"  {name}: {outcome[0]:.2f} s wall, {outcome[1]:.2f} s CPU, peak {outcome[2] / 1024:.0f} MiB"
            )
            if name not in best or outcome[1] < best[name][1]:
                best[name] = outcome
    ours, ours_csv = best.pop(OURS), best.pop(OURS_CSV)
    print(f"best of {repeat}, ours / theirs:")
    for name, theirs in best.items():
        mine = ours_csv if name == FLATTERER_CSV else ours
        print(f"  {name}: wall {mine[0] / theirs[0]:.2f}, CPU {mine[1] / theirs[1]:.2f}")


# The export through the live API --------------------------------------------------------------


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants."""
    import psutil

    root = psutil.Process(pid)
    return [pid, *(child.pid for child in root.children(recursive=True))]


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    import psutil

    total = 0
    for member in tree_pids(pid):
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker may exit between listing and reading
            total += psutil.Process(member).memory_info().rss
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
        print(f"GET /datasets/<id>/excel/: {elapsed:.2f} s wall, {size / 2**20:.1f} MiB of xlsx")
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
    parser.add_argument("--shape", choices=sorted(SHAPES), default="flat")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender; the best counts")
    parser.add_argument("--url", help="time the export through this live API instead")
    parser.add_argument("--token", help="bearer token for the API")
    parser.add_argument("--server-pid", type=int, help="the API server's PID, for its peak memory")
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    source = OUT / f"{args.shape}_{args.records}.json"
    if not source.exists():
        print(f"writing {source} ...")
        write_dataset(source, args.records, shape=args.shape)
    print(f"{source.name}: {args.records:,} {args.shape} records, {source.stat().st_size / 2**20:.0f} MiB")
    if args.url:
        time_api(source, args.url, args.token, args.server_pid)
    else:
        compare(source, args.shape, args.repeat)


if __name__ == "__main__":
    main()
