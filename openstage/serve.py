"""The long-running processes of openstage, started without the CLI:
``python -m openstage.serve worker NAME[,NAME...] | edge [--host H] [--port P] | agent ...``.

`openstage worker`, `openstage edge` and `openstage agent` (openstage/cli.py) read the user's
options and call the same functions; `openstage up` (openstage/processes.py) starts its processes
through this module, so none of them holds the CLI's modules (typer and its coercion adapters,
about 2 MB of each process's idle memory).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from openstage.startup_memory import release_after_start

if TYPE_CHECKING:
    from workers.agent.app import AgentOptions


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=os.environ.get("OPENSTAGE_LOG_LEVEL", level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def worker_names(name: str) -> list[str]:
    """``lifecycle,config``: the domain workers named, ValueError when one is unknown or repeated."""
    from workers import WORKERS

    names = [n.strip() for n in name.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKERS]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"unknown or repeated worker in {name!r}; choose among: {', '.join(WORKERS)}")
    return names


def run_worker(names: list[str]) -> None:
    """One domain worker, or several in this one process (each with its own broker, connections
    and database), against OPENSTAGE_NATS_URL and OPENSTAGE_MONGODB_URL."""
    import asyncio
    import importlib

    from workers import WORKERS
    from workers.runtime import run_apps

    setup_logging("WARNING")
    apps = {}
    for n in names:
        module_name, factory = WORKERS[n].split(":")
        apps[n] = getattr(importlib.import_module(module_name), factory)()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(run_apps(apps))


def run_edge(host: str | None, port: int | None, workers: int | None) -> None:
    """The HTTP edge against OPENSTAGE_NATS_URL."""
    # Nothing in openstage uses pydantic's v1 API. FastAPI imports it only to ask of each route
    # parameter whether its annotation is a v1 model (fastapi/_compat/shared.py
    # ``is_pydantic_v1_model_class``), which costs the edge ~2 MB of idle memory (bench.footprint);
    # with the import blocked it takes its ImportError branch: "not a v1 model".
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]
    import uvicorn

    from services.settings import get_settings

    setup_logging("WARNING")
    if host:
        os.environ["OPENSTAGE_HOST"] = host  # the app's settings (e.g. the warning of registry auth 'open') see it
    settings = get_settings()
    uvicorn.run(
        "api_edge.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        loop="uvloop",
        http="api_edge.http_protocol:EdgeHttpProtocol",  # httptools, answering malformed requests in the API's shape
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # a stop waits at most this long for requests in flight; the console's event streams
        # (GET /v2/{project}/events) never end by themselves
        timeout_graceful_shutdown=3,
        workers=workers or settings.edge_workers,
    )


DEFAULT_REPLICA_PORTS = "20000-31999"  # workers/agent/host_info.py REPLICA_PORTS


def agent_options(
    host_id: str | None, nats_url: str | None, data_dir: Path, projects: str, address: str | None, replica_ports: str
) -> AgentOptions:
    """The host agent's options from its command line and OPENSTAGE_* settings; ValueError (the
    message for the user) when one is wrong."""
    from pydantic import ValidationError

    from services.contracts.subjects import HOST_ID_PATTERN
    from services.settings import Settings
    from workers.agent import host_info
    from workers.agent.app import AgentOptions
    from workers.agent.host import ArtifactSettings

    host_id = host_id or host_info.default_host_id()
    if not HOST_ID_PATTERN.match(host_id):
        raise ValueError(f"invalid --host-id {host_id!r}: letters, digits, '-' and '_' only (at most 64)")
    if not nats_url:
        raise ValueError("--nats-url (or OPENSTAGE_NATS_URL) is required")
    try:
        ports = host_info.parse_port_range(replica_ports)
    except ValueError as exc:
        raise ValueError(f"invalid --replica-ports: {exc}") from None
    served = [p.strip() for p in projects.split(",") if p.strip()] or ["*"]
    try:
        settings = Settings()
    except ValidationError as exc:  # a bad OPENSTAGE_* setting fails as in every other part (exit 1), not as a bad option (2)
        raise RuntimeError(f"invalid OPENSTAGE_* settings: {exc}") from None
    agent_dir = data_dir.resolve()
    return AgentOptions(
        host_id=host_id,
        nats_url=nats_url,
        agent_dir=agent_dir,
        projects=served,
        address=address or ("127.0.0.1" if host_id == "local" else host_info.primary_address()),
        artifacts=ArtifactSettings(dirs_setting=settings.artifact_dirs, max_bytes=settings.artifact_max_bytes),
        announce_seconds=settings.agent_announce_seconds,
        liveness_period=settings.agent_liveness_period_seconds,
        replica_ports=ports,
    )


def run_agent(options: AgentOptions) -> None:
    from workers.agent.app import run

    setup_logging()
    run(options)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m openstage.serve", description="the processes of openstage, without the CLI")
    sub = p.add_subparsers(dest="process", required=True)
    w = sub.add_parser("worker", help="see `openstage worker --help`")
    w.add_argument("name")
    e = sub.add_parser("edge", help="see `openstage edge --help`")
    e.add_argument("--host")
    e.add_argument("--port", type=int)
    e.add_argument("--workers", type=int)
    a = sub.add_parser("agent", help="see `openstage agent --help`")
    a.add_argument("--host-id")
    a.add_argument("--nats-url", default=os.environ.get("OPENSTAGE_NATS_URL"))
    a.add_argument("--data-dir", type=Path, default=Path(".openstage-agent"))
    a.add_argument("--projects", default="*")
    a.add_argument("--address")
    a.add_argument("--replica-ports", default=os.environ.get("OPENSTAGE_AGENT_REPLICA_PORTS") or DEFAULT_REPLICA_PORTS)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    release_after_start()  # the start-up's freed memory back to the system (openstage/startup_memory.py)
    if args.process == "edge":
        run_edge(args.host, args.port, args.workers)
        return 0
    try:
        names = worker_names(args.name) if args.process == "worker" else []
        options = (
            None if names else agent_options(args.host_id, args.nats_url, args.data_dir, args.projects, args.address, args.replica_ports)
        )
    except ValueError as exc:  # only the options' checks: a failure while running is the process's own (traceback, exit 1)
        print(f"openstage {args.process}: {exc}", file=sys.stderr, flush=True)
        return 2
    if options is None:
        run_worker(names)
    else:
        run_agent(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
