"""Response bodies made by a thread of their own: chunks handed from a producing thread to the WSGI
server's, at most a few waiting, so that producing overlaps sending and memory stays flat.

Two producers use it: a file being made (``exports``: a writer whose bytes also go to the cache) and a
stored object being relayed (``read_ahead``: while one chunk goes to the client, the next already comes
from S3; read and sent one after the other in one thread, each would wait for the other).
"""

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator

DEPTH = 16
"""Chunks waiting for a slow client, at most, unless a producer says otherwise; then it waits."""


class Cancelled(Exception):
    """Raised into the producer when the client has gone: it stops, and cleans up."""


class Relay:
    """Chunks from the producer's thread to the response, at most ``depth`` waiting; and back from
    the response, that the client has gone (``cancel``)."""

    def __init__(self, depth: int = DEPTH) -> None:
        self._depth = depth
        self._chunks: deque[bytes] = deque()
        self._changed = threading.Condition()
        self._ended = False
        self._error: BaseException | None = None
        self._cancelled = False

    def put(self, chunk: bytes) -> None:
        """The producer's side: waits while the client is behind; Cancelled once it has gone."""
        with self._changed:
            while len(self._chunks) >= self._depth and not self._cancelled:
                self._changed.wait()
            if self._cancelled:
                raise Cancelled
            self._chunks.append(chunk)
            self._changed.notify_all()

    def end(self, error: BaseException | None = None) -> None:
        """The producer's side: all is sent (no ``error``), or never will be."""
        with self._changed:
            self._ended, self._error = True, error
            self._changed.notify_all()

    def cancel(self) -> None:
        """The response's side: nobody will read what is left."""
        with self._changed:
            self._cancelled = True
            self._chunks.clear()
            self._changed.notify_all()

    def next(self) -> bytes | None:
        """The response's side: the next chunk, None at the end, or the producer's error."""
        with self._changed:
            while not self._chunks and not self._ended:
                self._changed.wait()
            if self._chunks:
                chunk = self._chunks.popleft()
                self._changed.notify_all()
                return chunk
            if self._error is not None:
                raise self._error
            return None


class Produced:
    """A response body that ``produce(relay)`` makes in a thread of its own, started at once. The
    first chunk is awaited here, before the response begins, so a failure before any byte is still
    an error the API can answer (a JSON error). ``produce`` must end the relay, with its error if it
    fails. Closing the body, which the WSGI server does also when the client has gone, cancels the
    producer and waits until it has cleaned up."""

    def __init__(self, produce: Callable[[Relay], None], name: str, depth: int = DEPTH) -> None:
        self._relay = Relay(depth)
        self._thread = threading.Thread(target=produce, args=(self._relay,), name=name, daemon=True)
        self._thread.start()
        try:
            self._first = self._relay.next()
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator[bytes]:
        chunk = self._first
        while chunk is not None:
            yield chunk
            chunk = self._relay.next()

    def close(self) -> None:
        self._relay.cancel()
        self._thread.join()


def read_ahead(chunks: Generator[bytes, None, None], name: str, depth: int = 2) -> Produced:
    """``chunks`` (a stored object's) as a response body read ``depth`` chunks ahead of the client;
    closed at the end, which closes the object."""

    def produce(relay: Relay) -> None:
        error: BaseException | None = None
        try:
            for chunk in chunks:
                relay.put(chunk)
        except Cancelled:
            pass
        except BaseException as failure:
            error = failure
        finally:
            chunks.close()
        relay.end(error)

    return Produced(produce, name, depth)
