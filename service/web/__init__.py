"""The web page at ``/``: upload, browse, preview, download and delete datasets in a browser.

Rendered by the server first (the upload form, and the first page of datasets when the API is
open), then enhanced by plain JavaScript modules under ``static/`` that speak only the public API,
as any other client does. No CDN, no build step, no framework.
"""

from flask import Blueprint, Flask, Response, current_app, render_template, request

from ..api.datasets import DEFAULT_LIMIT, cursor
from ..errors import DatasetError
from ..storage import get_storage

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets"
)

# Only the page's own files may load, nothing inline, and nothing may frame it.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


@bp.route("/")
def index() -> str:
    """The page. With the API open, what it shows is in the HTML already: a page of datasets, and
    the one named by ``?dataset=``; with tokens, the script fetches it once it has one."""
    listing = shown = None
    if not current_app.config["API_TOKENS"]:
        listing = _listing(request.args.get("cursor"))
        if "dataset" in request.args:
            shown = _dataset(request.args["dataset"])
    root = request.args.get("root", "")
    return render_template("page.html", listing=listing, shown=shown, root=root, page_size=DEFAULT_LIMIT)


def _listing(after: str | None) -> dict:
    """A page of datasets after ``after``, or the error that stopped it, as the API says it."""
    try:
        start = cursor(after) if after else None
        items, next_cursor = get_storage().list(DEFAULT_LIMIT, start)
    except ValueError as error:
        return {"items": [], "next_cursor": None, "error": f"cursor: {error}"}
    except DatasetError as error:
        return {"items": [], "next_cursor": None, "error": error.message}
    return {"items": items, "next_cursor": next_cursor, "error": None}


def _dataset(dataset_id: str) -> dict:
    """The dataset a link to the page names, or the API's message for why it cannot be shown."""
    try:
        return {"dataset": get_storage().get(dataset_id), "error": None}
    except DatasetError as error:
        return {"dataset": None, "error": error.message}


@bp.after_request
def secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.app_template_filter("size")
def size(value: int) -> str:
    """53143 -> "51.9 KiB", as the page's script and dsclient write sizes."""
    amount, unit = float(value), 0
    while amount >= 1024 and unit < len(SIZE_UNITS) - 1:
        amount, unit = amount / 1024, unit + 1
    return f"{value} B" if unit == 0 else f"{amount:.1f} {SIZE_UNITS[unit]}"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
