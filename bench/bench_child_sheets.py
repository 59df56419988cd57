"""Memory of the xlsx writer with many child tables spooling at once: the peak growth of this
process's resident memory while 250 child tables (the engine's limit) get rows in turn.

Usage (from the repository root, Linux): python -m bench.bench_child_sheets [--tables N] [--rows R]

Each spooled sheet holds one batch of XML while the export runs and no compressor between batches
(see ``zipstream.Spool``); this shows what that costs. Nothing is asserted.
"""

import argparse
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from service.export.model import Column, Table, TableModel, Value
from service.export.xlsx import write_xlsx


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6


class CountingSink:
    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=250)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    children = [
        Table(f"t{n}", "data", args.rows, (Column("data row", 10), Column("text", 30)))
        for n in range(args.tables)
    ]
    model = TableModel((Table("data", None, args.rows, (Column("data row", 10),)), *children))

    def rows() -> Iterator[tuple[int, list[Value]]]:
        for number in range(1, args.rows + 1):
            yield 0, [number]
            for table in range(1, args.tables + 1):
                yield table, [number, f"some text for row {number} of table {table} with a few words more"]

    before = resident_mb()
    peak = before
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, resident_mb())

    watcher = threading.Thread(target=watch)
    watcher.start()
    sink = CountingSink()
    start = time.perf_counter()
    write_xlsx(model, rows(), sink)
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    print(
        f"{args.tables} child tables x {args.rows:,} rows: workbook {sink.size / 1e6:.1f} MB in {seconds:.1f} s"
    )
    print(f"resident memory: peak growth {peak - before:.0f} MB")


if __name__ == "__main__":
    main()
