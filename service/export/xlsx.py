"""Write a table model's rows as an .xlsx workbook, streamed: the first bytes leave with the first rows.

The package (Office Open XML, ECMA-376 part 2), one small function per part, in the order written::

    [Content_Types].xml            the content type of every part
    _rels/.rels                    package -> workbook, core and extended properties
    docProps/app.xml               extended properties: the sheet names
    docProps/core.xml              core properties: when the workbook was made
    xl/workbook.xml                the sheets in order, and each sheet's autofilter as a defined name
    xl/_rels/workbook.xml.rels     workbook -> sheets, styles
    xl/styles.xml                  the cell formats (the STYLE_* numbers below)
    xl/worksheets/sheet1.xml       the main table's first sheet, compressed straight to the sink
    xl/worksheets/sheet2.xml ...   its rollover sheets, streamed the same way; then every other table's
                                   sheets, compressed into temporary files while their rows arrive
                                   (rows come in document order, interleaved) and copied in at the end

These are the parts, content types, elements and attributes xlsxwriter writes for the same cells
(``tests/test_xlsx.py`` compares them), less its theme: fonts here name Calibri themselves instead of
the theme's minor font, so no part refers to ``xl/theme/theme1.xml``. Strings are inline (``t="inlineStr"``),
never shared: a shared-string table must be complete before the first sheet that uses it, which would
hold every distinct string in memory until the end.

Cells follow the contract's "From JSON to a spreadsheet": text is always literal text (never a formula),
with what XML cannot carry replaced by U+FFFD, ``_xHHHH_`` escaped so Excel shows it as written, and
cut at Excel's 32,767 UTF-16 units; numbers Excel cannot hold exactly (integers of more than 15
significant digits, ``1E400``, ``1E-400``) are text; ``Date`` values are serial numbers with a date
format. Past ``max_rows`` rows a table continues on ``<name> (2)``, ``<name> (3)`` ... with its header.
"""

import math
import re
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from itertools import groupby

from service.export.model import Date, Table, TableModel, Value, unique_sheet_name
from service.export.zipstream import Output, Sink, Spool, ZipWriter

MAX_ROWS = 1_048_575
"""Data rows per sheet: Excel's 1,048,576 rows less the header."""
MAX_TEXT = 32_767
"""Excel's limit on a cell's text, in UTF-16 code units."""
EXACT_INTEGERS = 10**15
"""Integers of smaller magnitude have at most 15 significant digits, all of which Excel keeps."""

STYLE_HEADER, STYLE_WRAP, STYLE_DATE, STYLE_DATETIME, STYLE_DATETIME_MS = 1, 2, 3, 4, 5
_DATE_STYLES = {"date": STYLE_DATE, "datetime": STYLE_DATETIME, "datetime_ms": STYLE_DATETIME_MS}
_BATCH_CHARACTERS = 1 << 18
"""Rows of the streamed sheets are joined and compressed in batches of about this much XML, large
enough that the per-call costs vanish."""
_SPOOL_BATCH_CHARACTERS = 1 << 16
"""Rows of spooled sheets go in smaller batches, each a deflate block of its own: up to 250 child
tables each hold one batch while the export runs (16 MB at most for ASCII text), and a block of 64 KiB
costs about 3% in size over one continuous stream."""

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument"

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_EXCEL_ESCAPE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
"""Excel reads ``_xHHHH_`` in cell text as the character U+HHHH, so the underscore that starts one is
written ``_x005F_``. Every such underscore, overlapping ones too: in ``_x005F_x0041_`` both are."""
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


@dataclass(frozen=True)
class _Sheet:
    """One sheet of the workbook: ``number`` is its 1-based place, ``rows`` the data rows it holds."""

    number: int
    name: str
    table: Table
    rows: int

    @property
    def part(self) -> str:
        return f"xl/worksheets/sheet{self.number}.xml"

    @property
    def last_cell(self) -> str:
        """The bottom-right cell of the header and data, ``A1`` for a sheet without columns."""
        if not self.table.columns:
            return "A1"
        return f"{column_letter(len(self.table.columns))}{self.rows + 1}"


