"""The datasets API over HTTP: the only module that uses requests.

Every failure leaves this module as an :class:`ApiError` (the API answered no) or a
:class:`TransportError` (no usable answer), so callers never see a requests exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError

from dsclient import __version__

Dataset = dict[str, Any]

# Connect fast or not at all; but an export or a 1 GiB upload may keep the server busy for a while.
TIMEOUT = (10, 300)
CHUNK_SIZE = 64 * 1024
JSON_LINES = "application/x-ndjson"
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


class ApiError(Exception):
    """The API answered with an error status; ``message`` is its ``{"message": ...}`` text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TransportError(Exception):
    """No usable answer: the connection failed, broke, timed out, or the answer was not the API's."""


class Unreachable(TransportError):
    """Nothing answered at the API's address (refused, unknown host, connect timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason


class Download:
    """An answer whose body is read piece by piece, so a large file never sits in memory.

    ``size`` is None for a body sent in chunks (a first export streams as it is made)."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        length = response.headers.get("Content-Length")
        self.size: int | None = int(length) if length and length.isdigit() else None
        self.filename: str | None = content_disposition_filename(
            response.headers.get("Content-Disposition", "")
        )

    def chunks(self) -> Iterator[bytes]:
        """The body's bytes; TransportError if the connection breaks or the body ends early."""
        received = 0
        try:
            for chunk in self._response.iter_content(CHUNK_SIZE):
                received += len(chunk)
                yield chunk
        except requests.RequestException as exc:
            raise TransportError(
                f"the download from {self._response.url} broke off after {received} bytes: {_reason(exc)}"
            ) from exc
        # Older urllib3 versions end a short body quietly. Decoded bytes (a Content-Encoding)
        # are not counted in Content-Length's terms, so only a plain body is checked.
        encoding = self._response.headers.get("Content-Encoding", "identity")
        if self.size is not None and received < self.size and encoding == "identity":
            raise TransportError(
                f"the download from {self._response.url} broke off after {received} of {self.size} bytes"
            )


class DatasetsApi:
    """A small client for ``/datasets``; one session, so pages and files reuse the connection."""

    page_size = 1000  # the API's maximum: fewest round trips when following every page

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"dsclient/{__version__}"
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def iter_datasets(self) -> Iterator[Dataset]:
        """Every dataset, oldest first, following ``next_cursor`` across pages."""
        params: dict[str, str | int] = {"limit": self.page_size}
        while True:
            page = _json(self._request("GET", "/datasets/", params=params))
            yield from page["items"]
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def info(self, dataset_id: str) -> Dataset:
        return _json(self._request("GET", f"/datasets/{_segment(dataset_id)}/"))

    def upload(self, path: Path, on_progress: Callable[[int], object] | None = None) -> Dataset:
        """Send the file as the raw request body, read from disk as it goes out, typed by its name."""
        with path.open("rb") as file:
            body = _ProgressReader(file, path.stat().st_size, on_progress)
            response = self._request(
                "POST",
                "/datasets/",
                params={"filename": path.name},
                data=body,
                headers=upload_headers(path.name),
            )
        return _json(response)

    def tables(self, dataset_id: str, root: str | None = None) -> dict[str, Any]:
        """The API's ``{"tables": [...]}``: the tables an export of the dataset (or of the value
        ``root`` points at) makes."""
        params = {} if root is None else {"root": root}
        return _json(self._request("GET", f"/datasets/{_segment(dataset_id)}/tables/", params=params))

    def delete(self, dataset_id: str) -> None:
        self._request("DELETE", f"/datasets/{_segment(dataset_id)}/")

    def excel(self, dataset_id: str, root: str | None = None) -> AbstractContextManager[Download]:
        return self._download(f"/datasets/{_segment(dataset_id)}/excel/", root=root)

    def csv(
        self, dataset_id: str, table: str | None = None, root: str | None = None
    ) -> AbstractContextManager[Download]:
        return self._download(f"/datasets/{_segment(dataset_id)}/csv/", table=table, root=root)

    def content(self, dataset_id: str) -> AbstractContextManager[Download]:
        return self._download(f"/datasets/{_segment(dataset_id)}/content/")

    @contextmanager
    def _download(self, path: str, **params: str | None) -> Iterator[Download]:
        given = {name: value for name, value in params.items() if value is not None}
        response = self._request("GET", path, params=given, stream=True)
        try:
            yield Download(response)
        finally:
            response.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        try:
            response = self._session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            # urllib3's ConnectTimeoutError is also the base of its refused and unknown-host errors.
            if any(isinstance(link, ConnectTimeoutError) for link in _chain(exc)):
                raise Unreachable(self.base_url, _reason(exc)) from exc
            raise TransportError(f"{method} {url}: {_reason(exc)}") from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _error_message(response))
        return response


class _ProgressReader:
    """A read-only file that reports each read.

    requests sends an object with ``read`` and a length as a streamed body with a
    Content-Length, so the file goes out block by block instead of being loaded whole.
    """

    def __init__(self, file: IO[bytes], size: int, on_read: Callable[[int], object] | None) -> None:
        self._file = file
        self._size = size
        self._on_read = on_read

    def __len__(self) -> int:
        return self._size

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        if self._on_read is not None:
            self._on_read(len(data))
        return data


def upload_headers(filename: str) -> dict[str, str]:
    """How the API is told what a file holds: JSON Lines by ``.jsonl``/``.ndjson``, gzip by ``.gz``
    (``data.jsonl.gz`` is gzipped JSON Lines). Anything else is sent as JSON."""
    headers = {}
    name = filename.lower()
    if name.endswith(".gz"):
        headers["Content-Encoding"] = "gzip"
        name = name.removesuffix(".gz")
    headers["Content-Type"] = JSON_LINES if name.endswith(JSON_LINES_SUFFIXES) else "application/json"
    return headers


def content_disposition_filename(header: str) -> str | None:
    """The file name a Content-Disposition header suggests, preferring RFC 6266's ``filename*``."""
    if not header:
        return None
    message = Message()
    message["Content-Disposition"] = header
    names = [value for key, value in message.get_params(header="content-disposition") if key == "filename"]
    # The email parser turns ``filename*=UTF-8''...`` into a (charset, language, text) tuple.
    extended = [collapse_rfc2231_value(value) for value in names if isinstance(value, tuple)]
    plain = [value for value in names if isinstance(value, str)]
    return (extended or plain or [None])[0]


def _segment(value: str) -> str:
    # Encode dots too: requests would resolve an id of "." or ".." as a path step.
    return quote(value, safe="").replace(".", "%2E")


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise TransportError(f"{response.url} answered with something that is not JSON") from exc


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return f"{response.status_code} {response.reason or 'error'} from {response.url}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it, outermost first (urllib3 nests causes in ``reason``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = getattr(current, "reason", None)
        current = nested if isinstance(nested, BaseException) else (current.__cause__ or current.__context__)


def _reason(exc: BaseException) -> str:
    """The innermost reason, e.g. "Connection refused", rather than urllib3's long wrapping."""
    *_, innermost = _chain(exc)
    if isinstance(innermost, OSError) and innermost.strerror:
        return innermost.strerror
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return str(innermost) or type(innermost).__name__
