"""The disk cache of exports: whole entries only, bounded, and never a request's failure."""

import os
import time

from service.disk_cache import DiskCache

ETAG = '"9d301eee5bec682290bd24c36770614e-4"'


def keep(cache: DiskCache, dataset_id: str, name: str, body: bytes) -> None:
    entry = cache.entry(dataset_id, ETAG, name, len(body))
    assert entry is not None
    entry.write(body)
    entry.close()


def test_a_whole_entry_is_kept_under_its_etag(tmp_path):
    cache = DiskCache(tmp_path, 10_000)
    keep(cache, "D1", "root-ab/workbook.xlsx", b"x" * 100)
    with cache.open("D1", ETAG, "root-ab/workbook.xlsx") as file:
        assert file.read() == b"x" * 100
    assert cache.open("D1", '"another-etag"', "root-ab/workbook.xlsx") is None
    assert cache.open("D1", ETAG, "workbook.xlsx") is None


def test_an_entry_cut_short_leaves_nothing(tmp_path):
    cache = DiskCache(tmp_path, 10_000)
    entry = cache.entry("D1", ETAG, "workbook.xlsx", 100)
    entry.write(b"x" * 60)  # the client went away, or S3 failed, before the end
    entry.close()
    assert cache.open("D1", ETAG, "workbook.xlsx") is None
    assert list(tmp_path.rglob("*")) == [tmp_path / "D1"]


def test_the_entries_used_least_recently_go_first(tmp_path):
    cache = DiskCache(tmp_path, 1000)
    for number in range(3):
        keep(cache, f"D{number}", "workbook.xlsx", b"x" * 200)
        past = time.time() - 100 + number  # written one after the other, a while ago
        os.utime(next((tmp_path / f"D{number}").iterdir()), (past, past))
    cache.open("D0", ETAG, "workbook.xlsx").close()  # used again: now the most recent
    keep(cache, "D3", "workbook.xlsx", b"x" * 250)
    keep(cache, "D4", "workbook.xlsx", b"x" * 250)
    kept = sorted(path.parent.name for path in tmp_path.glob("*/*"))
    assert kept == ["D0", "D2", "D3", "D4"]  # 1,100 bytes were over 1,000: D1, the oldest, went
    assert cache.entry("D5", ETAG, "workbook.xlsx", 251) is None  # over a quarter of the cache


def test_forgetting_a_dataset_removes_its_entries(tmp_path):
    cache = DiskCache(tmp_path, 10_000)
    keep(cache, "D1", "workbook.xlsx", b"a")
    keep(cache, "D1", "table-data.csv", b"b")
    keep(cache, "D2", "workbook.xlsx", b"c")
    cache.forget("D1")
    assert cache.open("D1", ETAG, "table-data.csv") is None
    assert cache.open("D2", ETAG, "workbook.xlsx").read() == b"c"


def test_a_disk_that_cannot_be_written_is_a_miss_not_an_error(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    cache = DiskCache(blocked, 10_000)
    assert cache.entry("D1", ETAG, "workbook.xlsx", 10) is None
    assert cache.open("D1", ETAG, "workbook.xlsx") is None
    assert "not usable" in caplog.text
