"""JSON to .xlsx conversion (placeholder until the export issue lands)."""

from collections.abc import Callable
from typing import BinaryIO

import ijson
from openpyxl import Workbook


def write_workbook(open_json: Callable[[], BinaryIO], out: BinaryIO) -> None:
    """Write the JSON document that ``open_json()`` streams as a workbook to ``out``."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    with open_json() as source:
        document = next(ijson.items(source, "", use_float=True))
    records = document if isinstance(document, list) else [document]
    columns: list[str] = []
    for record in records:
        for key in record if isinstance(record, dict) else ["value"]:
            if key not in columns:
                columns.append(key)
    sheet.append(columns)
    for record in records:
        row = record if isinstance(record, dict) else {"value": record}
        sheet.append(
            [str(row.get(c)) if isinstance(row.get(c), (dict, list)) else row.get(c) for c in columns]
        )
    workbook.save(out)
