"""How results look: tables and key/value lists for people, JSON for scripts, progress bars."""

from __future__ import annotations

import json
import os
import threading
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TextIO

from tqdm import tqdm

TABLE_COLUMNS = ("ID", "FILENAME", "SIZE", "CREATED")
TABLES_COLUMNS = ("TABLE", "PARENT", "ROWS", "COLUMNS")
# How often a bar is redrawn while no bytes arrive, so its clock shows the wait.
TICK_SECONDS = 0.5


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def human_size(size: int) -> str:
    """Bytes in binary units, one decimal: ``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    value, unit = float(size), 0
    while round(value, 1) >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {units[unit]}"


def human_time(iso: str) -> str:
    """``2025-01-02T03:04:05.678+00:00`` as ``2025-01-02 03:04:05 UTC``; anything unparsable as given."""
    try:
        # Python 3.10's fromisoformat does not accept the "Z" suffix.
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return printable(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def printable(text: str) -> str:
    """Text safe for a terminal line: control characters (a newline in a file name) become escapes."""
    return "".join(
        char.encode("unicode_escape").decode("ascii") if unicodedata.category(char)[0] == "C" else char
        for char in text
    )


def dataset_table(datasets: Iterable[Mapping[str, Any]]) -> str:
    """One aligned row per dataset under a header; sizes right-aligned so they compare at a glance."""
    rows = [
        (
            printable(str(item["id"])),
            printable(str(item["filename"])),
            human_size(int(item["size"])),
            human_time(str(item["created_at"])),
        )
        for item in datasets
    ]
    return aligned(TABLE_COLUMNS, rows, right={2})


def tables_table(tables: Iterable[Mapping[str, Any]]) -> str:
    """One row per table an export makes: its name, its parent's (``-`` for the main one), how many
    rows and columns it has; numbers right-aligned."""
    rows = [
        (
            printable(str(table["name"])),
            "-" if table.get("parent") is None else printable(str(table["parent"])),
            str(table["rows"]),
            str(len(table["columns"])),
        )
        for table in tables
    ]
    return aligned(TABLES_COLUMNS, rows, right={2, 3})


def aligned(header: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int]) -> str:
    """Rows of text as columns two spaces apart, each as wide as its widest cell."""
    everything = [tuple(header), *rows]
    widths = [max(len(row[column]) for row in everything) for column in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in everything
    )


def dataset_details(dataset: Mapping[str, Any]) -> str:
    """Every field the API returned, one per line, with size and time also in human form."""
    lines = []
    width = max(len(key) for key in dataset)
    for key, value in dataset.items():
        if key == "size" and isinstance(value, int):
            shown = f"{value} bytes ({human_size(value)})" if value >= 1024 else f"{value} bytes"
        elif key == "created_at" and isinstance(value, str):
            shown = human_time(value)
        else:
            shown = printable(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)


def progress_bar(stream: TextIO, total: int | None, label: str, enabled: bool) -> tqdm:
    """A byte counter on ``stream``; a no-op unless ``enabled``, so callers need no branches."""
    return tqdm(
        file=stream,
        total=total,
        desc=printable(label),
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not enabled,
        leave=True,
        # Sized here because tqdm's own probe turns a terminal that reports 0 rows or columns
        # (`script`, some CI and editor terminals) into -1 and then draws nothing at all.
        ncols=_terminal_width(stream) - 1,
        nrows=24,
    )


@contextmanager
def ticking(bar: tqdm) -> Iterator[tqdm]:
    """Keep ``bar`` redrawn while nothing updates it: a first export may take a while before its
    first byte, and a bar that stands still looks like a hang."""
    if bar.disable:
        yield bar
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_SECONDS):
            bar.refresh()

    ticker = threading.Thread(target=tick, name="progress-ticker", daemon=True)
    ticker.start()
    try:
        yield bar
    finally:
        stop.set()
        ticker.join()


def _terminal_width(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    return columns or 80
