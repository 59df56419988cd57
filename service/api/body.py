"""The request's body as the upload pipeline reads it, with the WSGI server's refusals of it as
the API's 400.

gunicorn raises its own exceptions for a chunked encoding it cannot read (a chunk size that is not
hexadecimal, a chunk without its CRLF). They are not ``OSError``, so Werkzeug's stream does not
turn them into ``ClientDisconnected``, and they reached the client as a 500. Under another server
(``flask run``, where gunicorn does not import) there is nothing to translate.
"""

import io
from typing import IO

from ..errors import BadRequest

try:
    from gunicorn.http.errors import ParseException
except ImportError:  # gunicorn is not installed, or cannot run here (Windows)
    _SERVER_REFUSALS: tuple[type[Exception], ...] = ()
else:
    _SERVER_REFUSALS = (ParseException,)

BROKEN = "The body cannot be read: its chunked encoding is broken. Send it again as it is."


class RequestBody(io.RawIOBase):
    """``stream`` (the request's), read through; BadRequest where the server refuses the body."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except _SERVER_REFUSALS:
            raise BadRequest(BROKEN) from None
