"""The `openstage` command: up | edge | worker NAME | agent | logs | jobs watch | api | status."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import typer

from openstage.serve import DEFAULT_REPLICA_PORTS

app = typer.Typer(add_completion=False, help="openstage: ServiceStage-compatible platform and registry")


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(level=os.environ.get("OPENSTAGE_LOG_LEVEL", level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _check_environment() -> None:
    """The JSON settings `openstage up` hands its processes, checked in full before its supervisor
    starts (with pydantic, which the supervisor process does without)."""
    from api_edge.auth import load_credentials_json
    from services.adapters.nats_auth import load_agents_json

    load_credentials_json(os.environ.get("OPENSTAGE_CREDENTIALS"))
    load_agents_json(os.environ.get("OPENSTAGE_AGENTS"))


@app.command()
def up(
    host: str = typer.Option("127.0.0.1", help="address the HTTP API listens on"),
    port: int = typer.Option(8080, help="port of the HTTP API"),
    data_dir: Path = typer.Option(Path(".openstage"), help="where nats, the store and secrets keep their data"),
    nats_port: int = typer.Option(4222, help="port of the embedded nats-server (a free one if taken)"),
    store_port: int = typer.Option(27017, help="port of the embedded store (a free one if taken)"),
    worker_processes: str = typer.Option(
        "combined",
        envvar="OPENSTAGE_WORKER_PROCESSES",
        help="combined: the four domain workers in one process (less memory, restarted together); separate: one process each",
    ),
) -> None:
    """Start the whole system: embedded nats-server and store (unless OPENSTAGE_NATS_URL /
    OPENSTAGE_MONGODB_URL are set), every domain worker, the local host agent and the HTTP edge.
    One per data directory; when it dies, by any signal, everything it started stops too."""
    from openstage.up import UpOptions
    from workers import WORKER_PROCESSES

    if worker_processes not in WORKER_PROCESSES:
        typer.echo(f"openstage up: --worker-processes must be one of {', '.join(WORKER_PROCESSES)}, not {worker_processes!r}", err=True)
        raise typer.Exit(2)
    try:
        _check_environment()
    except ValueError as exc:
        typer.echo(f"openstage up: {exc}", err=True)
        raise typer.Exit(1) from None
    options = UpOptions(host, port, data_dir.resolve(), nats_port, store_port, worker_processes)
    # The supervisor runs as `python -m openstage.up` in this same process (same pid, same output):
    # without this CLI's modules, its idle footprint is a third (openstage/up.py).
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "openstage.up", *options.args()])


@app.command()
def edge(
    host: str = typer.Option(None, help="listen address (default OPENSTAGE_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="listen port (default OPENSTAGE_PORT or 8080)"),
    workers: int = typer.Option(None, help="edge processes sharing the port (default OPENSTAGE_EDGE_WORKERS or 1)"),
) -> None:
    """Run the HTTP edge alone against OPENSTAGE_NATS_URL."""
    from openstage.serve import run_edge

    run_edge(host, port, workers)


@app.command()
def worker(
    name: str = typer.Argument(..., help="lifecycle | config | registry | jobs, or several comma-separated (one process runs them all)"),
) -> None:
    """Run one domain worker (or several in this one process, each with its own broker, connections
    and database) against OPENSTAGE_NATS_URL and OPENSTAGE_MONGODB_URL."""
    from openstage.serve import run_worker, worker_names

    try:
        names = worker_names(name)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    run_worker(names)


@app.command()
def agent(
    host_id: str = typer.Option(None, help="this host's id, one subject token (default: the host name)"),
    nats_url: str = typer.Option(
        None, envvar="OPENSTAGE_NATS_URL", help="NATS with this agent's user: nats://agent-<host id>:<password>@server:4222"
    ),
    data_dir: Path = typer.Option(Path(".openstage-agent"), help="the agent's directory: replicas' working directories, logs, state"),
    projects: str = typer.Option("*", help="comma-separated projects this host serves (* = every project)"),
    address: str = typer.Option(None, help="the address replicas are reached at (default: 127.0.0.1 for 'local', else the host's)"),
    replica_ports: str = typer.Option(
        DEFAULT_REPLICA_PORTS,
        envvar="OPENSTAGE_AGENT_REPLICA_PORTS",
        help="LOW-HIGH: the ports replicas get (below the kernel's ephemeral range, which outgoing connections take theirs from)",
    ),
) -> None:
    """Run the host agent: runs component instances' replicas as supervised processes, on
    commands over NATS (openstage.agent.<host id>.cmd.*), and serves their logs. Replicas stop
    with it and come back at its next start."""
    from openstage.serve import agent_options, run_agent

    try:
        options = agent_options(host_id, nats_url, data_dir, projects, address, replica_ports)
    except ValueError as exc:
        typer.echo(f"openstage agent: {exc}", err=True)
        raise typer.Exit(2) from None
    run_agent(options)


@app.command()
def logs(
    instance_id: str = typer.Argument(..., help="the component instance"),
    replica: int = typer.Option(None, "--replica", "-r", help="only this replica (0-based); default every replica"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing what is written"),
    tail: int = typer.Option(None, "--tail", help="start this many bytes before the end of each log"),
    project: str = typer.Option(None, "--project", "-p", help="only if the instance is of this project"),
    data_dir: Path = typer.Option(Path(".openstage"), help="the data directory of the `openstage up` (its NATS URL)"),
    nats_url: str = typer.Option(None, envvar="OPENSTAGE_NATS_URL", help="NATS URL with the internal user (instead of --data-dir)"),
) -> None:
    """Print a component instance's replica logs, served by the host agents over the bus.
    Exits 1 when no agent holds the instance, 2 when the bus cannot be reached."""
    from openstage import agent_logs, jobwatch
    from openstage.processes import INTERNAL_NATS_FILE, read_internal_nats_url

    kept = read_internal_nats_url(data_dir.resolve())
    url = nats_url or kept
    if not url:
        typer.echo(
            f"openstage logs: no NATS URL: no `openstage up` has run on {data_dir.resolve()} (no {INTERNAL_NATS_FILE}); give --nats-url",
            err=True,
        )
        raise typer.Exit(2)
    target, user, password = jobwatch.nats_target(url, None, None)
    if not user and kept:  # an address without a user (e.g. OPENSTAGE_NATS_URL of integrations): the internal user of the data directory
        _, user, password = jobwatch.nats_target(kept, None, None)
    reader = None
    try:
        reader = agent_logs.BusLogs(target, user, password)
        code = agent_logs.show(reader.ask, instance_id, replica, follow, tail, project_id=project)
    except agent_logs.LogsError as exc:
        typer.echo(f"openstage logs: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        if reader is not None:
            reader.close()
    raise typer.Exit(code)


@app.command("nats-config")
def nats_config(out: Path = typer.Option(..., help="where to write the nats-server config (mode 0600)")) -> None:
    """Write the nats-server authorization config: the internal user (password from
    OPENSTAGE_NATS_PASSWORD), one user per OPENSTAGE_CREDENTIALS entry (user=AK, password=SK),
    each confined to its projects' subjects, and one per OPENSTAGE_AGENTS host agent. compose.yaml runs this before nats-server."""
    from openstage.processes import write_nats_config

    password = os.environ.get("OPENSTAGE_NATS_PASSWORD")
    if not password:
        typer.echo("OPENSTAGE_NATS_PASSWORD must be set", err=True)
        raise typer.Exit(2)
    out.parent.mkdir(parents=True, exist_ok=True)
    from api_edge.auth import load_credentials_json
    from services.adapters.nats_auth import load_agents_json

    try:
        load_credentials_json(os.environ.get("OPENSTAGE_CREDENTIALS"))  # in full: write_nats_config reads only ak, sk, projects
        agents = load_agents_json(os.environ.get("OPENSTAGE_AGENTS"))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    written = write_nats_config(out.parent, password, os.environ.get("OPENSTAGE_CREDENTIALS"), agents)
    if written != out:
        written.replace(out)
    typer.echo(f"wrote {out}")


