"""Liveness and readiness probes."""

from flask_restx import Namespace, Resource, fields

from ..storage import get_storage
from .errors import error_model

ns = Namespace("health", description="Probes for load balancers and orchestrators", path="/")

status_model = ns.model("Status", {"status": fields.String(required=True, example="ok")})


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
    @ns.marshal_with(status_model)
    @ns.response(503, "Storage is unreachable", error_model)
    def get(self) -> dict:
        """The bucket answers (and exists: it is created here if S3 came up after start-up)."""
        get_storage().ensure_bucket()
        return {"status": "ready"}