def write_xlsx(
    model: TableModel,
    rows: Iterable[tuple[int, list[Value]]],
    sink: Sink,
    *,
    max_rows: int = MAX_ROWS,
    created: datetime | None = None,
) -> None:
    """Write ``rows`` (``(index into model.tables, values)`` in document order) as a workbook to ``sink``.

    ``sink.write(bytes)`` receives the zip as it is made; nothing is buffered in memory beyond one batch
    of rows per table. Temporary files are removed whether this returns or raises.
    """
    sheets = _plan(model, max_rows)
    archive = ZipWriter(sink)
    for name, text in _package_parts(sheets, created or datetime.now(timezone.utc)):
        archive.add(name, text.encode())
    spools: list[Spool] = []
    with ExitStack() as cleanup:

        def stream(sheet: _Sheet) -> Output:
            return archive.stream(sheet.part)

        def spool(sheet: _Sheet) -> Output:
            output = cleanup.enter_context(Spool(sheet.part))
            spools.append(output)
            return output

        families = [
            _SheetFamily(table_sheets, max_rows, stream, _BATCH_CHARACTERS)
            if index == 0
            else _SheetFamily(table_sheets, max_rows, spool, _SPOOL_BATCH_CHARACTERS)
            for index, table_sheets in enumerate(_by_table(model, sheets))
        ]
        families[0].start()
        for index, values in rows:
            families[index].add(values)
        for family in families:
            family.finish()
        for output in spools:
            archive.append(output)
    archive.close()


def _plan(model: TableModel, max_rows: int) -> list[_Sheet]:
    """Every sheet, in workbook order: each table's first sheet followed by its rollover sheets."""
    taken = {table.name.casefold() for table in model.tables}
    sheets: list[_Sheet] = []
    for table in model.tables:
        count = max(1, math.ceil(table.rows / max_rows))
        for index in range(count):
            # The next free "<name> (n)": data (2), data (3) ..., stepping over any table called so.
            name = table.name if index == 0 else unique_sheet_name(table.name, taken)
            rows = min(max_rows, table.rows - index * max_rows)
            sheets.append(_Sheet(len(sheets) + 1, name, table, max(rows, 0)))
    return sheets


def _by_table(model: TableModel, sheets: list[_Sheet]) -> list[list[_Sheet]]:
    return [[sheet for sheet in sheets if sheet.table is table] for table in model.tables]


class _SheetFamily:
    """The sheets of one table, filled one after the other as the table's rows arrive."""

    def __init__(
        self,
        sheets: list[_Sheet],
        max_rows: int,
        open_output: Callable[[_Sheet], Output],
        batch_characters: int,
    ) -> None:
        self._sheets = sheets
        self._batch_characters = batch_characters
        self._max_rows = max_rows
        self._open_output = open_output
        self._output: Output | None = None
        self._opened = 0
        self._row = 1  # the last row written on the current sheet; the header is row 1
        self._batch: list[str] = []
        self._size = 0
        self._cells = _cell_openings(sheets[0].table)

    def start(self) -> None:
        """Open the first sheet now rather than with the first row (the sink sees the header at once)."""
        self._open_next()

    def add(self, values: list[Value]) -> None:
        if self._output is None or self._row > self._max_rows:
            self._open_next()
        self._row += 1
        row = _row_xml(values, str(self._row), self._cells)
        self._batch.append(row)
        self._size += len(row)
        if self._size > self._batch_characters:
            self._flush()

    def finish(self) -> None:
        """Close the current sheet, writing any not reached (a table with fewer rows than counted)."""
        while self._opened < len(self._sheets):
            self._open_next()
        self._close()

    def _open_next(self) -> None:
        self._close()
        if self._opened == len(self._sheets):
            raise RuntimeError(
                f"The table {self._sheets[0].table.name!r} has more rows than its survey counted."
            )
        sheet = self._sheets[self._opened]
        self._opened += 1
        self._output = self._open_output(sheet)
        self._batch.append(_sheet_head(sheet))
        self._row = 1

    def _close(self) -> None:
        if self._output is not None:
            self._batch.append(_sheet_tail(self._sheets[self._opened - 1]))
            self._flush()
            self._output.finish()
            self._output = None

    def _flush(self) -> None:
        self._output.write("".join(self._batch).encode())  # type: ignore[union-attr]  # opened before
        self._batch.clear()
        self._size = 0


