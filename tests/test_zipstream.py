"""The zip writer: what it writes is read back whole by Python's zipfile and Info-ZIP's unzip, also
once ZIP64 is needed (reached here with small limits instead of 4 GiB of data)."""

import io
import random
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from service.export.zipstream import Spool, ZipWriter


class OnlyWrites:
    """A sink that cannot seek or tell, like an HTTP response."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        self._buffer.write(data)

    def getvalue(self) -> bytes:
        return self._buffer.getvalue()


def noise(size: int, seed: int) -> bytes:
    """Bytes that deflate hardly shrinks, so compressed sizes pass a limit as the plain ones do."""
    return random.Random(seed).randbytes(size)


def archive_of_every_kind(sink: OnlyWrites, **limits: int) -> dict[str, bytes]:
    """One whole, one streamed and one spooled entry (spooled while the streamed one was written)."""
    contents = {
        "whole.xml": b"<a>" * 2000,
        "streamed.xml": noise(6000, 1),
        "spooled/sheet.xml": noise(5000, 2),
    }
    archive = ZipWriter(sink, **limits)
    archive.add("whole.xml", contents["whole.xml"])
    with Spool("spooled/sheet.xml") as spool:
        streamed = archive.stream("streamed.xml")
        for start in range(0, 6000, 1000):
            streamed.write(contents["streamed.xml"][start : start + 1000])
            spool.write(contents["spooled/sheet.xml"][start : start + 1000])
        streamed.finish()
        spool.finish()
        archive.append(spool)
    archive.close()
    return contents


def read_back(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None  # every CRC checks out
        return {name: archive.read(name) for name in archive.namelist()}


def unzip_test(data: bytes, tmp_path: Path) -> None:
    if shutil.which("unzip") is None:
        pytest.skip("Info-ZIP unzip is not installed")
    path = tmp_path / "archive.zip"
    path.write_bytes(data)
    result = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_whole_streamed_and_spooled_entries_read_back_exactly(tmp_path: Path) -> None:
    sink = OnlyWrites()
    contents = archive_of_every_kind(sink)
    assert read_back(sink.getvalue()) == contents
    unzip_test(sink.getvalue(), tmp_path)
    assert b"PK\x06\x06" not in sink.getvalue()  # small archives stay plain zip


def test_entries_past_the_size_limit_get_zip64_sizes_and_still_read_back(tmp_path: Path) -> None:
    sink = OnlyWrites()
    contents = archive_of_every_kind(sink, zip64_limit=4000)
    data = sink.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        big = [info.filename for info in archive.infolist() if info.file_size > 4000]
        assert sorted(big) == ["spooled/sheet.xml", "streamed.xml", "whole.xml"]
    assert read_back(data) == contents
    assert b"PK\x06\x06" in data  # the directory starts past the limit, so the ZIP64 end record is there
    unzip_test(data, tmp_path)


def test_more_entries_than_the_count_limit_get_the_zip64_end_records(tmp_path: Path) -> None:
    sink = OnlyWrites()
    archive = ZipWriter(sink, entry_limit=10)
    contents = {f"part{number}.xml": f"<p>{number}</p>".encode() for number in range(25)}
    for name, data in contents.items():
        archive.add(name, data)
    archive.close()
    assert read_back(sink.getvalue()) == contents
    assert b"PK\x06\x06" in sink.getvalue()
    unzip_test(sink.getvalue(), tmp_path)


def test_a_second_entry_cannot_start_while_one_is_streaming() -> None:
    archive = ZipWriter(OnlyWrites())
    archive.stream("first.xml")
    with pytest.raises(RuntimeError, match="still being streamed"):
        archive.stream("second.xml")
    with pytest.raises(RuntimeError, match="still being streamed"):
        archive.close()


def test_non_ascii_names_are_marked_utf8() -> None:
    sink = OnlyWrites()
    archive = ZipWriter(sink)
    archive.add("données/été.xml", b"<x/>")
    archive.close()
    assert read_back(sink.getvalue()) == {"données/été.xml": b"<x/>"}
