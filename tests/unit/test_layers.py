"""The layers import only downwards (docs/architecture.md, "Layers"):

    services.contracts   pydantic models, subjects, error catalogue      imports: contracts
    services.domain      pure rules                                      imports: contracts, domain
    services.settings    process configuration                           imports: nothing of ours
    services.adapters    store, bus, clock, drivers                      imports: contracts, domain, adapters, settings
    workers.<domain>     handlers and their composition root             imports: services, workers.runtime, workers.fast_path, its own package
    api_edge             the HTTP edge                                   imports: services (never the store), workers (the list only)

Read from the source (every import statement, including those inside functions), so an import
that runs the wrong way fails here before anything runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = ("pymongo", "bson", "nats", "faststream", "fastapi", "starlette", "uvicorn", "httpx", "subprocess", "socket", "asyncio")


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def ours(name: str) -> bool:
    return name.split(".")[0] in ("services", "workers", "api_edge", "openstage", "tests", "bench")


def violations(package: str, allowed: tuple[str, ...], forbidden_libraries: tuple[str, ...] = ()) -> list[str]:
    out = []
    for path in modules(package):
        for name in imports_of(path):
            top = name.split(".")[0]
            # a name is allowed when it is an allowed module, inside one, or the package holding one
            # (``from services.adapters import bus`` imports services.adapters, then services.adapters.bus)
            if ours(name) and not any(name == a or name.startswith(a + ".") or a.startswith(name + ".") for a in allowed):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
            if top in forbidden_libraries:
                out.append(f"{path.relative_to(ROOT)} imports {name} (I/O in a pure layer)")
    return sorted(set(out))


def test_contracts_import_only_contracts():
    assert violations("services.contracts", ("services.contracts",), IO_LIBRARIES) == []


def test_domain_rules_import_contracts_and_domain_only_and_no_io():
    assert violations("services.domain", ("services.contracts", "services.domain"), IO_LIBRARIES) == []


def test_settings_import_nothing_of_ours():
    assert violations("services.settings", ()) == []


def test_adapters_import_no_worker_or_edge():
    allowed = ("services.contracts", "services.domain", "services.adapters", "services.settings")
    assert violations("services.adapters", allowed) == []


@pytest.mark.parametrize("domain", ["lifecycle", "config", "registry", "jobs"])
def test_a_worker_imports_services_and_its_own_package_only(domain):
    allowed = ("services", f"workers.{domain}", "workers.runtime", "workers.fast_path")
    assert violations(f"workers.{domain}", allowed) == []


def test_the_host_agent_imports_services_and_its_own_package_only():
    # it has no store: contracts, the artifact adapter, settings
    assert violations("workers.agent", ("services", "workers.agent")) == []


def test_edge_never_touches_the_store_or_a_worker():
    allowed = (
        "services.contracts",
        "services.domain",
        "services.adapters.bus",
        "services.adapters.clock",
        "services.adapters.nats_auth",
        "services.adapters.registry_events",  # a core-NATS subscription (the edge's registry memory follows events)
        "services.adapters.registry_secret",
        "services.settings",
        "api_edge",
        "workers.WORKERS",
        "workers.expected_workers",
    )  # the list of workers, not their code
    assert violations("api_edge", allowed) == []


def test_the_check_sees_a_wrong_import(tmp_path, monkeypatch):
    """The checker itself: a domain module importing the store is reported."""
    bad = ROOT / "services" / "domain" / "_layer_probe.py"
    bad.write_text("from services.adapters.store import mongo\nimport pymongo\n")
    try:
        found = violations("services.domain", ("services.contracts", "services.domain"), IO_LIBRARIES)
    finally:
        bad.unlink()
    assert "services/domain/_layer_probe.py imports services.adapters.store" in found
    assert "services/domain/_layer_probe.py imports pymongo (I/O in a pure layer)" in found