def _cell_openings(table: Table) -> list[tuple[str, str]]:
    """Per column: the start of a cell's reference (``<c r="B``), and what follows the row number in a
    text cell (with the wrap style where the column's text has line breaks)."""
    return [
        (
            f'<c r="{column_letter(number)}',
            f'" s="{STYLE_WRAP}" t="inlineStr"><is><t' if column.wrap else '" t="inlineStr"><is><t',
        )
        for number, column in enumerate(table.columns, 1)
    ]


def _row_xml(values: list[Value], number: str, cells: list[tuple[str, str]]) -> str:
    """One ``<row>``: the hot loop of an export, so the common cells are inline here.

    Text goes in as it is when it is printable (so XML can carry it), has none of ``&<>``, no
    ``_x`` and no white space at its ends, and is short enough; anything else takes ``_text``. Checks
    that are each a C loop over the string (``isprintable``, ``in``, ``strip``) cost a third less
    than one regular expression here.
    """
    parts = ['<row r="', number, '">']
    append = parts.append
    for (reference, text_opening), value in zip(cells, values, strict=True):
        kind = type(value)
        if kind is int:
            digits = repr(value)
            if len(digits) <= 15:
                append(f'{reference}{number}"><v>{digits}</v></c>')
            else:
                append(_number_cell(reference + number, value))  # type: ignore[arg-type]
        elif kind is str:
            if (
                value.isprintable()  # type: ignore[union-attr]
                and "&" not in value  # type: ignore[operator]
                and "<" not in value  # type: ignore[operator]
                and ">" not in value  # type: ignore[operator]
                and "_x" not in value  # type: ignore[operator]
                and value.strip() is value  # type: ignore[union-attr]
                and len(value) <= MAX_TEXT // 2  # type: ignore[arg-type]
            ):
                append(f"{reference}{number}{text_opening}>{value}</t></is></c>")
            else:
                append(f"{reference}{number}{text_opening}{_text_content(value)}</t></is></c>")  # type: ignore[arg-type]
        elif kind is float:
            append(f'{reference}{number}"><v>{value!r}</v></c>')
        elif value is None:
            continue
        elif kind is bool:
            append(f'{reference}{number}" t="b"><v>{"1" if value else "0"}</v></c>')
        elif kind is Date:
            append(f'{reference}{number}" s="{_DATE_STYLES[value.style]}"><v>{value.serial!r}</v></c>')  # type: ignore[union-attr]
        else:
            append(_number_cell(reference + number, value))  # type: ignore[arg-type]
    append("</row>")
    return "".join(parts)


def _number_cell(reference: str, value: int | Decimal) -> str:
    """The cell of a number that may not fit Excel: a number if it does, else its digits as text."""
    number_or_text = _number(value)
    if type(number_or_text) is str:
        return f'{reference}" t="inlineStr"><is><t>{number_or_text}</t></is></c>'
    return f'{reference}"><v>{number_or_text!r}</v></c>'


def _number(value: int | Decimal) -> int | float | str:
    """The number itself if Excel holds it exactly enough, else its text (no digit lost)."""
    if type(value) is int:
        if len(str(abs(value)).rstrip("0")) <= 15 and abs(value) < 1e308:
            return value
        return str(value)
    number = float(value)
    if math.isinf(number) or (number == 0 and value != 0):
        return str(value)
    return number


def _text(text: str) -> str:
    """``text`` made safe for a cell: cut to Excel's limit, cleaned, then escaped for Excel and XML."""
    text = _cut(text)
    if _NOT_XML.search(text) is not None:
        text = _NOT_XML.sub("\ufffd", text)
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub("_x005F_", text)
    return text.translate(_XML_ESCAPES)


def _cut(text: str) -> str:
    """``text`` within ``MAX_TEXT`` UTF-16 code units (a character past U+FFFF takes two)."""
    if len(text) <= MAX_TEXT // 2:
        return text
    text = text[:MAX_TEXT]
    units = len(text) + sum(1 for character in text if character > "\uffff")
    while units > MAX_TEXT:
        units -= 2 if text[-1] > "\uffff" else 1
        text = text[:-1]
    return text


