"""Liveness and readiness probes."""

from flask_restx import Namespace, Resource, fields

from .. import json_syntax
from ..errors import StorageMisconfigured, StorageUnavailable
from ..storage import get_storage
from .errors import error_model

ns = Namespace("health", description="Probes for load balancers and orchestrators", path="/")

status_model = ns.model("Status", {"status": fields.String(required=True, example="ok")})
ready_model = ns.clone(
    "Ready",
    status_model,
    {
        "validator": fields.String(
            required=True,
            description="What checks uploads: yajl called directly, or ijson alone (slower)",
            example=json_syntax.VALIDATOR,
        )
    },
)


@ns.route("/healthz")
@ns.doc(security=[])  # open whatever API_TOKENS says
class Health(Resource):
    @ns.marshal_with(status_model)
    def get(self) -> dict:
        """The process is up."""
        return {"status": "ok"}


@ns.route("/readyz")
@ns.doc(security=[])  # open whatever API_TOKENS says
class Ready(Resource):
    @ns.marshal_with(ready_model)
    @ns.response(503, "Storage is unreachable or misconfigured (the message says which)", error_model)
    def get(self) -> dict:
        """The bucket answers (and exists: it is created here if S3 came up after start-up).
        Answers within about READY_TIMEOUT seconds, whatever S3 does."""
        try:
            get_storage().ensure_bucket(quick=True)
        except StorageMisconfigured as error:
            raise StorageUnavailable(error.message) from error  # not ready, and why
        return {"status": "ready", "validator": json_syntax.VALIDATOR}
