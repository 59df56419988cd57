"""exports.tables_for and exports.preview, in-process on a real S3 server (SeaweedFS): what the tables
API and the web page are built on."""

from collections.abc import Iterator

import pytest

from service import create_app, exports
from service.errors import TableNotFound
from service.export.model import TableModel
from service.storage import Dataset, Storage, get_storage

DOCUMENT = b"""[
 {"id": 1, "when": "2025-03-14", "huge": 1E400, "orders": [{"sku": "A"}, {"sku": "B"}]},
 {"id": 2, "when": "soon", "huge": 2.5, "orders": [{"sku": "C"}]},
 {"id": 3, "when": null, "huge": 3, "orders": []}
]"""


@pytest.fixture
def storage(s3_server, monkeypatch) -> Iterator[Storage]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    app = create_app({"S3_ENDPOINT_URL": s3_server.endpoint_url, "S3_BUCKET": "exports-module"})
    with app.app_context():
        yield get_storage()


def stored(storage: Storage, body: bytes) -> Dataset:
    with storage.dataset_writer("data.json") as writer:
        writer.write(body)
        return writer.commit()


def test_a_preview_is_the_first_rows_of_one_table_typed_as_in_json(storage):
    dataset = stored(storage, DOCUMENT)

    main = exports.preview(storage, dataset.id, "data", limit=2)
    orders = exports.preview(storage, dataset.id, "orders", limit=50)

    assert main == {
        "name": "data",
        "columns": ["data row", "id", "when", "huge"],
        "rows": [[1, 1, "2025-03-14", "1E+400"], [2, 2, "soon", 2.5]],
        "total_rows": 3,
    }
    assert orders == {
        "name": "orders",
        "columns": ["data row", "sku"],
        "rows": [[1, "A"], [1, "B"], [2, "C"]],
        "total_rows": 3,
    }


def test_an_unknown_table_is_named_with_the_tables_there_are(storage):
    dataset = stored(storage, DOCUMENT)

    with pytest.raises(TableNotFound, match="'data', 'orders'"):
        exports.preview(storage, dataset.id, "nope", limit=5)


def test_the_survey_is_made_once_and_then_read_from_the_bucket(storage):
    dataset = stored(storage, DOCUMENT)
    _, surveyed = exports.tables_for(storage, dataset.id)

    # Replace the cached survey (same source ETag) with a recognisable one: it is what comes back.
    renamed = TableModel(
        (surveyed.tables[0],), surveyed.format, surveyed.root, {**surveyed.reading, "marker": True}
    )
    with storage.export_writer(dataset, exports.SURVEY, exports.MODEL_MIMETYPE) as cache:
        cache.write(renamed.to_json())
        cache.commit()
    _, again = exports.tables_for(storage, dataset.id)

    assert again == renamed
    assert [table.name for table in surveyed.tables] == ["data", "orders"]
