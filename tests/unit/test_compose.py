"""compose.yaml and the Dockerfile: valid against the Compose Specification (offline, with the schema
vendored by check-jsonschema) and wired the way docs/deploy.md says.

Docker is not needed: these tests only read the files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workers import WORKERS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
IMAGE = "openstage:local"
HEALTHY = {"condition": "service_healthy"}


def load(path: Path = COMPOSE) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def schema_check(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema against its vendored Compose Specification schema: no network."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def env(service: dict) -> dict[str, str]:
    """`environment` as a dict, whichever of the two forms the spec allows is used."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    return {k: (None if v is None else str(v)) for k, v in raw.items()}


def published_ports(service: dict) -> set[tuple[str, str]]:
    """(host port, container port) pairs from the short ("8080:8080") or long port syntax."""
    pairs = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.add((str(port.get("published", "")), str(port["target"])))
        else:
            parts = str(port).split("/")[0].split(":")
            pairs.add((parts[-2] if len(parts) > 1 else "", parts[-1]))
    return pairs


def healthcheck_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


# --- the Compose Specification ----------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification():
    result = schema_check(COMPOSE)
    assert result.returncode == 0, f"compose.yaml is not a valid Compose file:\n{result.stdout}\n{result.stderr}"


def test_the_schema_check_rejects_a_broken_file(tmp_path):
    """The check above is not vacuous: a misspelt service key fails it."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("restart: unless-stopped", "restarts: unless-stopped", 1))
    assert broken.read_text() != COMPOSE.read_text()
    result = schema_check(broken)
    assert result.returncode != 0, result.stdout
    assert "restarts" in result.stdout + result.stderr


def test_no_obsolete_version_key(compose):
    assert "version" not in compose, "the Compose Specification has no top-level `version:`"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts volume {source!r}, not declared under top-level volumes"


# --- workers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_every_worker_has_a_service(services, name):
    service_name = f"worker-{name}"
    assert service_name in services, (
        f"workers.WORKERS has {name!r} but compose.yaml has no {service_name!r} service: add one "
        f'(`<<: *openstage-worker` and `command: ["worker", "{name}"]`)'
    )
    service = services[service_name]
    assert service["command"] == ["worker", name]
    assert service["image"] == IMAGE
    assert service["restart"] == "unless-stopped"
    assert service["depends_on"]["nats"] == HEALTHY
    assert service["depends_on"]["mongo"] == HEALTHY
    assert re.fullmatch(r"nats://openstage:\$\{OPENSTAGE_NATS_PASSWORD:\?[^}]*\}@nats:4222", env(service)["OPENSTAGE_NATS_URL"])
    assert "replicaSet=rs0" in env(service)["OPENSTAGE_MONGODB_URL"]
    # scalable with `docker compose up --scale`: nothing that pins a single container
    assert "container_name" not in service
    assert "ports" not in service


def test_worker_services_run_a_worker(services):
    for name, service in services.items():
        if name.startswith("worker-"):
            assert service["command"] == ["worker", name.removeprefix("worker-")], name


# --- infrastructure -----------------------------------------------------------------------------------


def test_mongo_is_a_single_node_replica_set(services):
    mongo = services["mongo"]
    assert mongo["image"].startswith("mongo:7")
    command = mongo["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    assert "--bind_ip_all" in command
    check = healthcheck_command(mongo)
    assert "mongosh" in check and "rs.initiate" in check and "host:'mongo:27017'" in check
    assert any(str(v).endswith(":/data/db") for v in mongo["volumes"])


def test_nats_runs_jetstream_with_a_persistent_store(services):
    nats = services["nats"]
    assert nats["image"].startswith("nats:2.10")
    command = nats["command"]
    assert "-js" in command
    store = command[command.index("-sd") + 1]
    assert any(str(v).split(":")[1] == store for v in nats["volumes"]), "the JetStream store must be on a volume"
    assert command[command.index("-m") + 1] == "8222"
    assert "8222/healthz" in healthcheck_command(nats)


# --- edge ---------------------------------------------------------------------------------------------


def test_edge_serves_http_on_8080(services):
    edge = services["edge"]
    assert edge["command"] == ["edge", "--host", "0.0.0.0", "--port", "8080"]
    assert ("8080", "8080") in published_ports(edge)
    assert edge["depends_on"]["nats"] == HEALTHY
    assert edge["depends_on"]["mongo"] == HEALTHY
    check = healthcheck_command(edge)
    assert "/readyz" in check and check.split()[1] == "python", "slim images have no curl: check with python"
    environment = env(edge)
    assert re.fullmatch(r"nats://openstage:\$\{OPENSTAGE_NATS_PASSWORD:\?[^}]*\}@nats:4222", environment["OPENSTAGE_NATS_URL"])
    assert "replicaSet=rs0" in environment["OPENSTAGE_MONGODB_URL"]
    assert environment["OPENSTAGE_CREDENTIALS"].startswith("${OPENSTAGE_CREDENTIALS")


def test_edge_healthcheck_is_valid_python(services):
    test = services["edge"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], "<healthcheck>", "exec")


def test_the_image_is_built_once(services):
    ours = {name: s for name, s in services.items() if name == "edge" or name.startswith("worker-")}
    builders = [name for name, s in ours.items() if "build" in s]
    assert builders == ["edge"], f"exactly one service builds {IMAGE}, found {builders}"
    for name, service in ours.items():
        assert service["image"] == IMAGE, name


def test_environment_values_are_strings(services):
    """Compose wants strings (or numbers/booleans); a YAML mapping or list here would be a mistake."""
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            assert value is None or isinstance(value, (str, int, float, bool)), (name, key, value)


# --- Dockerfile ---------------------------------------------------------------------------------------


def test_dockerfile():
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert stages and all(s == "python:3.11-slim" for s in stages), stages
    entrypoints = re.findall(r"^ENTRYPOINT\s+(.+)$", text, flags=re.M)
    assert [json.loads(e) for e in entrypoints] == [["openstage"]]
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert re.search(r"pip install (\S+ )*\.\s*(\\|&&|$)", text, flags=re.M), "installs the project from the context"


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".git", ".env", ".openstage", ".venv"):
        assert entry in ignored, entry
    for needed in ("pyproject.toml", "README.md", "services", "api_edge", "workers", "openstage"):
        assert needed not in ignored, needed


def test_nats_runs_with_generated_users_and_permissions(services):
    """nats-server reads the authorization config the nats-config service writes from the
    credentials (tenants confined to their projects), and only after it was written."""
    writer = services["nats-config"]
    assert writer["command"][:1] == ["nats-config"] and writer["image"] == IMAGE
    assert "OPENSTAGE_CREDENTIALS" in writer["environment"] and "OPENSTAGE_NATS_PASSWORD" in writer["environment"]
    nats = services["nats"]
    assert nats["command"][:2] == ["-c", "/config/nats.conf"]
    assert nats["depends_on"]["nats-config"] == {"condition": "service_completed_successfully"}
