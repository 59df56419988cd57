"""Settings, read from the environment in one place (names and defaults from the contract)."""

import os
from collections.abc import Mapping
from typing import Any

GIB = 1024**3


def from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The app's configuration mapping built from environment variables."""
    tokens = environ.get("API_TOKENS", "")
    return {
        "S3_ENDPOINT_URL": environ.get("S3_ENDPOINT_URL") or None,
        "S3_BUCKET": environ.get("S3_BUCKET", "datasets"),
        "AWS_REGION": environ.get("AWS_REGION", "us-east-1"),
        "MAX_UPLOAD_BYTES": int(environ.get("MAX_UPLOAD_BYTES", GIB)),
        "API_TOKENS": [token.strip() for token in tokens.split(",") if token.strip()],
    }
