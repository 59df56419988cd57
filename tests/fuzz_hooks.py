"""schemathesis hooks for tests/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Swagger 2.0 can say that an upload is a file but not that the file must hold JSON, so the bytes
schemathesis generates for a *positive* upload (a PNG, random bytes) would be refused with a
correct 400 and counted as "valid data rejected". Positive uploads therefore carry the generated
bytes inside a JSON document instead; negative cases are sent exactly as generated. Likewise a
well-formed ``root`` that points at nothing is a correct 422 (``filter_failure``).
"""

import json

import schemathesis
from urllib3 import encode_multipart_formdata


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    if case.meta is not None and case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    operation = context.operation
    if operation is not None and (operation.method.upper(), operation.path) == ("POST", "/datasets/"):
        _upload_as_json(case, kwargs)


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Every failure counts but one: the schema can say what a JSON Pointer looks like, not which
    ones a dataset has, so a well-formed ``root`` that points at nothing is a correct 422, not
    "valid data rejected"."""
    pointed_at_nothing = (
        failure.code == "ST202"
        and response.status_code == 422
        and isinstance(case.query, dict)
        and bool(case.query.get("root"))
    )
    return not pointed_at_nothing


def _upload_as_json(case, kwargs) -> None:
    if not isinstance(case.body, dict):
        return
    generated = getattr(case.body.get("file"), "data", case.body.get("file"))
    if not isinstance(generated, bytes):
        return
    document = json.dumps({"text": generated.decode("latin-1"), "bytes": list(generated[:64])})
    # A body given to the transport replaces the generated one without touching the case, whose
    # generation mode schemathesis would otherwise recompute (it cannot validate binary bodies).
    kwargs["data"], content_type = encode_multipart_formdata({"file": ("fuzzed.json", document.encode())})
    case.headers = {**(case.headers or {}), "Content-Type": content_type}
