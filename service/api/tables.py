"""The tables namespace: the tables a dataset's export makes, and the first rows of each.

What the web page previews and ``dsclient tables`` prints. The resources only translate HTTP into
``exports.tables_for`` / ``exports.preview`` and back; the survey behind them is cached in the bucket.
"""

from flask_restx import Namespace, Resource, fields

from .. import exports
from ..storage import get_storage
from .auth import require_token
from .datasets import ROOT_PARAM, NullableString, export_arguments, limit
from .errors import documented_errors

ns = Namespace(
    "tables",
    description="The tables a dataset's export makes, and their first rows",
    decorators=[require_token],
)

DEFAULT_PREVIEW_ROWS = 50


def rows_limit(value: str) -> int:
    """A number of rows to preview, 1 to 1000 (the same bounds as a page of datasets)."""
    return limit(value)


rows_limit.__schema__ = {  # type: ignore[attr-defined]
    **limit.__schema__,  # type: ignore[attr-defined]
    "description": f"Rows to show, 1 to {limit.__schema__['maximum']} (default {DEFAULT_PREVIEW_ROWS})",  # type: ignore[attr-defined]
}

preview_arguments = export_arguments.copy()
preview_arguments.add_argument("limit", type=rows_limit, default=DEFAULT_PREVIEW_ROWS, location="args")

table_model = ns.model(
    "Table",
    {
        "name": fields.String(
            required=True, description="Unique, a legal sheet name; pass as ?table= to csv"
        ),
        "parent": NullableString(required=True, description="The parent table's name; null for the main one"),
        "rows": fields.Integer(
            required=True, min=0, description="Rows in the table (a rollover family is one)"
        ),
        "columns": fields.List(fields.String, required=True, description="Column headers, in order"),
    },
)
tables_model = ns.model(
    "Tables",
    {"tables": fields.List(fields.Nested(table_model), required=True, description="Main table first")},
)


class JsonValue(fields.Raw):
    """Any JSON value: a string, number, boolean, null, or (never from a preview) more."""

    def schema(self) -> dict:
        return {key: value for key, value in super().schema().items() if key != "type"}


preview_model = ns.model(
    "TablePreview",
    {
        "name": fields.String(required=True),
        "columns": fields.List(fields.String, required=True, description="Column headers, in order"),
        "rows": fields.List(
            fields.List(JsonValue), required=True, description="The first rows, values typed as in JSON"
        ),
        "total_rows": fields.Integer(required=True, min=0, description="Rows in the whole table"),
    },
)


@ns.route("/")
@ns.param("dataset_id", "The dataset's id")
class TableList(Resource):
    @ns.doc(params=ROOT_PARAM)
    @ns.marshal_with(tables_model)
    @documented_errors(ns, 400, 404, 422)
    def get(self, dataset_id: str) -> dict:
        """List the tables a dataset's export makes, with their row counts and columns."""
        root = export_arguments.parse_args()["root"]
        _, model = exports.tables_for(get_storage(), dataset_id, root)
        return {
            "tables": [
                {
                    "name": table.name,
                    "parent": table.parent,
                    "rows": table.rows,
                    "columns": [column.name for column in table.columns],
                }
                for table in model.tables
            ]
        }


@ns.route("/<string:name>/")
@ns.param("dataset_id", "The dataset's id")
@ns.param("name", "A table's name, as listed")
class Table(Resource):
    @ns.doc(params=ROOT_PARAM)
    @ns.expect(preview_arguments)
    @ns.marshal_with(preview_model)
    @documented_errors(ns, 400, 404, 422, e404="No such dataset, or no such table in it")
    def get(self, dataset_id: str, name: str) -> dict:
        """The first rows of one table."""
        arguments = preview_arguments.parse_args()
        return exports.preview(get_storage(), dataset_id, name, arguments["limit"], arguments["root"])
