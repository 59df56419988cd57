"""A multipart form's file read straight from the request body, as it arrives.

Werkzeug's form parser writes each file part to a temporary file before the view sees it, so an
upload crossed the disk whole. Its streaming decoder (``werkzeug.sansio.multipart``) hands out a
part's data as it is parsed instead: the file in field ``file`` is read from it as a stream, the
other parts are skipped, and the form's end is parsed after the file, so that a second file in
that field, or a form cut short, is still refused before anything is stored.
"""

import io

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Event, Field, File, MultipartDecoder, NeedData

from ..errors import BadRequest, PayloadTooLarge

FIELD = "file"
READ_SIZE = 1024**2  # what gunicorn receives per call
NO_FILE = "No file: send the JSON as the multipart field 'file'."
# Said here rather than from the body's length, which a chunked form does not declare.
TOO_LARGE = (
    "The form has too many parts, too large a field, or part headers that never end: send the"
    " JSON as the one multipart field 'file'."
)
# curl -F 'file=<data.json' sends the file's text as a plain field, without a file name.
TEXT_NOT_FILE = (
    "No file: the form's field 'file' holds text, not a file. Send the JSON as a file in it"
    " (with curl: -F 'file=@data.json')."
)


class FormFile(io.RawIOBase):
    """The file in the multipart form's field ``file``: its ``filename`` and ``mimetype`` (from
    the part's headers), and its bytes through ``read``. BadRequest for a form without such a
    file, with more than one, or that cannot be read (it says why)."""

    def __init__(
        self, body: io.RawIOBase, boundary: str | None, max_parts: int | None, max_field: int | None
    ) -> None:
        """``max_parts`` and ``max_field`` (bytes of a plain field, or of a part's headers or the
        form's preamble): Werkzeug's form limits, past which the answer is 413 (PayloadTooLarge)."""
        super().__init__()
        if not boundary:
            raise unreadable("its Content-Type has no boundary parameter")
        try:
            delimiter = boundary.encode("ascii")  # RFC 2046's boundary characters are ASCII
        except UnicodeEncodeError:
            raise unreadable("its boundary is not ASCII") from None
        self._body = body
        self._decoder = MultipartDecoder(delimiter, max_parts=max_parts)
        self._max_field = max_field
        # What the decoder may hold at once: one read of the body, and headers (or a preamble) up
        # to a plain field's limit. The decoder keeps everything until a part's headers end.
        self._max_held = READ_SIZE + (max_field if max_field is not None else READ_SIZE)
        self._events = self._parsed()
        self._ended = False
        self._text_in_field = False  # a plain field named ``file`` was seen
        part = self._next_file()
        if part is None:
            raise BadRequest(TEXT_NOT_FILE if self._text_in_field else NO_FILE)
        self.filename: str = part.filename
        content_type = part.headers.get("Content-Type")
        self.mimetype: str | None = parse_options_header(content_type)[0].lower() if content_type else None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """The file's next bytes as the decoder gives them (at most what one read of the body
        brought); b"" at its end, once the rest of the form checked out."""
        while not self._ended:
            event = next(self._events)
            if isinstance(event, Data):
                if not event.more_data:
                    self._ended = True
                    self._rest_of_form()
                if event.data:
                    return event.data
        return b""

    def _parsed(self):  # type: ignore[no-untyped-def]
        """The decoder's events, fed from the body as it needs. PayloadTooLarge once it has
        taken more than ``_max_held`` bytes without an event: a preamble or a part's headers
        that never end would be held in memory whole."""
        held = 0
        while True:
            try:
                event: Event = self._decoder.next_event()
            except ValueError as error:
                raise unreadable(fault(error)) from None
            except RequestEntityTooLarge:  # more parts than max_parts
                raise PayloadTooLarge(TOO_LARGE) from None
            if isinstance(event, NeedData):
                if held > self._max_held:
                    raise PayloadTooLarge(TOO_LARGE)
                data = self._body.read(READ_SIZE)
                held += len(data)
                self._decoder.receive_data(data or None)
                continue
            held = 0
            yield event
            if isinstance(event, Epilogue):
                return

    def _next_file(self) -> File | None:
        """Skip to the next file in field ``file``: None at the form's end."""
        field = None  # the bytes of the plain field being skipped, if it is one
        for event in self._events:
            if isinstance(event, File) and event.name == FIELD:
                return event
            if isinstance(event, Field) and event.name == FIELD:
                self._text_in_field = True
            if isinstance(event, (Field, File)):
                field = 0 if isinstance(event, Field) else None
            elif isinstance(event, Data) and field is not None:
                field += len(event.data)
                if self._max_field is not None and field > self._max_field:
                    raise PayloadTooLarge(TOO_LARGE)
        return None

    def _rest_of_form(self) -> None:
        """Parse the form to its end: one file in field ``file`` is all it may hold."""
        files = 1
        while self._next_file() is not None:
            files += 1
        if files > 1:
            # Storing the first would drop the others without a word.
            raise BadRequest(f"The form has {files} files in the field 'file': send one file per upload.")


def unreadable(why: str) -> BadRequest:
    return BadRequest(
        f"The multipart form cannot be read: {why}. Send the JSON as the multipart field 'file'."
    )


def fault(error: ValueError) -> str:
    """What was wrong with a form Werkzeug's decoder refused, for a person."""
    if "Content-Disposition" in str(error):
        return "a part has no Content-Disposition header, which names its field"
    if isinstance(error, UnicodeDecodeError):
        return "the headers of a part (its file name, say) are not UTF-8"
    return "it is cut short before its closing boundary, or is not a multipart form at all"
