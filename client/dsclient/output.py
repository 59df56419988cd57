"""How results look: tables and key/value lists for people, JSON for scripts, progress bars."""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, TextIO

from tqdm import tqdm

TABLE_COLUMNS = ("ID", "FILENAME", "SIZE", "CREATED")


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
    rows = [TABLE_COLUMNS] + [
        (
            printable(str(item["id"])),
            printable(str(item["filename"])),
            human_size(int(item["size"])),
            human_time(str(item["created_at"])),
        )
        for item in datasets
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_COLUMNS))]
    lines = [
        "  ".join(
            cell.rjust(width) if column == 2 else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


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


def _terminal_width(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    return columns or 80