def column_letter(number: int) -> str:
    """The letters of a 1-based column number: 1 is ``A``, 27 ``AA``, 16,384 ``XFD``."""
    letters = ""
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


# The parts, in the order of the package tree above.


def _package_parts(sheets: list[_Sheet], created: datetime) -> list[tuple[str, str]]:
    return [
        ("[Content_Types].xml", _content_types(sheets)),
        ("_rels/.rels", _root_relationships()),
        ("docProps/app.xml", _app_properties(sheets)),
        ("docProps/core.xml", _core_properties(created)),
        ("xl/workbook.xml", _workbook(sheets)),
        ("xl/_rels/workbook.xml.rels", _workbook_relationships(sheets)),
        ("xl/styles.xml", _styles()),
    ]


def _content_types(sheets: list[_Sheet]) -> str:
    overrides = [
        ("/docProps/app.xml", f"{_CONTENT_TYPE}.extended-properties+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/xl/styles.xml", f"{_CONTENT_TYPE}.spreadsheetml.styles+xml"),
        ("/xl/workbook.xml", f"{_CONTENT_TYPE}.spreadsheetml.sheet.main+xml"),
    ] + [(f"/{sheet.part}", f"{_CONTENT_TYPE}.spreadsheetml.worksheet+xml") for sheet in sheets]
    return (
        f'{_DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{part}" ContentType="{kind}"/>' for part, kind in overrides)
        + "</Types>"
    )


def _relationships(targets: list[tuple[str, str]]) -> str:
    """A relationships part: ``targets`` are (type, target), numbered rId1, rId2 ... in order."""
    return (
        f'{_DECLARATION}<Relationships xmlns="{_PACKAGE_REL_NS}">'
        + "".join(
            f'<Relationship Id="rId{number}" Type="{kind}" Target="{target}"/>'
            for number, (kind, target) in enumerate(targets, 1)
        )
        + "</Relationships>"
    )


def _root_relationships() -> str:
    return _relationships(
        [
            (f"{_REL_NS}/officeDocument", "xl/workbook.xml"),
            (
                "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
                "docProps/core.xml",
            ),
            (f"{_REL_NS}/extended-properties", "docProps/app.xml"),
        ]
    )


def _app_properties(sheets: list[_Sheet]) -> str:
    names = "".join(f"<vt:lpstr>{_escape_text(sheet.name)}</vt:lpstr>" for sheet in sheets)
    return (
        f'{_DECLARATION}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        "<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>"
        '<HeadingPairs><vt:vector size="2" baseType="variant"><vt:variant><vt:lpstr>Worksheets</vt:lpstr>'
        f"</vt:variant><vt:variant><vt:i4>{len(sheets)}</vt:i4></vt:variant></vt:vector></HeadingPairs>"
        f'<TitlesOfParts><vt:vector size="{len(sheets)}" baseType="lpstr">{names}</vt:vector></TitlesOfParts>'
        "<Company></Company><LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc>"
        "<HyperlinksChanged>false</HyperlinksChanged><AppVersion>12.0000</AppVersion></Properties>"
    )


def _core_properties(created: datetime) -> str:
    when = created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{_DECLARATION}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator></dc:creator><cp:lastModifiedBy></cp:lastModifiedBy>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>'
    )


def _workbook(sheets: list[_Sheet]) -> str:
    listed = "".join(
        f'<sheet name="{sheet.name.translate(_ATTRIBUTE_ESCAPES)}" sheetId="{sheet.number}" r:id="rId{sheet.number}"/>'
        for sheet in sheets
    )
    # Excel keeps each autofilter's range as a hidden defined name too; without it Excel drops the filter.
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{sheet.number - 1}" hidden="1">'
        f"{_escape_text(_quote_sheet_name(sheet.name))}!{_absolute_range(sheet)}</definedName>"
        for sheet in sheets
        if sheet.table.columns
    )
    return (
        f'{_DECLARATION}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        '<fileVersion appName="xl" lastEdited="4" lowestEdited="4" rupBuild="4505"/>'
        '<workbookPr defaultThemeVersion="124226"/>'
        '<bookViews><workbookView xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"/></bookViews>'
        f"<sheets>{listed}</sheets>"
        + (f"<definedNames>{filters}</definedNames>" if filters else "")
        + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )


