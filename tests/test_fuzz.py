"""schemathesis against the live /swagger.json: every phase, every check, a bounded number of examples.

It must find no server error and no response that breaks the documented schema (status codes, content
types, models, headers, authentication), on an open server and on one that requires a token.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.probes import api_server

ROOT = Path(__file__).resolve().parent.parent
ST = Path(sys.executable).parent / "st"
TOKEN = "fuzz-token"
MAX_EXAMPLES = 30
METHODS = {"get", "head", "post", "put", "patch", "delete", "options"}


@pytest.mark.parametrize("secured", [False, True], ids=["open", "secured"])
def test_schemathesis_finds_nothing(s3_server, tmp_path, secured):
    settings = {"API_TOKENS": TOKEN} if secured else {}
    bucket = "fuzz-secured" if secured else "fuzz-open"
    with api_server(s3_server, bucket, tmp_path, **settings) as api:
        command = [
            str(ST),
            "run",
            f"{api.url}/swagger.json",
            "--checks=all",
            f"--max-examples={MAX_EXAMPLES}",
            "--seed=20261126",  # reproducible in CI; change it locally to explore further
            "--workers=2",
            "--request-timeout=60",
            "--generation-database=none",
            "--no-color",
            *(["--header", f"Authorization: Bearer {TOKEN}"] if secured else []),
        ]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "PYTHONPATH": str(ROOT)}
        # Run in a scratch folder: schemathesis keeps its state in ./.schemathesis.
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        paths = requests.get(f"{api.url}/swagger.json", timeout=30).json()["paths"]
    operations = sum(method in METHODS for path in paths.values() for method in path)
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "No issues found" in summary and f"Tested: {operations}" in summary, summary
