"""The CSV writer against the standard library's csv module on the same rows of the flat bench dataset.

Usage (from the repository root): python -m bench.bench_csv [--records N] [--repeat R]

Both sides turn the same row values into the same text (``csv.writer`` would write ``True`` and
``None`` as ``True`` and ``""`` itself, so its rows are converted first, with the rules of the
contract) and write UTF-8 with CRLF into memory; csv.writer's time on rows already text is printed
too, the least it could cost. Times are the least CPU time of R runs; nothing is
asserted.
"""

import argparse
import csv
import io

from bench.bench_compression import best, dataset
from service.export.csvfile import write_csv
from service.export.model import Date, Value


def stdlib_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Date):
        return value.text
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    model, rows = dataset(args.records)
    table = model.tables[0]
    values = [row for _, row in rows]

    def ours() -> bytes:
        out = io.BytesIO()
        write_csv(table, values, out)
        return out.getvalue()

    def stdlib() -> bytes:
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([column.name for column in table.columns])
        writer.writerows([stdlib_text(value) for value in row] for row in values)
        return text.getvalue().encode()

    converted = [[stdlib_text(value) for value in row] for row in values]

    def stdlib_writing_only() -> bytes:
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([column.name for column in table.columns])
        writer.writerows(converted)
        return text.getvalue().encode()

    our_seconds, our_bytes = best(args.repeat, ours)
    writing_seconds, _ = best(args.repeat, stdlib_writing_only)
    stdlib_seconds, stdlib_bytes = best(args.repeat, stdlib)
    cells = args.records * len(table.columns)
    print(f"{args.records:,} records x {len(table.columns)} ({len(our_bytes) / 1e6:.1f} MB of CSV)")
    print(f"write_csv:                   {our_seconds:.3f} s ({our_seconds / cells * 1e9:.0f} ns a cell)")
    print(
        f"csv.writer after converting: {stdlib_seconds:.3f} s ({stdlib_seconds / cells * 1e9:.0f} ns a cell)"
    )
    print(f"csv.writer alone, on text:   {writing_seconds:.3f} s (the conversion left out)")
    print(f"ratio {our_seconds / stdlib_seconds:.2f}; same bytes: {our_bytes == stdlib_bytes}")


if __name__ == "__main__":
    main()
