"""The real-world files are the shapes ``tests/realworld.py`` says they are, and this package's pure
pieces read them as the export will: dates, ``root``, gzip and encodings."""

import io
import json
from pathlib import Path

import ijson
import pytest

from service import decoding
from service.export import dates, pointer
from tests import realworld


def load(path: Path) -> object:
    return json.loads(path.read_bytes())


def lines(path: Path) -> list[object]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_github_issues_have_the_shapes_that_broke_the_export() -> None:
    issues = load(realworld.GITHUB_ISSUES)
    assert isinstance(issues, list)
    for field in ("assignee", "milestone"):
        kinds = [type(issue[field]) for issue in issues]
        assert kinds[0] is type(None)
        assert dict in kinds
        assert kinds.index(dict) > 0  # null first, an object later
    assert all(isinstance(issue["user"], dict) for issue in issues)
    assert all(isinstance(label, dict) for issue in issues for label in issue["labels"])
    assert [] in [issue["labels"] for issue in issues]
    assert 0 < sum("pull_request" in issue for issue in issues) < len(issues)
    bodies = [issue["body"] for issue in issues]
    assert None in bodies
    assert any("\r\n" in body for body in bodies if body)


def test_the_geojson_records_are_under_features() -> None:
    raw = realworld.GEOJSON.read_bytes()
    builder = ijson.ObjectBuilder()
    for event, value in pointer.select(
        ijson.basic_parse(io.BytesIO(raw), use_float=True), pointer.parse("/features")
    ):
        builder.event(event, value)
    assert builder.value == load(realworld.GEOJSON)["features"]
    assert len(builder.value) == 5
    assert None in [feature["geometry"] for feature in builder.value]


def test_the_map_of_records() -> None:
    datasets = load(realworld.MAP_OF_RECORDS)
    assert isinstance(datasets, dict)
    assert len(datasets) > 10
    assert all(isinstance(record, dict) for record in datasets.values())
    assert len({frozenset(record) for record in datasets.values()}) > 1  # some have more fields


@pytest.mark.parametrize("path", [realworld.MONGOEXPORT, realworld.JSON_LINES_LOG])
def test_json_lines_in_json_files(path: Path) -> None:
    assert path.suffix == ".json"
    with pytest.raises(json.JSONDecodeError, match="Extra data"):
        load(path)
    assert len(lines(path)) > 2


def test_mongoexport_writes_extended_json() -> None:
    orders = lines(realworld.MONGOEXPORT)
    assert all(set(order["_id"]) == {"$oid"} for order in orders)
    placed = [order["placed"]["$date"] for order in orders]
    assert {"$numberLong"} in [set(value) for value in placed if isinstance(value, dict)]
    assert [] in [order["items"] for order in orders]


def test_the_log_has_crlf_and_a_blank_line() -> None:
    raw = realworld.JSON_LINES_LOG.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    assert b"\r\n\r\n" in raw


def test_dates_in_the_real_files() -> None:
    issues = load(realworld.GITHUB_ISSUES)
    assert all(dates.to_date(issue["created_at"]).style == "datetime" for issue in issues)
    opened = [feature["properties"]["opened"] for feature in load(realworld.GEOJSON)["features"]]
    # 1891 is before 1900-03-01; 2023-02-29 is impossible; +09:00 is another offset.
    assert [None if text is None else dates.to_date(text) is not None for text in opened] == [
        False,
        True,
        False,
        False,
        None,
    ]
    assert dates.to_date(lines(realworld.MONGOEXPORT)[0]["placed"]["$date"]).style == "datetime_ms"
    assert [dates.to_date(entry["ts"]) is not None for entry in lines(realworld.JSON_LINES_LOG)] == [
        True,
        True,
        False,
    ]


def test_every_file_and_its_encodings(tmp_path: Path) -> None:
    written = realworld.write_all(tmp_path)
    for name, path in written.items():
        body = path.read_bytes()
        if decoding.is_gzip(body):
            original = (realworld.REALWORLD / name.removesuffix(".gz")).read_bytes()
            assert b"".join(decoding.gunzip([body], len(original))) == original
            continue
        encoding = decoding.sniff_encoding(body[: decoding.SNIFF_BYTES])
        text = body.decode(encoding).lstrip("\ufeff")
        if name.startswith("datasets-"):
            assert json.loads(text) == load(realworld.MAP_OF_RECORDS)
        else:
            assert encoding == "utf-8"
    assert decoding.sniff_encoding(written["datasets-utf16le.json"].read_bytes()) == "utf-16-le"
    assert decoding.sniff_encoding(written["datasets-utf16be-nobom.json"].read_bytes()) == "utf-16-be"
    assert written["datasets-windows.json"].read_bytes().startswith(b"\xef\xbb\xbf{\r\n")
