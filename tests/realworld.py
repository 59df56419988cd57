"""Files analysts really receive, small: the shapes issue 13 was found with.

The JSON ones sit in ``tests/data/realworld/`` as written by the tools they imitate (made up, but
field for field in the shape those tools write):

- ``github_issues.json``: a GitHub REST ``GET /repos/{owner}/{repo}/issues`` page. Users are objects,
  ``labels`` arrays of objects (empty in one issue), ``assignee`` and ``milestone`` null in the
  first records and objects later, ``pull_request`` only on pull requests, ``body`` null, one line,
  or several with CRLF, timestamps ``...Z``.
- ``stations.geojson``: a GeoJSON FeatureCollection (its records under ``/features``): Point,
  Polygon and MultiPoint coordinates (nested arrays of numbers), a null geometry, ``properties`` with
  a nested object that is sometimes null, dates that are, and are not, date cells (1891 and an
  offset +09:00 stay text, 2023-02-29 is impossible), non-ASCII names.
- ``datasets.json``: a map of records keyed by name, like vega_datasets' ``datasets.json``; some
  records have fields the others lack.
- ``mongoexport.json``: ``mongoexport``'s default output, JSON Lines in a ``.json`` file, with
  extended JSON: ``{"$oid": ...}``, ``{"$date": "...Z"}`` and, before 1970, ``{"$date":
  {"$numberLong": ...}}``, ``{"$numberDecimal": ...}``, arrays of objects (one empty).
- ``app_log.json``: a log pipeline's JSON Lines with CRLF endings and a blank line.

The encodings a Windows machine adds are made here from them, as bytes, so no editor or checkout
can change them: ``windows_file`` (UTF-8 BOM and CRLF, what Notepad and PowerShell 7 save),
``encoded`` (UTF-16 as PowerShell 5's ``Out-File`` writes, or UTF-32), ``gzipped``, and ``write_all`` to have every one as a file.
"""

import codecs
import gzip
from pathlib import Path

REALWORLD = Path(__file__).parent / "data" / "realworld"
GITHUB_ISSUES = REALWORLD / "github_issues.json"
GEOJSON = REALWORLD / "stations.geojson"
MAP_OF_RECORDS = REALWORLD / "datasets.json"
MONGOEXPORT = REALWORLD / "mongoexport.json"
JSON_LINES_LOG = REALWORLD / "app_log.json"


def windows_file(source: Path = MAP_OF_RECORDS) -> bytes:
    """``source`` as Notepad saves it: a UTF-8 byte-order mark, then CRLF line endings."""
    return codecs.BOM_UTF8 + source.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def encoded(encoding: str, *, bom: bool = True, source: Path = MAP_OF_RECORDS) -> bytes:
    """``source`` with CRLF endings in ``encoding`` (``"utf-16-le"``, ``"utf-32-be"`` ...), with or
    without a byte-order mark: PowerShell 5's ``Out-File`` writes UTF-16 LE with one, some
    exporters write none."""
    text = source.read_text(encoding="utf-8").replace("\n", "\r\n")
    return (("\ufeff" if bom else "") + text).encode(encoding)


def gzipped(body: bytes, *, members: int = 1) -> bytes:
    """``body`` gzipped, cut into ``members`` gzip members one after another (what ``cat a.gz b.gz``
    or a log shipper that gzips each batch makes); decompressed, it is ``body`` again."""
    step = -(-len(body) // members)
    return b"".join(gzip.compress(body[i : i + step], mtime=0) for i in range(0, len(body), step))


def write_all(folder: Path) -> dict[str, Path]:
    """Every real-world file, encoded variants included, written into ``folder``, by its file name."""
    files = {
        path.name: path.read_bytes()
        for path in (GITHUB_ISSUES, GEOJSON, MAP_OF_RECORDS, MONGOEXPORT, JSON_LINES_LOG)
    }
    files |= {
        "datasets-windows.json": windows_file(),
        "datasets-utf16le.json": encoded("utf-16-le"),
        "datasets-utf16be-nobom.json": encoded("utf-16-be", bom=False),
        "github_issues.json.gz": gzipped(GITHUB_ISSUES.read_bytes()),
        "mongoexport.json.gz": gzipped(MONGOEXPORT.read_bytes(), members=2),
    }
    written = {}
    for name, body in files.items():
        written[name] = folder / name
        written[name].write_bytes(body)
    return written
