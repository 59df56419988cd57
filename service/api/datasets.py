"""The /datasets namespace: upload, list, look up, delete, export and download."""

import unicodedata
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from urllib.parse import quote

from flask import Response, current_app, request, url_for
from flask_restx import Namespace, Resource, fields, reqparse
from werkzeug.datastructures import FileStorage, Headers
from werkzeug.wsgi import wrap_file

from .. import exports, ids, relay, upload
from ..errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from ..export.model import MAIN_TABLE
from ..storage import CONTENT_TYPES, FORMATS, get_storage
from . import body, form
from .auth import require_token
from .errors import documented_errors

ns = Namespace("datasets", description="JSON datasets and their Excel exports", decorators=[require_token])

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
RAW_TYPES = frozenset({"application/json", *upload.JSON_LINES_TYPES})


class NullableString(fields.String):
    """A string that may be null (Swagger 2.0 says so with x-nullable)."""

    def schema(self) -> dict:
        return {**super().schema(), "x-nullable": True}


dataset_model = ns.model(
    "Dataset",
    {
        "id": fields.String(
            required=True, description="URL-safe, sorts by creation time", example=ids.new_id()
        ),
        "filename": fields.String(required=True, description="As uploaded, path parts stripped"),
        "size": fields.Integer(required=True, description="Bytes stored", min=0),
        "created_at": fields.DateTime(required=True, dt_format="iso8601", description="UTC"),
        "format": fields.String(
            required=True, enum=list(FORMATS), description="json: one JSON text; jsonl: JSON Lines"
        ),
    },
)
page_model = ns.model(
    "DatasetPage",
    {
        "items": fields.List(fields.Nested(dataset_model), required=True, description="Oldest first"),
        "next_cursor": NullableString(required=True, description="Pass as ?cursor= for the next page"),
    },
)


class File(fields.Raw):
    """A response body that is a file, not JSON (Swagger 2.0's ``type: file``)."""

    __schema_type__ = "file"


DOWNLOAD = File()


def limit(value: str) -> int:
    """A page size from 1 to MAX_LIMIT."""
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise ValueError(f"must be a whole number from 1 to {MAX_LIMIT}, not {value[:40]!r}.")
    return int(value)


def cursor(value: str) -> str:
    """A ``next_cursor`` this API gave out (it is a dataset id)."""
    if not ids.is_valid(value):
        raise ValueError("must be the next_cursor of a page this API gave out.")
    return value


# Published, so a client (or a fuzzer) can tell a well-formed value from one that is a 400.
limit.__schema__ = {  # type: ignore[attr-defined]
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_LIMIT,
    "description": f"Datasets per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
}
cursor.__schema__ = {  # type: ignore[attr-defined]
    "type": "string",
    "pattern": f"^{ids.PATTERN}$",
    "description": "The next_cursor of the previous page",
}

# No help= on these: Flask-RESTX would prefix it to every error message; the schema says it.
list_arguments = reqparse.RequestParser()
list_arguments.add_argument("limit", type=limit, default=DEFAULT_LIMIT, location="args")
list_arguments.add_argument("cursor", type=cursor, location="args")

upload_arguments = reqparse.RequestParser()
upload_arguments.add_argument("file", location="files", type=FileStorage, required=True, help="A JSON file")


def _documented_errors(*codes: int):
    """Document the error responses a call can give, each with the Error model."""
    return documented_errors(ns, *codes)


@ns.route("/")
class DatasetList(Resource):
    @ns.expect(list_arguments)
    @ns.marshal_with(page_model)
    @_documented_errors(400)
    def get(self) -> dict:
        """List datasets, oldest first, a page at a time."""
        arguments = list_arguments.parse_args()
        items, next_cursor = get_storage().list(arguments["limit"], arguments["cursor"])
        return {"items": items, "next_cursor": next_cursor}

    # No `filename` parameter here: it names a raw-body upload, which Swagger UI cannot send
    # (OpenAPI 2.0 allows a form or a body per operation, not both); the description has it.
    @ns.doc(
        description="Send the file as the multipart field `file`, or the raw JSON as the body with "
        "`Content-Type: application/json` and its name in `?filename=` (default dataset.json). "
        "JSON Lines: a file named `*.jsonl`/`*.ndjson`, `Content-Type: application/x-ndjson`, or "
        "detected. gzip: `Content-Encoding: gzip` on a raw body, or any gzip file; the limit is on "
        "the decompressed size. A UTF-8 byte-order mark is accepted; UTF-16 and UTF-32 are not.",
    )
    @ns.expect(upload_arguments)
    @ns.response(201, "Stored", dataset_model, headers={"Location": "The new dataset's URL"})
    @_documented_errors(400, 408, 413, 415)
    def post(self) -> tuple[dict, int, dict]:
        """Upload a JSON or JSON Lines dataset."""
        _bound_idle_time(current_app.config["UPLOAD_IDLE_TIMEOUT"])
        sent = _upload_source()
        dataset = upload.store(get_storage(), sent, current_app.config["MAX_UPLOAD_BYTES"])
        location = url_for("datasets_dataset", dataset_id=dataset.id)
        return ns.marshal(dataset, dataset_model), 201, {"Location": location}


