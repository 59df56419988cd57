"""Domain errors raised below the HTTP layer.

Each carries the HTTP status it maps to; the API turns any of them into
``{"message": ...}`` with that status in one place (``service.api``).
"""


class DatasetError(Exception):
    """Base of every error a client can be told about."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(DatasetError):
    status = 400


class InvalidJSON(DatasetError):
    """Not valid JSON (or JSON Lines); where known, ``offset`` is the byte the parser stopped at,
    ``line`` its line (from 1) and ``reason`` the parser's words, for a caller that re-frames it."""

    status = 400

    def __init__(
        self, message: str, *, offset: int | None = None, line: int | None = None, reason: str = ""
    ) -> None:
        super().__init__(message)
        self.offset, self.line, self.reason = offset, line, reason
        self.column, self.what = 0, "JSON"

    @classmethod
    def at(cls, what: str, line: int, column: int, offset: int, reason: str) -> "InvalidJSON":
        """The refusal of byte ``offset``, at ``line`` and ``column``, of something that is not ``what``."""
        refusal = cls(
            f"Invalid {what} at line {line}, column {column} (byte {offset}): {reason}.",
            offset=offset,
            line=line,
            reason=reason,
        )
        refusal.column, refusal.what = column, what
        return refusal

    def after(self, skipped: int) -> "InvalidJSON":
        """The same refusal where ``skipped`` bytes came before the text (a byte-order mark, which
        the stored bytes keep): the byte counts them, line 1's columns do not, as an editor shows it."""
        if self.offset is None or self.line is None or not skipped:
            return self
        return InvalidJSON.at(self.what, self.line, self.column, self.offset + skipped, self.reason)


class Unauthorized(DatasetError):
    status = 401


class DatasetNotFound(DatasetError):
    status = 404

    def __init__(self, dataset_id: str) -> None:
        super().__init__(f"No dataset with id {dataset_id!r}.")


class TableNotFound(DatasetError):
    """The dataset makes no table of that name."""

    status = 404


class PayloadTooLarge(DatasetError):
    status = 413


class UnsupportedMediaType(DatasetError):
    status = 415


class NotTabular(DatasetError):
    """The data cannot become a spreadsheet (for example, too many columns)."""

    status = 422


class StorageUnavailable(DatasetError):
    status = 503


class StorageMisconfigured(DatasetError):
    """S3 refuses in a way no retry heals (credentials, permissions, the bucket): the operator's
    to fix, so a 500-class answer that names S3's error code rather than "try again"."""

    status = 500
