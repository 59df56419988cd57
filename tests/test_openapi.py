"""The OpenAPI document as Swagger UI reads it: stable order, truthful types, only sendable fields."""

import json
import os
import subprocess
import sys

from tests.servers import ROOT

OPERATIONS_IN_A_FRESH_PROCESS = """
import json
from service import create_app
app = create_app({"TESTING": True, "S3_ENDPOINT_URL": "http://127.0.0.1:9", "S3_BUCKET": "order"})
paths = app.test_client().get("/swagger.json").get_json()["paths"]
print(json.dumps([[path, [m for m in item if m != "parameters"]] for path, item in paths.items()]))
"""


def operations_with_hash_seed(seed: int) -> list:
    env = {**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": str(ROOT)}
    env.update(AWS_ACCESS_KEY_ID="order", AWS_SECRET_ACCESS_KEY="order", AWS_REGION="us-east-1")
    done = subprocess.run(
        [sys.executable, "-c", OPERATIONS_IN_A_FRESH_PROCESS],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_operations_keep_one_order_in_every_process_upload_first() -> None:
    orders = [operations_with_hash_seed(seed) for seed in (1, 2, 3, 4)]
    assert all(order == orders[0] for order in orders)
    methods = dict(orders[0])
    assert methods["/datasets/"] == ["post", "get"]
    assert methods["/datasets/{dataset_id}/"] == ["get", "delete"]


def test_the_workbook_is_a_file_and_its_errors_are_shown_as_json(client) -> None:
    excel = client.get("/swagger.json").get_json()["paths"]["/datasets/{dataset_id}/excel/"]["get"]
    assert excel["responses"]["200"]["schema"] == {"type": "file"}
    # Swagger UI shows the examples in the first type's form, as XML when its name has "xml".
    assert excel["produces"][0] == "application/json"
    assert excel["responses"]["404"]["schema"] == {"$ref": "#/definitions/Error"}


def test_the_upload_form_has_only_what_swagger_ui_can_send(client) -> None:
    post = client.get("/swagger.json").get_json()["paths"]["/datasets/"]["post"]
    assert [(p["name"], p["in"]) for p in post["parameters"]] == [("file", "formData")]
    assert post["consumes"] == ["multipart/form-data"]
    assert "?filename=" in post["description"]


def test_the_authorize_dialog_says_what_to_type(client) -> None:
    bearer = client.get("/swagger.json").get_json()["securityDefinitions"]["bearer"]
    assert (bearer["type"], bearer["in"], bearer["name"]) == ("apiKey", "header", "Authorization")
    assert "Type `Bearer <token>`" in bearer["description"]
