"""Which deflate for the xlsx writer: zlib, zlib-ng and isal at several levels, and compression
overlapped with XML generation in a thread, on the sheet of the flat bench dataset.

Usage (from the repository root; needs requirements-bench.txt for xlsxwriter, isal):

    python -m bench.bench_compression [--records N] [--repeat R]

It builds the rows of N records of ``bench.make_dataset`` (default 100,000 x 24) in memory, writes
them once with ``service.export.xlsx.write_xlsx``, and then, on that workbook's sheet XML cut into the
batches the writer compresses:

- each binding and level: the time to deflate the sheet (and CRC it, as zip needs) and the workbook's
  size against xlsxwriter's for the same cells (``constant_memory``, Python's zipfile at level 6);
- the writer end to end with the chosen deflate, and the same run with compression handed to a thread
  (``concurrent.futures``, one worker), to see what overlapping it with XML generation saves.

Times are the best of R runs, in CPU time except for the threaded comparison (wall clock, both sides);
nothing is asserted.
"""

import argparse
import io
import random
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from types import ModuleType

from bench.make_dataset import record
from service.export import deflate, xlsx, zipstream
from service.export.model import Column, Date, Table, TableModel, Value

_EPOCH = datetime(1899, 12, 30)
_PLAIN_COMPRESSOR = deflate.Compressor


def excel_date(text: str) -> Date:
    moment = datetime.fromisoformat(text)
    return Date(text, (moment - _EPOCH).total_seconds() / 86400, "datetime")


def dataset(records: int) -> tuple[TableModel, list[tuple[int, list[Value]]]]:
    """The flat bench records as a one-table model and its rows (``created_at`` a date, as the
    contract's date rule makes it)."""
    rng = random.Random(0)
    items = [record(rng, number) for number in range(1, records + 1)]
    names = list(items[0])
    rows: list[tuple[int, list[Value]]] = []
    for item in items:
        values: list[Value] = list(item.values())
        values[names.index("created_at")] = excel_date(item["created_at"])
        rows.append((0, values))
    columns = tuple(Column(name, 12) for name in names)
    return TableModel((Table("data", None, records, columns),)), rows


def best(
    repeat: int, run: Callable[[], object], clock: Callable[[], float] = time.process_time
) -> tuple[float, object]:
    """The least time of ``repeat`` runs, by default in CPU time of the process: steadier than the wall
    clock on a shared machine, and the same for work on one thread."""
    times, result = [], None
    for _ in range(repeat):
        start = clock()
        result = run()
        times.append(clock() - start)
    return min(times), result


def sheet_batches(workbook: bytes) -> list[bytes]:
    sheet = zipfile.ZipFile(io.BytesIO(workbook)).read("xl/worksheets/sheet1.xml")
    size = xlsx._BATCH_CHARACTERS
    return [sheet[start : start + size] for start in range(0, len(sheet), size)]


def deflate_all(module: ModuleType, level: int, batches: list[bytes]) -> int:
    compressor = deflate.Compressor(level, module)
    return sum(len(compressor.compress(batch)) for batch in batches) + len(compressor.flush())


def xlsxwriter_size(model: TableModel, rows: list[tuple[int, list[Value]]]) -> tuple[float, int]:
    import xlsxwriter

    def run() -> int:
        out = io.BytesIO()
        options = {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "in_memory": False,
        }
        workbook = xlsxwriter.Workbook(out, options)
        sheet = workbook.add_worksheet("data")
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        sheet.write_row(0, 0, [column.name for column in model.tables[0].columns])
        for number, (_, values) in enumerate(rows, 1):
            for column, value in enumerate(values):
                if isinstance(value, Date):
                    sheet.write_number(number, column, value.serial, date_format)
                elif value is not None:
                    sheet.write(number, column, value)
        workbook.close()
        return len(out.getvalue())

    seconds, size = best(1, run)
    return seconds, size  # type: ignore[return-value]


