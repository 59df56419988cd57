"""Settings, read from the environment in one place (names and defaults from the contract and
the README's Settings table)."""

import os
import re
import tempfile
from collections.abc import Mapping
from typing import Any

GIB = 1024**3
# S3's rules for bucket names (general purpose buckets): 3 to 63 lower-case letters, digits, dots
# and hyphens, starting and ending with a letter or digit, no "..", not shaped like an IP address.
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


class ConfigurationError(Exception):
    """A setting that can never work; the process refuses to start, saying which and why."""


def from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The app's configuration mapping built from environment variables."""
    tokens = environ.get("API_TOKENS", "")

    def number(name: str, default: float, kind: type = int) -> Any:
        raw = environ.get(name, "")
        try:
            return kind(raw) if raw.strip() else default
        except ValueError:
            raise ConfigurationError(f"{name}={raw!r} is not a number.") from None

    return {
        "S3_ENDPOINT_URL": environ.get("S3_ENDPOINT_URL") or None,
        "S3_BUCKET": environ.get("S3_BUCKET", "datasets"),
        "AWS_REGION": environ.get("AWS_REGION", "us-east-1"),
        "MAX_UPLOAD_BYTES": number("MAX_UPLOAD_BYTES", GIB),
        "API_TOKENS": [token.strip() for token in tokens.split(",") if token.strip()],
        "S3_CONNECT_TIMEOUT": number("S3_CONNECT_TIMEOUT", 3, float),
        "S3_READ_TIMEOUT": number("S3_READ_TIMEOUT", 15, float),
        "S3_MAX_ATTEMPTS": number("S3_MAX_ATTEMPTS", 2),
        "S3_MAX_POOL_CONNECTIONS": number("S3_MAX_POOL_CONNECTIONS", 32),
        "S3_UPLOAD_PARTS_IN_FLIGHT": number("S3_UPLOAD_PARTS_IN_FLIGHT", 4),
        "METADATA_CACHE_ENTRIES": number("METADATA_CACHE_ENTRIES", 20_000),
        "READY_TIMEOUT": number("READY_TIMEOUT", 2, float),
        "UPLOAD_IDLE_TIMEOUT": number("UPLOAD_IDLE_TIMEOUT", 60, float),
        "LOCAL_CACHE_DIR": environ.get("LOCAL_CACHE_DIR")
        or os.path.join(tempfile.gettempdir(), "datasets-api-exports"),
        "LOCAL_CACHE_BYTES": number("LOCAL_CACHE_BYTES", GIB),
    }


def check(config: Mapping[str, Any]) -> None:
    """Refuse settings that can never work (ConfigurationError, one line saying which)."""
    bucket = config["S3_BUCKET"]
    if not _BUCKET_NAME.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
        raise ConfigurationError(
            f"S3_BUCKET={bucket!r} is not a valid S3 bucket name: use 3 to 63 lower-case letters,"
            " digits, dots and hyphens, starting and ending with a letter or digit."
        )
    if config["LOCAL_CACHE_BYTES"] < 0:
        raise ConfigurationError(
            f"LOCAL_CACHE_BYTES must be 0 (no local cache) or more, not {config['LOCAL_CACHE_BYTES']}."
        )
    for name in ("S3_MAX_ATTEMPTS", "S3_MAX_POOL_CONNECTIONS", "S3_UPLOAD_PARTS_IN_FLIGHT"):
        if config[name] < 1:
            raise ConfigurationError(f"{name} must be at least 1, not {config[name]}.")