def _bound_idle_time(seconds: float) -> None:
    """Make each read of the body (and write of the answer) wait at most ``seconds``: a client that
    stops sending would otherwise hold a server thread for ever. gunicorn has no such setting, but
    hands the WSGI app its socket; it makes the socket blocking again for the next request. The
    timeout surfaces as Werkzeug's ClientDisconnected, which ``errors`` answers with 408."""
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(seconds)


def _upload_source() -> upload.Upload:
    """The upload as the request gives it: a multipart form's file or a raw body."""
    mimetype = request.mimetype
    encoding = request.headers.get("Content-Encoding")
    if mimetype == "multipart/form-data":
        if encoding and encoding.strip().lower() != "identity":
            raise UnsupportedMediaType(
                f"Content-Encoding {encoding!r} on a multipart form is not read: send the .gz file"
                " itself as the multipart field 'file', or the gzip as a raw body."
            )
        boundary = request.mimetype_params.get("boundary")
        sent = form.FormFile(
            body.RequestBody(request.stream), boundary, request.max_form_parts, request.max_form_memory_size
        )
        return upload.Upload(sent, upload.clean_filename(sent.filename), None, sent.mimetype)
    if mimetype in RAW_TYPES or mimetype.endswith("+json"):
        # Werkzeug's own check allows room for a multipart envelope; a raw body has none. (A gzip
        # body's limit is on what it inflates to, so it is counted as it is read.)
        limit = current_app.config["MAX_UPLOAD_BYTES"]
        if (request.content_length or 0) > limit and not encoding:
            raise PayloadTooLarge(f"The upload is larger than the limit of {limit} bytes.")
        filename = upload.clean_filename(request.args.get("filename"))
        stream = body.RequestBody(request.stream)
        return upload.Upload(stream, filename, request.content_length, mimetype, encoding)
    if not mimetype:
        if not request.content_length and "Transfer-Encoding" not in request.headers:
            raise BadRequest(
                "No file: send a multipart field 'file' or a body with Content-Type: application/json."
            )
        raise UnsupportedMediaType(
            "The request has a body but no content type: send it with Content-Type: application/json"
            " (application/x-ndjson for JSON Lines), or as the multipart field 'file'."
        )
    raise UnsupportedMediaType(
        f"Unsupported content type {mimetype!r}: use multipart/form-data, application/json"
        " or (JSON Lines) application/x-ndjson."
    )


@ns.route("/<string:dataset_id>/")
@ns.param("dataset_id", "The dataset's id")
class Dataset(Resource):
    @ns.marshal_with(dataset_model)
    @_documented_errors(404)
    def get(self, dataset_id: str):
        """A dataset's details."""
        return get_storage().get(dataset_id)

    @ns.response(204, "Deleted, with its cached export")
    @_documented_errors(404)
    def delete(self, dataset_id: str) -> tuple[str, int]:
        """Delete a dataset."""
        get_storage().delete(dataset_id)
        return "", 204


def flag(value: str) -> bool:
    """``true`` or ``false`` (also ``1`` and ``0``, any case)."""
    choices = {"true": True, "1": True, "false": False, "0": False}
    if value.lower() not in choices:
        raise ValueError(f"must be true or false, not {value[:40]!r}.")
    return choices[value.lower()]


ROOT_PARAM = {
    "root": {
        "in": "query",
        "type": "string",
        "pattern": "^(/([^~]|~[01])*)*$",  # RFC 6901: empty, or "/" tokens with ~0 and ~1 escapes
        "description": "A JSON Pointer (RFC 6901) to the value whose records to export, e.g. /results "
        "(JSON datasets only; default: the whole document)",
    }
}


CSV_PARAMS = {
    **ROOT_PARAM,
    "table": {
        "in": "query",
        "type": "string",
        "description": f"A table's name, as GET /datasets/<id>/tables/ lists them (default {MAIN_TABLE})",
    },
    "excel": {
        "in": "query",
        "type": "boolean",
        "description": "For a spreadsheet program: a byte-order mark, and a ' before text that starts "
        "with = + - @ tab or CR (default false: exact fields, for scripts)",
    },
}

export_arguments = reqparse.RequestParser()
export_arguments.add_argument("root", type=str, default="", location="args")  # the export checks it
csv_arguments = export_arguments.copy()
csv_arguments.add_argument("table", type=str, default=MAIN_TABLE, location="args")
csv_arguments.add_argument("excel", type=flag, default=False, location="args")