class ThreadedCompressor:
    """``deflate.Compressor`` with each batch deflated on a worker thread while the caller goes on to
    the next; the output comes back in order, one batch late."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._compressor = _PLAIN_COMPRESSOR()
        self._pool = pool
        self._pending: Future[bytes] | None = None

    def compress(self, data: bytes) -> bytes:
        ready = self._pending.result() if self._pending is not None else b""
        self._pending = self._pool.submit(self._compressor.compress, data)
        return ready

    def flush(self) -> bytes:
        ready = self._pending.result() if self._pending is not None else b""
        self._pending = None
        return ready + self._compressor.flush()

    @property
    def crc(self) -> int:
        return self._compressor.crc

    @property
    def size(self) -> int:
        return self._compressor.size


def threaded_writer(pool: ThreadPoolExecutor) -> Iterator[None]:
    """Run the writer with ``ThreadedCompressor`` for the duration (a bench-only swap)."""
    zipstream.deflate.Compressor = lambda: ThreadedCompressor(pool)  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        zipstream.deflate.Compressor = _PLAIN_COMPRESSOR  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    model, rows = dataset(args.records)

    def write() -> bytes:
        out = io.BytesIO()
        xlsx.write_xlsx(model, rows, out)
        return out.getvalue()

    writer_seconds, workbook = best(args.repeat, write)
    batches = sheet_batches(workbook)  # type: ignore[arg-type]
    sheet_bytes = sum(map(len, batches))
    reference_seconds, reference_size = xlsxwriter_size(model, rows)
    print(f"{args.records:,} records x {len(model.tables[0].columns)}: sheet XML {sheet_bytes / 1e6:.1f} MB")
    print(f"xlsxwriter constant_memory: {reference_size / 1e6:.2f} MB in {reference_seconds:.2f} s")
    print(
        f"write_xlsx ({deflate.backend.__name__} level {deflate.LEVEL}): {len(workbook) / 1e6:.2f} MB in {writer_seconds:.2f} s"
    )  # type: ignore[arg-type]

    bindings: list[tuple[str, ModuleType, list[int]]] = [("zlib", zlib, [1, 3, 6])]
    try:
        from zlib_ng import zlib_ng

        bindings.append(("zlib-ng", zlib_ng, [1, 3, 6]))
    except ImportError:
        print("zlib-ng not installed")
    try:
        from isal import isal_zlib

        bindings.append(("isal", isal_zlib, [0, 1, 2, 3]))
    except ImportError:
        print("isal not installed")
    print(f"\n{'deflate':<14}{'seconds':>9}{'MB/s':>8}{'sheet MB':>10}{'vs xlsxwriter':>15}")
    other_parts = (
        len(workbook)
        - zipfile.ZipFile(io.BytesIO(workbook)).getinfo("xl/worksheets/sheet1.xml").compress_size
    )  # type: ignore[arg-type]
    for name, module, levels in bindings:
        for level in levels:
            seconds, size = best(args.repeat, lambda m=module, lv=level: deflate_all(m, lv, batches))
            ratio = (size + other_parts) / reference_size  # type: ignore[operator]
            print(
                f"{name + ' ' + str(level):<14}{seconds:>9.3f}{sheet_bytes / seconds / 1e6:>8.0f}{size / 1e6:>10.2f}{ratio:>14.2f}x"
            )  # type: ignore[operator]

    with ThreadPoolExecutor(1) as pool:
        swap = threaded_writer(pool)
        next(swap)
        threaded_seconds, threaded = best(args.repeat, write, time.perf_counter)
        plain_wall, _ = best(args.repeat, write, time.perf_counter)
        next(swap, None)
    print(f"\nwrite_xlsx, compressing in the caller's thread: {plain_wall:.2f} s wall clock")
    print(
        f"write_xlsx, compressing on a worker thread:     {threaded_seconds:.2f} s wall clock ({len(threaded) / 1e6:.2f} MB)"
    )  # type: ignore[arg-type]
    crc_seconds, _ = best(args.repeat, lambda: [zlib.crc32(batch) for batch in batches])
    print(f"CRC-32 of the sheet alone (zlib): {crc_seconds:.3f} s")


if __name__ == "__main__":
    main()
