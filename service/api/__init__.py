"""The HTTP API: one Flask-RESTX Api, one namespace per module, errors mapped in one place."""

from flask import Flask
from flask_restx import Api

from . import errors
from .datasets import ns as datasets_ns
from .health import ns as health_ns
from .tables import ns as tables_ns

# OpenAPI 2.0 has no bearer scheme (3.0's `type: http`), only an API key sent as the whole
# header: Swagger UI's Authorize dialog sends what is typed there as it is, so it says what to type.
BEARER = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "Type `Bearer <token>`: the word Bearer, a space, then one of the server's "
    "API_TOKENS (for example `Bearer s3cr3t`). The field is sent as the whole Authorization "
    "header, so the token alone gets 401.",
}
READING_ORDER = ("POST", "GET", "PUT", "PATCH", "DELETE")


def init_app(app: Flask) -> None:
    """Mount the API, Swagger UI at /docs and the OpenAPI document at /swagger.json."""
    api = Api(
        app,
        version="1.0",
        title="datasets-api",
        description="Upload JSON datasets, keep them in S3, export them as Excel workbooks.",
        doc="/docs",
        authorizations={"bearer": BEARER},
        # Documented as required only where it is: the probes are open, and so is everything
        # when API_TOKENS is empty.
        security="bearer" if app.config["API_TOKENS"] else None,
    )
    api.add_namespace(datasets_ns, path="/datasets")
    api.add_namespace(tables_ns, path="/datasets/<string:dataset_id>/tables")
    api.add_namespace(health_ns)
    _in_reading_order(api)
    errors.register(api, app)


def _in_reading_order(api: Api) -> None:
    """List each path's operations in the order a person reads them: upload, then look, then delete.

    Flask-RESTX documents a resource's calls in the order of its ``methods``, which Flask keeps
    in a set: its order changes with each process's hash seed, and so did Swagger UI's."""
    for namespace in api.namespaces:
        for route in namespace.resources:
            route.resource.methods = sorted(route.resource.methods or (), key=_reading_position)


def _reading_position(method: str) -> int:
    return READING_ORDER.index(method) if method in READING_ORDER else len(READING_ORDER)