def _workbook_relationships(sheets: list[_Sheet]) -> str:
    targets = [(f"{_REL_NS}/worksheet", f"worksheets/sheet{sheet.number}.xml") for sheet in sheets]
    return _relationships([*targets, (f"{_REL_NS}/styles", "styles.xml")])


def _styles() -> str:
    """Formats 0 default, 1 bold header, 2 wrapped text, 3-5 the three date formats (STYLE_*)."""
    font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
    plain = 'fontId="0" fillId="0" borderId="0" xfId="0"'
    return (
        f'{_DECLARATION}<styleSheet xmlns="{_MAIN_NS}">'
        '<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
        '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/>'
        '<numFmt numFmtId="166" formatCode="yyyy-mm-dd hh:mm:ss.000"/></numFmts>'
        f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="6"><xf numFmtId="0" {plain}/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        f'<xf numFmtId="0" {plain} applyAlignment="1"><alignment wrapText="1"/></xf>'
        f'<xf numFmtId="164" {plain} applyNumberFormat="1"/>'
        f'<xf numFmtId="165" {plain} applyNumberFormat="1"/>'
        f'<xf numFmtId="166" {plain} applyNumberFormat="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
        'defaultPivotStyle="PivotStyleLight16"/></styleSheet>'
    )


def _sheet_head(sheet: _Sheet) -> str:
    """Everything before the first data row: dimension, frozen header pane, widths, the header row."""
    selected = ' tabSelected="1"' if sheet.number == 1 else ""
    columns = sheet.table.columns
    cols = "".join(
        f'<col min="{first}" max="{last}" width="{width}" customWidth="1"/>'
        for first, last, width in _width_runs(sheet.table)
    )
    header = "".join(
        f'<c r="{column_letter(number)}1" s="{STYLE_HEADER}" t="inlineStr"><is><t{_text_content(column.name)}</t></is></c>'
        for number, column in enumerate(columns, 1)
    )
    return (
        f'{_DECLARATION}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        f'<dimension ref="{"A1" if not columns else "A1:" + sheet.last_cell}"/>'
        f'<sheetViews><sheetView{selected} workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + f'<sheetData><row r="1">{header}</row>'
    )


def _sheet_tail(sheet: _Sheet) -> str:
    autofilter = f'<autoFilter ref="A1:{sheet.last_cell}"/>' if sheet.table.columns else ""
    return (
        f"</sheetData>{autofilter}"
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
    )


def _width_runs(table: Table) -> list[tuple[int, int, float]]:
    """``(first, last, width)`` for each run of adjacent columns of one width, as ``<cols>`` groups them."""
    widths = [_stored_width(column.width) for column in table.columns]
    runs: list[tuple[int, int, float]] = []
    for width, run in groupby(enumerate(widths, 1), key=lambda numbered: numbered[1]):
        numbers = [number for number, _ in run]
        runs.append((numbers[0], numbers[-1], width))
    return runs


def _stored_width(characters: float) -> float:
    """The width Excel stores for a column showing ``characters`` digits of Calibri 11 (7 pixels each,
    plus 5 pixels of padding), rounded to whole pixels in 1/256 steps as Excel does."""
    if characters <= 0:
        return 0
    pixels = int(characters * 12 + 0.5) if characters < 1 else int(characters * 7 + 0.5) + 5
    return int(pixels / 7 * 256) / 256


def _text_content(text: str) -> str:
    """The rest of a ``<t`` start tag and the text after it: ``text`` made safe by ``_text``, with
    ``xml:space`` where white space at its ends must be kept."""
    text = _text(text)
    space = ' xml:space="preserve">' if text[:1].isspace() or text[-1:].isspace() else ">"
    return space + text


def _escape_text(text: str) -> str:
    return text.translate(_XML_ESCAPES)


def _quote_sheet_name(name: str) -> str:
    """A sheet name as formulas and defined names write it: in quotes, any quote in it doubled."""
    return "'" + name.replace("'", "''") + "'"


def _absolute_range(sheet: _Sheet) -> str:
    last = sheet.last_cell
    letters = last.rstrip("0123456789")
    return f"$A$1:${letters}${last[len(letters) :]}"