@ns.route("/<string:dataset_id>/excel/")
@ns.param("dataset_id", "The dataset's id")
class DatasetExcel(Resource):
    # JSON first: Swagger UI renders a response example as XML for any type with "xml" in its
    # name, as the xlsx type has, and the examples here are the JSON errors.
    @ns.doc(params=ROOT_PARAM)
    @ns.produces(["application/json", exports.XLSX_MIMETYPE])
    @ns.response(
        200, f"The workbook ({exports.XLSX_MIMETYPE}); chunked while a first export is made", DOWNLOAD
    )
    @_documented_errors(400, 404, 422)
    def get(self, dataset_id: str) -> Response:
        """Export a dataset as an Excel workbook."""
        return _workbook_download(exports.workbook_for, dataset_id)

    @ns.doc(params=ROOT_PARAM)
    @ns.produces(["application/json", exports.XLSX_MIMETYPE])
    @ns.response(200, "The headers the workbook would come with; Content-Length once it is cached")
    @_documented_errors(400, 404)
    def head(self, dataset_id: str) -> Response:
        """The workbook's headers, without converting anything."""
        return _workbook_download(exports.workbook_head, dataset_id)


@ns.route("/<string:dataset_id>/csv/")
@ns.param("dataset_id", "The dataset's id")
class DatasetCsv(Resource):
    @ns.doc(params=CSV_PARAMS)
    @ns.produces(["application/json", "text/csv"])
    @ns.response(200, "One table as CSV (RFC 4180, UTF-8); chunked while it is first made", DOWNLOAD)
    @_documented_errors(400, 404, 422)
    def get(self, dataset_id: str) -> Response:
        """Export one table of a dataset as CSV."""
        return _csv_download(exports.csv_for, dataset_id)

    @ns.doc(params=CSV_PARAMS)
    @ns.produces(["application/json", "text/csv"])
    @ns.response(200, "The headers the CSV would come with; Content-Length once it is cached")
    @_documented_errors(400, 404, 422)
    def head(self, dataset_id: str) -> Response:
        """The CSV's headers, without converting anything (an unknown table is still a 404)."""
        return _csv_download(exports.csv_head, dataset_id)


def _workbook_download(
    export: Callable[..., tuple[exports.Dataset, exports.Export]], dataset_id: str
) -> Response:
    """The response for ``export`` (``exports.workbook_for`` or ``workbook_head``) of the request's root."""
    root = export_arguments.parse_args()["root"]
    dataset, made = export(get_storage(), dataset_id, root)
    return _download(_body(made), made.length, exports.XLSX_MIMETYPE, _workbook_name(dataset.filename))


def _csv_download(export: Callable[..., tuple[exports.Dataset, exports.Export]], dataset_id: str) -> Response:
    """The response for ``export`` (``exports.csv_for`` or ``csv_head``) of the request's table."""
    arguments = csv_arguments.parse_args()
    table = arguments["table"]
    dataset, made = export(get_storage(), dataset_id, table, arguments["root"], arguments["excel"])
    return _download(_body(made), made.length, exports.CSV_MIMETYPE, _csv_name(dataset.filename, table))


def _body(made: exports.Export) -> Iterable[bytes]:
    """The export's chunks; a file on this host's disk goes to the WSGI server's file wrapper,
    which gunicorn sends with sendfile."""
    return made.chunks if made.file is None else wrap_file(request.environ, made.file)


def _workbook_name(filename: str) -> str:
    return PurePosixPath(filename).stem + ".xlsx"


def _csv_name(filename: str, table: str) -> str:
    """``data.json`` gives ``data.csv`` for the main table and ``data-orders.csv`` for ``orders``."""
    stem = PurePosixPath(filename).stem
    return f"{stem}.csv" if table == MAIN_TABLE else f"{stem}-{table}.csv"


@ns.route("/<string:dataset_id>/content/")
@ns.param("dataset_id", "The dataset's id")
class DatasetContent(Resource):
    @ns.produces([CONTENT_TYPES["json"], CONTENT_TYPES["jsonl"]])
    @ns.response(200, "The exact bytes uploaded")
    @_documented_errors(404)
    def get(self, dataset_id: str) -> Response:
        """Download a dataset's content as uploaded."""
        storage = get_storage()
        dataset = storage.get(dataset_id)
        content = storage.open_content(dataset_id)
        chunks = relay.read_ahead(content.chunks(), f"content {dataset_id}")
        return _download(chunks, content.length, CONTENT_TYPES[dataset.format], dataset.filename)


def _download(chunks, length: int | None, mimetype: str, download_name: str) -> Response:
    """A streamed attachment, named per RFC 6266 (an ASCII fallback plus ``filename*``); without a
    length it goes chunked."""
    names = {"filename": download_name}
    try:
        download_name.encode("ascii")
    except UnicodeEncodeError:
        fallback = unicodedata.normalize("NFKD", download_name).encode("ascii", "ignore").decode("ascii")
        suffix = PurePosixPath(download_name).suffix
        if not fallback.removesuffix(suffix).strip():  # nothing ASCII left: not ".xlsx", a hidden file
            fallback = "download" + suffix
        names = {"filename": fallback, "filename*": "UTF-8''" + quote(download_name, safe="")}
    headers = Headers() if length is None else Headers({"Content-Length": str(length)})
    headers.set("Content-Disposition", "attachment", **names)
    return Response(chunks, content_type=mimetype, headers=headers, direct_passthrough=True)
