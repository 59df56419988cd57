"""Every error leaves the API as ``{"message": ...}`` with its status: never HTML, never a traceback."""

import logging
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request
from flask_restx import Api, Model, Namespace, fields
from werkzeug.exceptions import (
    ClientDisconnected,
    HTTPException,
    InternalServerError,
    NotFound,
    RequestEntityTooLarge,
)

from ..errors import DatasetError, Unauthorized

error_model = Model(
    "Error", {"message": fields.String(required=True, description="What went wrong, for a person")}
)

ERROR_DESCRIPTIONS = {
    400: "Bad request (the message says what)",
    401: "A valid bearer token is required (when API_TOKENS is set)",
    404: "No such dataset",
    408: "The client stopped sending for UPLOAD_IDLE_TIMEOUT seconds",
    413: "Upload larger than MAX_UPLOAD_BYTES",
    415: "A content type or Content-Encoding this API does not read",
    422: "The data cannot become a spreadsheet",
    503: "Storage is unreachable",
}

Method = TypeVar("Method", bound=Callable)


def documented_errors(ns: Namespace, *codes: int, **descriptions: str) -> Callable[[Method], Method]:
    """Document the error responses a call can give (and 401, 503, which any can), each with the
    Error model; ``descriptions`` overrides a code's text, as ``e404="No such table"``."""

    def decorate(method: Method) -> Method:
        for code in (*codes, 401, 503):
            description = descriptions.get(f"e{code}", ERROR_DESCRIPTIONS[code])
            method = ns.response(code, description, error_model)(method)
        return method

    return decorate


def _http_error(error: HTTPException) -> tuple[dict, int, dict]:
    # Keep the error's own headers, but not its HTML content type: a 405 must still say Allow.
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    if isinstance(error, RequestEntityTooLarge):
        return {"message": _too_large_message()}, 413, headers
    if isinstance(error, ClientDisconnected):
        return (*_cut_short(error), headers)
    if isinstance(error, NotFound) and request.url_rule is None:
        # Werkzeug's words ("The requested URL was not found on the server...") name no URL; a
        # client given a wrong base address (dsclient --url .../docs) should see which one.
        path = request.path if len(request.path) <= 200 else request.path[:200] + "..."
        return {"message": f"Nothing answers at {path}; the API's calls are listed at /docs."}, 404, headers
    data = getattr(error, "data", None)
    if isinstance(data, dict) and isinstance(data.get("errors"), dict):
        # reqparse says only "Input payload validation failed" and puts what was wrong with each
        # argument beside it: the message says it, and the body is the one error shape.
        details = "; ".join(f"{name}: {text}" for name, text in data["errors"].items())
        error.data = {"message": details}  # Flask-RESTX answers with error.data as it is
        return error.data, error.code or 400, headers
    return {"message": error.description}, error.code or 500, headers


def _too_large_message() -> str:
    """Werkzeug refuses a body declared longer than MAX_CONTENT_LENGTH (the upload limit, plus room
    for a multipart envelope); api/form.py says itself when a form's parts are too large."""
    return f"The upload is larger than the limit of {current_app.config['MAX_UPLOAD_BYTES']} bytes."


def _cut_short(error: ClientDisconnected) -> tuple[dict, int]:
    """Werkzeug's answer to a body that did not arrive whole says only that the request was not
    understood; what broke is the error its stream was reading through (its context)."""
    if isinstance(error.__context__, TimeoutError):
        seconds = current_app.config["UPLOAD_IDLE_TIMEOUT"]
        return {"message": f"The client sent nothing for {seconds:g} s; the upload was abandoned."}, 408
    return {
        "message": "The body ended before it was complete: the client hung up, or a chunk of its"
        " chunked encoding was broken."
    }, 400


class _DomainErrorTracebacks(logging.Filter):
    """Drops the traceback Flask-RESTX logs for every status of 500 or more when the error is one
    of ours (a 503 for a storage outage): it is an answer, not a crash, and the storage module has
    logged its cause in one line already. Unexpected exceptions keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DatasetError))


def register(api: Api, app: Flask) -> None:
    """Map domain errors, Flask's own HTTP errors and anything unexpected to JSON."""
    api.models[error_model.name] = error_model
    app.logger.addFilter(_DomainErrorTracebacks())

    @api.errorhandler(DatasetError)
    def domain_error(error: DatasetError) -> tuple[dict, int, dict]:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else {}
        return {"message": error.message}, error.status, headers

    @api.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[dict, int, dict]:
        return _http_error(error)

    @api.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[dict, int]:
        # Flask-RESTX has already logged the traceback; the client gets none of it.
        return {"message": InternalServerError.description}, 500

    # Outside the API's own routes (unknown paths, errors before dispatch) Flask answers.
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DatasetError, domain_error)
