"""Time the export engine's passes in-process, beside flatterer and rustpy-xlsxwriter, on the same files.

Usage (from the repository root; flatterer and rustpy-xlsxwriter come from requirements-bench.txt):

    python -m bench.profile_engine [--records N] [--issues N] [--repeat R] [--profile PHASE]

For a flat dataset (N records x 24 fields, default 100,000) and an issue-like nested one (default
20,000 records), it times each phase of an export on its own (the survey; the row pass read and
dropped, with floats and exact; the whole xlsx export into a file; the main table's CSV), the date
detection alone (``dates.to_date`` over every string cell the row pass met, plus the length test
before it), and the baselines a user would pick instead (flatterer's xlsx and CSV, rustpy-xlsxwriter
from ``json.load``). Every figure is the best of R runs, in CPU seconds of this process and wall
seconds (``process_time`` counts every thread of the process, Rust's included): on a shared machine
CPU time is the steadier figure, wall time the one a user waits for.

``--profile PHASE`` runs that phase once under cProfile instead and prints the top of the profile.
Nothing is asserted; the targets (issue 11 and 13) are printed beside the ratios.
"""

import argparse
import cProfile
import importlib.util
import json
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.make_dataset import write_dataset
from service.export import dates, tables
from service.export.csvfile import write_csv
from service.export.model import Date, TableModel
from service.export.xlsx import write_xlsx

OUT = Path(__file__).parent / "out"
Timing = tuple[float, float]
"""Best CPU seconds, best wall seconds."""


# The phases ------------------------------------------------------------------------------------------


def _opener(source: Path) -> Callable[[], Any]:
    return lambda: source.open("rb")


def survey(source: Path, folder: Path) -> None:
    tables.survey(_opener(source))


def row_pass(model: TableModel, exact: bool) -> Callable[[Path, Path], None]:
    def run(source: Path, folder: Path) -> None:
        for _ in tables.rows(_opener(source), model, exact=exact):
            pass

    return run


def export_xlsx(source: Path, folder: Path) -> None:
    model = tables.survey(_opener(source))
    with (folder / "ours.xlsx").open("wb") as sink:
        write_xlsx(model, tables.rows(_opener(source), model), sink)


def export_csv(source: Path, folder: Path) -> None:
    model = tables.survey(_opener(source))
    main = model.tables[0]
    found = tables.rows(_opener(source), model, exact=True, detect_dates=False, tables=[main.name])
    with (folder / "ours.csv").open("wb") as sink:
        write_csv(main, (values for _, values in found), sink)


def date_strings(source: Path, model: TableModel) -> list[str]:
    """Every string cell of the document, as the JSON had it (a date cell's text included)."""
    found = []
    for _, values in tables.rows(_opener(source), model):
        for value in values:
            if type(value) is str:
                found.append(value)
            elif type(value) is Date:
                found.append(value.text)
    return found


def date_detection(strings: list[str]) -> Callable[[Path, Path], None]:
    def run(source: Path, folder: Path) -> None:
        to_date, shortest = dates.to_date, len("2025-03-14")
        for text in strings:  # as the row pass does: the length and "-" test inline, then the call
            if len(text) >= shortest and text[4] == "-":
                to_date(text)

    return run


def flatterer_xlsx(source: Path, folder: Path) -> None:
    import flatterer

    flatterer.flatten(str(source), str(folder / "flatterer"), xlsx=True, csv=False, force=True)


def flatterer_csv(source: Path, folder: Path) -> None:
    import flatterer

    flatterer.flatten(str(source), str(folder / "flatterer"), xlsx=False, csv=True, force=True)


def rustpy_xlsxwriter(source: Path, folder: Path) -> None:
    import rustpy_xlsxwriter

    with source.open("rb") as file:
        records = json.load(file)
    rustpy_xlsxwriter.write_worksheet(records, str(folder / "rustpy.xlsx"), sheet_name="data")


# Running them ----------------------------------------------------------------------------------------


def best(run: Callable[[Path, Path], None], source: Path, repeat: int) -> Timing:
    cpu_best = wall_best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            wall, cpu = time.perf_counter(), time.process_time()
            run(source, Path(folder))
            cpu_best = min(cpu_best, time.process_time() - cpu)
            wall_best = min(wall_best, time.perf_counter() - wall)
    return cpu_best, wall_best


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def phases(source: Path, flat: bool) -> dict[str, Callable[[Path, Path], None]]:
    model = tables.survey(_opener(source))
    found: dict[str, Callable[[Path, Path], None]] = {
        "survey": survey,
        "rows (floats)": row_pass(model, exact=False),
        "rows (exact)": row_pass(model, exact=True),
        "export xlsx": export_xlsx,
        "export csv": export_csv,
        "date detection": date_detection(date_strings(source, model)),
    }
    if _installed("flatterer"):
        found["flatterer xlsx"] = flatterer_xlsx
        found["flatterer csv"] = flatterer_csv
    if flat and _installed("rustpy_xlsxwriter"):
        found["rustpy-xlsxwriter"] = rustpy_xlsxwriter
    return found


TARGETS = {
    "flat": [
        ("export xlsx", "flatterer xlsx", "<= 1.0 (stretch 0.75)"),
        ("export xlsx", "rustpy-xlsxwriter", "<= 1.5"),
        ("export csv", "flatterer csv", "<= 2.0"),
        ("date detection", "export xlsx", "< 0.10"),
    ],
    "issues": [("export xlsx", "flatterer xlsx", "<= 1.0"), ("export csv", "flatterer csv", "<= 2.0")],
}


def report(shape: str, source: Path, repeat: int) -> None:
    print(f"{shape}: {source.name}, {source.stat().st_size / 2**20:.1f} MiB, best of {repeat}")
    timings = {}
    for name, run in phases(source, shape == "flat").items():
        timings[name] = best(run, source, repeat)
        print(f"  {name:<20} {timings[name][0]:7.2f} s CPU {timings[name][1]:7.2f} s wall")
    for ours, theirs, target in TARGETS[shape]:
        if ours in timings and theirs in timings:
            (our_cpu, our_wall), (their_cpu, their_wall) = timings[ours], timings[theirs]
            print(
                f"  {ours} / {theirs}: {our_wall / their_wall:.2f} wall, {our_cpu / their_cpu:.2f} CPU  (target {target})"
            )


def dataset(shape: str, records: int) -> Path:
    OUT.mkdir(exist_ok=True)
    source = OUT / f"{shape}_{records}.json"
    if not source.exists():
        write_dataset(source, records, shape=shape)
    return source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records of the flat dataset")
    parser.add_argument("--issues", type=int, default=20_000, help="records of the nested dataset")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", choices=("flat", "issues"), action="append", help="only these datasets")
    parser.add_argument("--profile", metavar="PHASE", help="run PHASE once under cProfile instead")
    args = parser.parse_args()
    sources = {"flat": dataset("flat", args.records), "issues": dataset("issues", args.issues)}
    for shape in args.shape or sources:
        if args.profile:
            run = phases(sources[shape], shape == "flat")[args.profile]
            with tempfile.TemporaryDirectory() as folder, cProfile.Profile() as profile:
                run(sources[shape], Path(folder))
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        else:
            report(shape, sources[shape], args.repeat)


if __name__ == "__main__":
    main()
