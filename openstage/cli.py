"""The `openstage` command: up | edge | worker NAME | jobs watch."""

from __future__ import annotations

import importlib
import json
import logging
import os
import secrets
import string
import sys
import time
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, help="openstage: ServiceStage-compatible platform and registry")


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=os.environ.get("OPENSTAGE_LOG_LEVEL", level), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _generate_credential(data_dir: Path) -> dict:
    """One AK/SK for all projects, kept in data_dir/credentials.json (mode 0600)."""
    from openstage.startup_errors import StartupError

    path = data_dir / "credentials.json"
    if path.exists():
        try:
            return json.loads(path.read_text())[0]
        except (OSError, ValueError, LookupError) as exc:
            raise StartupError(f"cannot read {path} ({exc}); fix it, or delete it to get a new credential") from None
    alphabet = string.ascii_uppercase + string.digits
    cred = {
        "ak": "".join(secrets.choice(alphabet) for _ in range(20)),
        "sk": secrets.token_urlsafe(30),
        "projects": ["*"],
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump([cred], f)
        os.chmod(path, 0o600)
    except OSError as exc:
        raise StartupError(f"cannot write {path}: {exc.strerror or exc}") from None
    return cred


@app.command()
def up(
    host: str = typer.Option("127.0.0.1", help="address the HTTP API listens on"),
    port: int = typer.Option(8080, help="port of the HTTP API"),
    data_dir: Path = typer.Option(Path(".openstage"), help="where nats, the store and secrets keep their data"),
    nats_port: int = typer.Option(4222, help="port of the embedded nats-server (a free one if taken)"),
    store_port: int = typer.Option(27017, help="port of the embedded store (a free one if taken)"),
) -> None:
    """Start the whole system: embedded nats-server and store (unless OPENSTAGE_NATS_URL /
    OPENSTAGE_MONGODB_URL are set), every domain worker, and the HTTP edge. One per data
    directory; when it dies, by any signal, everything it started stops too."""
    from openstage.startup_errors import StartupError
    from openstage.supervisor import StopRequested, StopSignals, Supervisor
    from workers import WORKERS

    _logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    data_dir = data_dir.resolve()
    supervisor = Supervisor(data_dir, host, port, nats_port, store_port, list(WORKERS))
    signals = StopSignals()
    started = time.monotonic()
    try:
        signals.install()
        supervisor.claim_data_dir()
        if supervisor.previous_run_stopped:
            typer.echo(f"stopped what a previous run left running: {', '.join(supervisor.previous_run_stopped)}")
        env: dict[str, str] = {}
        cred = None
        if not os.environ.get("OPENSTAGE_CREDENTIALS") and not os.environ.get("OPENSTAGE_TOKENS"):
            cred = _generate_credential(data_dir)
            env["OPENSTAGE_CREDENTIALS"] = json.dumps([cred])
        supervisor.start(env)
        signals.starting = False
    except StartupError as exc:
        signals.starting = False  # a signal now must not cut the clean-up short
        supervisor.stop()
        one_line = str(exc).replace("\n", " ")
        typer.echo(f"openstage up: {one_line}", err=True)
        raise typer.Exit(1) from None
    except StopRequested as exc:
        signals.starting = False
        supervisor.stop()
        typer.echo(f"openstage up: start-up interrupted ({exc}); everything it had started is stopped", err=True)
        raise typer.Exit(130) from None
    system = supervisor.system
    base = f"http://{host}:{port}"
    typer.echo(f"openstage is ready in {time.monotonic() - started:.1f}s")
    typer.echo(f"  API:        {base}/v2/{{project_id}}/cas/...  {base}/v4/{{project}}/registry/...")
    typer.echo(f"  docs:       {base}/docs  (OpenAPI)   {base}/asyncapi  (bus commands and events)")
    typer.echo(f"  health:     {base}/healthz  {base}/readyz")
    typer.echo(f"  NATS:       nats://{host}:{system.nats_url.rsplit(':', 1)[-1]}  (integrations: user=AK password=SK)")
    typer.echo(f"  MongoDB:    {system.mongodb_url}")
    typer.echo(f"  data:       {data_dir}  (logs in {data_dir / 'logs'})")
    if cred:
        typer.echo(
            f"  credential: AK={cred['ak']} SK={cred['sk']}  (all projects; kept in {data_dir / 'credentials.json'})"
        )
    typer.echo("Press Ctrl-C to stop.")
    try:
        supervisor.supervise(signals)
    finally:
        typer.echo("stopping...")
        supervisor.stop()
        typer.echo("stopped")


@app.command()
def edge(
    host: str = typer.Option(None, help="listen address (default OPENSTAGE_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="listen port (default OPENSTAGE_PORT or 8080)"),
    workers: int = typer.Option(None, help="edge processes sharing the port (default OPENSTAGE_EDGE_WORKERS or 1)"),
) -> None:
    """Run the HTTP edge alone against OPENSTAGE_NATS_URL."""
    import uvicorn

    from services.settings import get_settings

    _logging("WARNING")
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
        workers=workers or settings.edge_workers,
    )


@app.command()
def worker(name: str = typer.Argument(..., help="lifecycle | config | registry | jobs")) -> None:
    """Run one domain worker against OPENSTAGE_NATS_URL and OPENSTAGE_MONGODB_URL."""
    import asyncio

    from workers import WORKERS

    _logging("WARNING")
    if name not in WORKERS:
        typer.echo(f"unknown worker {name!r}; choose one of: {', '.join(WORKERS)}", err=True)
        raise typer.Exit(2)
    module_name, factory = WORKERS[name].split(":")
    faststream_app = getattr(importlib.import_module(module_name), factory)()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(faststream_app.run())


@app.command("nats-config")
def nats_config(
    out: Path = typer.Option(..., help="where to write the nats-server config (mode 0600)"),
) -> None:
    """Write the nats-server authorization config: the internal user (password from
    OPENSTAGE_NATS_PASSWORD) and one user per OPENSTAGE_CREDENTIALS entry (user=AK, password=SK),
    each confined to its projects' subjects. compose.yaml runs this before nats-server."""
    from openstage.processes import write_nats_config

    password = os.environ.get("OPENSTAGE_NATS_PASSWORD")
    if not password:
        typer.echo("OPENSTAGE_NATS_PASSWORD must be set", err=True)
        raise typer.Exit(2)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = write_nats_config(out.parent, password, os.environ.get("OPENSTAGE_CREDENTIALS"))
    if written != out:
        written.replace(out)
    typer.echo(f"wrote {out}")


jobs_app = typer.Typer(add_completion=False, help="Deployment jobs of component instances")
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("watch")
def jobs_watch(
    job_id: str = typer.Argument(..., help="the job_id a create/modify/delete/action call answered with"),
    project: str = typer.Option(..., "--project", "-p", envvar="OPENSTAGE_PROJECT_ID", help="project id"),
    nats_url: str = typer.Option(None, envvar="OPENSTAGE_NATS_URL", help="read the job over the bus (NATS URL)"),
    endpoint: str = typer.Option(
        "http://127.0.0.1:8080",
        envvar="OPENSTAGE_ENDPOINT",
        help="read the job over HTTP from this edge (when no NATS URL is given)",
    ),
    ak: str = typer.Option(None, envvar="OPENSTAGE_AK", help="access key (HTTP)"),
    sk: str = typer.Option(None, envvar="OPENSTAGE_SK", help="secret key (HTTP)"),
    token: str = typer.Option(None, envvar="OPENSTAGE_TOKEN", help="X-Auth-Token (HTTP), instead of AK/SK"),
    data_dir: Path = typer.Option(Path(".openstage"), help="where `openstage up` keeps credentials.json (HTTP)"),
    interval: float = typer.Option(0.5, help="seconds between polls"),
    timeout: float = typer.Option(3600, help="give up after this many seconds"),
    as_json: bool = typer.Option(False, "--json", help="print the final job document (JSON) on stdout"),
) -> None:
    """Show a job's tasks live with a progress bar; exit 0 when it SUCCEEDED, 1 when it failed."""
    from openstage import jobwatch

    try:
        if nats_url:
            fetch = jobwatch.bus_fetcher(nats_url, project, job_id)
        else:
            if not (ak and sk) and not token and (data_dir / "credentials.json").exists():
                cred = json.loads((data_dir / "credentials.json").read_text())[0]
                ak, sk = cred["ak"], cred["sk"]
            fetch = jobwatch.http_fetcher(endpoint, project, job_id, ak, sk, token)
        code = jobwatch.watch(fetch, interval, timeout, as_json)
    except jobwatch.WatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
