"""A stored object relayed a few chunks ahead of the client: all of it in order, its failures passed
on, at most ``depth`` chunks held, and the source closed whichever way the response ends."""

import threading
import time

import pytest

from service import relay
from service.errors import StorageUnavailable


class Source:
    """Chunks as a stored object gives them (a generator, closed when given up), counting reads."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.read = 0
        self.closed = threading.Event()

    def chunks(self):
        try:
            for number in range(self.count):
                if number == self.fail_at:
                    raise StorageUnavailable("S3 went away")
                self.read += 1
                yield b"%d;" % number
        finally:
            self.closed.set()


def test_every_chunk_arrives_in_order_and_the_source_is_closed():
    source = Source(50)
    body = relay.read_ahead(source.chunks(), "test")
    assert b"".join(body) == b"".join(b"%d;" % n for n in range(50))
    body.close()
    assert source.closed.is_set()


def test_a_failure_before_the_first_chunk_is_raised_before_the_response_begins():
    source = Source(5, fail_at=0)
    with pytest.raises(StorageUnavailable):
        relay.read_ahead(source.chunks(), "test")
    assert source.closed.is_set()


def test_a_failure_half_way_cuts_the_body_after_what_was_read():
    body = relay.read_ahead(Source(10, fail_at=4).chunks(), "test")
    received = []
    with pytest.raises(StorageUnavailable):
        for chunk in body:
            received.append(chunk)
    assert received == [b"0;", b"1;", b"2;", b"3;"]
    body.close()


def test_a_client_that_goes_away_stops_the_reading_and_closes_the_source():
    source = Source(10_000)
    body = relay.read_ahead(source.chunks(), "test", depth=2)
    first = next(iter(body))
    time.sleep(0.2)  # the producer runs ahead as far as it may, then waits
    assert first == b"0;"
    assert source.read <= 4  # the one taken, two waiting, one being put
    body.close()
    assert source.closed.wait(5)
    assert source.read < 10_000