jobs_app = typer.Typer(add_completion=False, help="Deployment jobs of component instances")
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("watch")
def jobs_watch(
    job_ids: list[str] = typer.Argument(..., help="job ids a create/modify/delete/action call answered with"),
    project: str = typer.Option(..., "--project", "-p", envvar="OPENSTAGE_PROJECT_ID", help="project id"),
    nats_url: str = typer.Option(None, envvar="OPENSTAGE_NATS_URL", help="read the jobs over the bus (NATS URL; user = AK, password = SK)"),
    endpoint: str = typer.Option(
        None, envvar="OPENSTAGE_ENDPOINT", help="read the jobs over HTTP from this edge (default http://127.0.0.1:8080)"
    ),
    ak: str = typer.Option(None, envvar="OPENSTAGE_AK", help="access key (also the NATS user)"),
    sk: str = typer.Option(None, envvar="OPENSTAGE_SK", help="secret key (also the NATS password)"),
    token: str = typer.Option(None, envvar="OPENSTAGE_TOKEN", help="X-Auth-Token (HTTP only), instead of AK/SK"),
    data_dir: Path = typer.Option(Path(".openstage"), help="where `openstage up` keeps credentials.json"),
    interval: float = typer.Option(0.5, help="seconds between polls"),
    timeout: float = typer.Option(3600, help="give up after this many seconds"),
    as_json: bool = typer.Option(False, "--json", help="print the final job document(s) (JSON) on stdout"),
) -> None:
    """Show jobs' tasks live with progress bars. Exit 0 when every job SUCCEEDED, 1 when one failed
    or was cancelled, 2 when one cannot be read (unknown job, no credential, edge or bus unreachable)."""
    from openstage import jobwatch
    from openstage.api_client import ClientError, endpoint_of, generated_credential, resolve_credential

    source = None
    try:
        if nats_url:
            if not (ak and sk):
                cred = generated_credential(data_dir)
                if cred:
                    ak, sk = cred["ak"], cred["sk"]
            url, user, password = jobwatch.nats_target(nats_url, ak, sk)
            source = jobwatch.BusJobs(url, project, user, password)
        else:
            source = jobwatch.HttpJobs(endpoint_of(endpoint), project, resolve_credential(data_dir, ak, sk, token))
        code = jobwatch.watch(source, job_ids, interval, timeout, as_json)
    except (jobwatch.WatchError, ClientError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(jobwatch.UNREADABLE) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        if source is not None:
            source.close()
    raise typer.Exit(code)


@app.command("api")
def api_call(
    method: str = typer.Argument(..., help="GET | POST | PUT | PATCH | DELETE"),
    path: str = typer.Argument(..., help="e.g. /v2/{project_id}/cas/environments ({project_id} and {project} become --project)"),
    data: str = typer.Option(None, "--data", "-d", help="the JSON body, or @file (@- reads stdin)"),
    project: str = typer.Option("default", "--project", "-p", envvar="OPENSTAGE_PROJECT_ID", help="fills {project_id} in PATH"),
    endpoint: str = typer.Option(None, envvar="OPENSTAGE_ENDPOINT", help="the edge (default http://127.0.0.1:8080)", show_default=False),
    data_dir: Path = typer.Option(Path(".openstage"), help="where `openstage up` keeps credentials.json"),
    include: bool = typer.Option(False, "--include", "-i", help="print the status line before the body (stderr)"),
    field: str = typer.Option(
        None, "--field", "-f", help="print only this field of the answer (dotted path, e.g. id or environments.0.id)"
    ),
) -> None:
    """Call the HTTP API, signed (SDK-HMAC-SHA256) with OPENSTAGE_AK/OPENSTAGE_SK, else with
    OPENSTAGE_TOKEN, else with the credential `openstage up` generated in --data-dir. Prints the
    JSON answer; exits 1 on an error status (4xx/5xx), 2 when nothing could be asked."""
    from openstage.api_client import ApiClient, ClientError, endpoint_of, resolve_credential

    try:
        body = _read_body(data)
        url_path = path.replace("{project_id}", project).replace("{project}", project)
        with ApiClient(endpoint_of(endpoint), resolve_credential(data_dir)) as client:
            r = client.request(method, url_path, body)
    except ClientError as exc:
        typer.echo(f"openstage api: {exc}", err=True)
        raise typer.Exit(2) from None
    if include or r.status_code >= 400:
        typer.echo(f"HTTP {r.status_code} {r.reason_phrase}", err=True)
    if r.content:
        try:
            answer = r.json()
        except ValueError:
            typer.echo(r.text)
        else:
            if field and r.status_code < 400:
                answer = _field(answer, field)
            typer.echo(answer if isinstance(answer, str) else json.dumps(answer, indent=2, ensure_ascii=False))
    raise typer.Exit(1 if r.status_code >= 400 else 0)


def _field(answer: object, path: str) -> object:
    value = answer
    for key in path.split("."):
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            typer.echo(f"openstage api: the answer has no field {path!r}", err=True)
            raise typer.Exit(1)
    return value


def _read_body(data: str | None) -> bytes:
    from openstage.api_client import ClientError

    if data is None:
        return b""
    if data.startswith("@"):
        name = data[1:]
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        except OSError as exc:
            raise ClientError(f"cannot read {name}: {exc.strerror or exc}") from None
    else:
        text = data
    try:
        json.loads(text)
    except ValueError as exc:
        raise ClientError(f"--data is not JSON: {exc}") from None
    return text.encode()


@app.command("status")
def status(
    data_dir: Path = typer.Option(Path(".openstage"), help="the data directory of the `openstage up`"),
    project: list[str] = typer.Option(
        None, "--project", "-p", help="projects to count (repeatable; default OPENSTAGE_PROJECT_ID or 'default')"
    ),
    endpoint: str = typer.Option(None, help="the edge (default: the address the edge of this run listens on)"),
    as_json: bool = typer.Option(False, "--json", help="print the status as JSON"),
) -> None:
    """What `openstage up` runs on DATA_DIR: each process's health, addresses and resident memory,
    and counts of environments, applications, components, instances and registry micro-services.
    Exits 1 when no `openstage up` runs there, 3 when it runs but is not ready."""
    from openstage import status as st

    projects = project or [os.environ.get("OPENSTAGE_PROJECT_ID") or "default"]
    try:
        result = st.collect(data_dir, projects, endpoint)
    except st.NotRunning as exc:
        typer.echo(f"openstage status: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(result.to_json() if as_json else st.render(result))
    raise typer.Exit(0 if result.ready == "ready" else 3)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
