"""The container files agree with the service: compose sets every setting it reads, and so on.

No Docker engine is needed: the files are parsed, not run (the image itself is exercised by
../shared/tools/container-smoke).
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SCALE_COMPOSE = ROOT / "deploy" / "docker-compose.scale.yml"

# Read by boto3 rather than by our code, so the source scan cannot see them; from CONTRACT.md.
READ_BY_BOTO3 = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# environ.get("X", ...), os.environ["X"], os.getenv("X"), with either kind of quotes.
ENV_READ = re.compile(
    r"""(?:environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
# ${VAR}, ${VAR:-default}, ${VAR:?message} and friends, as compose interpolates them.
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")


def variables_read_by(paths):
    found = set()
    for path in paths:
        for match in ENV_READ.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    return found


def settings_the_service_reads():
    sources = [*sorted((ROOT / "service").rglob("*.py")), ROOT / "deploy" / "gunicorn.conf.py"]
    return variables_read_by(sources) | READ_BY_BOTO3


def dotenv_values(path):
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))


def dockerfile_instructions():
    """(INSTRUCTION, arguments) per instruction, comments dropped and continuation lines joined."""
    logical, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [tuple([*entry.split(None, 1), ""][:2]) for entry in logical]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def scale_compose():
    return yaml.safe_load(SCALE_COMPOSE.read_text())


def test_the_source_scan_finds_settings():
    # Guards the scan itself: if the service stopped matching ENV_READ, every check below would pass.
    assert {"S3_BUCKET", "S3_ENDPOINT_URL", "HOST", "PORT", "WEB_CONCURRENCY"} <= settings_the_service_reads()


def test_variables_read_by_matches_each_form(tmp_path):
    source = tmp_path / "settings.py"
    source.write_text(
        'a = os.environ.get(\'ONE\')\nb = os.environ["TWO"]\nc = os.getenv("THREE", 1)\nd = environ.get("FOUR")\n'
    )
    assert variables_read_by([source]) == {"ONE", "TWO", "THREE", "FOUR"}


def test_compose_has_api_and_minio(compose):
    assert set(compose["services"]) == {"api", "minio"}


def test_minio_is_the_official_image_with_console_on_9001(compose):
    minio = compose["services"]["minio"]
    assert minio["image"].startswith("minio/minio:")
    assert minio["command"] == ["server", "/data", "--console-address", ":9001"]
    assert "9001:9001" in minio["ports"]


def test_minio_data_is_in_a_named_volume(compose):
    volume, _, target = compose["services"]["minio"]["volumes"][0].partition(":")
    assert target == "/data"
    assert volume in compose["volumes"]


def test_minio_has_a_health_check_with_a_tool_its_image_has(compose):
    # The official image dropped curl in late 2023; `mc` is what it ships.
    assert compose["services"]["minio"]["healthcheck"]["test"][:2] == ["CMD", "mc"]


def test_api_waits_for_minio_to_be_healthy(compose):
    assert compose["services"]["api"]["depends_on"] == {"minio": {"condition": "service_healthy"}}


def test_api_is_built_here_and_listens_on_8000(compose):
    api = compose["services"]["api"]
    assert api["build"] == "."
    assert api["ports"] == ["8000:8000"]
    assert api["environment"]["PORT"] == "8000"
    assert api["environment"]["HOST"] == "0.0.0.0"
    assert api["environment"]["S3_ENDPOINT_URL"] == "http://minio:9000"
    # The image's HEALTHCHECK applies unless compose switches it off.
    assert "healthcheck" not in api


def test_every_service_restarts(compose):
    assert {name: service.get("restart") for name, service in compose["services"].items()} == {
        "api": "unless-stopped",
        "minio": "unless-stopped",
    }


@pytest.mark.parametrize("layout", ["compose", "scale_compose"])
def test_api_gets_every_setting_the_service_reads(layout, request):
    environment = request.getfixturevalue(layout)["services"]["api"]["environment"]
    missing = settings_the_service_reads() - set(environment)
    assert not missing, f"the service reads {sorted(missing)} but {layout} does not set it for api"


@pytest.mark.parametrize(
    ("compose_file", "example"),
    [(COMPOSE, ROOT / ".env.example"), (SCALE_COMPOSE, ROOT / "deploy" / ".env.example")],
)
def test_env_example_defines_every_variable_compose_uses(compose_file, example):
    used = set(COMPOSE_VARIABLE.findall(compose_file.read_text()))
    assert used, "the scan found no ${...} in the compose file"
    assert used - set(dotenv_values(example)) == set()


@pytest.mark.parametrize("example", [ROOT / ".env.example", ROOT / "deploy" / ".env.example"])
def test_env_examples_hold_placeholders_not_secrets(example):
    values = dotenv_values(example)
    secrets = {name: value for name, value in values.items() if "PASSWORD" in name or "SECRET" in name}
    assert secrets and all(value.startswith("CHANGE-ME") for value in secrets.values())


def test_scaled_api_has_no_host_port_and_sits_behind_the_load_balancer(scale_compose):
    api = scale_compose["services"]["api"]
    assert "ports" not in api
    assert api["deploy"]["replicas"]
    assert scale_compose["services"]["lb"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert "server api:8000" in (ROOT / "deploy" / "nginx.conf").read_text()


def test_dockerfile_starts_with_the_overridable_base():
    first, second = dockerfile_instructions()[:2]
    assert first == ("ARG", "PYTHON_IMAGE=python:3.12-slim")
    assert second[0] == "FROM" and second[1].startswith("${PYTHON_IMAGE}")


def test_dockerfile_every_stage_uses_the_base_argument():
    stages = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "FROM"]
    assert len(stages) >= 2, "expected a build stage and a final stage"
    assert all(stage.split()[0] == "${PYTHON_IMAGE}" for stage in stages)


def test_dockerfile_runs_as_non_root_with_a_health_check():
    instructions = dockerfile_instructions()
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    health = [arguments for instruction, arguments in instructions if instruction == "HEALTHCHECK"]
    assert health and "/healthz" in health[0] and "python3" in health[0]
    assert ("CMD", '["gunicorn", "-c", "deploy/gunicorn.conf.py"]') in instructions


def test_dockerignore_admits_only_what_the_image_needs():
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: everything is ignored first"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert admitted == {"requirements.txt", "service", "deploy/gunicorn.conf.py"}
