"""The HTTP API: one Flask-RESTX Api, one namespace per module, errors mapped in one place."""

from flask import Flask
from flask_restx import Api

from . import errors
from .datasets import ns as datasets_ns
from .health import ns as health_ns


def init_app(app: Flask) -> None:
    """Mount the API, Swagger UI at /docs and the OpenAPI document at /swagger.json."""
    api = Api(
        app,
        version="1.0",
        title="datasets-api",
        description="Upload JSON datasets, keep them in S3, export them as Excel workbooks.",
        doc="/docs",
        authorizations={"bearer": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        # Documented as required only where it is: the probes are open, and so is everything
        # when API_TOKENS is empty.
        security="bearer" if app.config["API_TOKENS"] else None,
    )
    api.add_namespace(datasets_ns, path="/datasets")
    api.add_namespace(health_ns)
    errors.register(api, app)
