"""`openstage status`: what a running `openstage up` runs (from its run record, <data dir>/run.json),
each process's health, addresses and resident memory, and what the platform holds (counts of
environments, component instances and registry micro-services, read through the HTTP API with the
credential `openstage up` generated)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from openstage import linux_processes as procs
from openstage.api_client import ApiClient, ClientError, resolve_credential
from openstage.run_record import RunRecord

NOT_ANSWERING = "workers not answering: "  # /readyz's reason (api_edge/app.py)


class NotRunning(Exception):
    pass


@dataclass
class ProcessStatus:
    name: str
    pid: int
    running: bool
    health: str  # "ok", "not ready", "exited", or what is wrong
    addresses: list[str] = field(default_factory=list)
    rss_bytes: int = 0
    processes: int = 0  # the process and its descendants (the edge's uvicorn workers)


@dataclass
class ProjectCounts:
    project: str
    environments: int | None = None
    applications: int | None = None
    components: int | None = None
    instances: int | None = None
    services: int | None = None
    error: str | None = None


@dataclass
class Status:
    data_dir: str
    supervisor_pid: int
    endpoint: str | None
    ready: str
    processes: list[ProcessStatus]
    projects: list[ProjectCounts]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _tree(pid: int, descendants: bool) -> list:
    """psutil processes of pid (and its descendants); psutil is optional: [] without it."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with the dev extras
        return []
    try:
        p = psutil.Process(pid)
        return [p, *(p.children(recursive=True) if descendants else [])]
    except psutil.Error:
        return []


def _rss_from_proc(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _listening(tree: list) -> list[str]:
    out: list[str] = []
    for p in tree:
        try:
            conns = p.net_connections(kind="inet") if hasattr(p, "net_connections") else p.connections(kind="inet")
        except Exception:
            continue
        for c in conns:
            if c.status == "LISTEN" and c.laddr:
                addr = f"{c.laddr.ip}:{c.laddr.port}" if ":" not in c.laddr.ip else f"[{c.laddr.ip}]:{c.laddr.port}"
                if addr not in out:
                    out.append(addr)
    return out


def process_status(name: str, pid: int, start_ticks: int) -> ProcessStatus:
    running = procs.is_running(procs.ProcessIdentity(pid, start_ticks))
    if not running:
        return ProcessStatus(name, pid, False, "exited")
    # the edge's own children (uvicorn's worker processes) are part of it; the supervisor's are listed
    tree = _tree(pid, descendants=name == "edge")
    rss = 0
    for p in tree:
        try:
            rss += p.memory_info().rss
        except Exception:
            pass
    if not tree:
        rss = _rss_from_proc(pid)
    return ProcessStatus(name, pid, True, "running", _listening(tree), rss, max(1, len(tree)))


def _http_address(addresses: list[str]) -> str | None:
    for a in addresses:
        host, _, port = a.rpartition(":")
        if host in ("0.0.0.0", "[::]", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"
    return None


def count_project(client: ApiClient, project: str) -> ProjectCounts:
    counts = ProjectCounts(project)
    try:
        counts.environments = client.get_json(f"/v2/{project}/cas/environments?limit=1")["count"]
        apps: list[dict] = []
        while True:
            page = client.get_json(f"/v2/{project}/cas/applications?limit=100&offset={len(apps)}")
            apps += page["applications"]
            if not page["applications"] or len(apps) >= page["count"]:
                break
        counts.applications = len(apps)
        counts.components = counts.instances = 0
        for app in apps:
            overviews = client.get_json(f"/v2/{project}/cas/applications/{app['id']}/components/overviews")
            counts.components += len(overviews["components"])
            counts.instances += sum(len(c.get("instances") or []) for c in overviews["components"])
        services = client.get_json(f"/v4/{project}/registry/microservices").get("services") or []
        counts.services = len(services)
    except (ClientError, KeyError, TypeError, ValueError) as exc:
        counts.error = str(exc)
    return counts


def collect(data_dir: Path, projects: list[str], endpoint: str | None = None) -> Status:
    data_dir = data_dir.resolve()
    record = RunRecord.read(data_dir)
    if record is None:
        raise NotRunning(f"no `openstage up` is running on {data_dir} (no run record {data_dir / 'run.json'})")
    if record.boot_id != procs.boot_id() or not procs.is_running(record.supervisor.identity()):
        raise NotRunning(f"the `openstage up` recorded in {data_dir / 'run.json'} (pid {record.supervisor.pid}) is not running")
    supervisor = process_status("supervisor", record.supervisor.pid, record.supervisor.start_ticks)
    children = [process_status(name, rp.pid, rp.start_ticks) for name, rp in record.children.items()]
    edge = next((c for c in children if c.name == "edge"), None)
    endpoint = endpoint or (_http_address(edge.addresses) if edge and edge.running else None)

    ready = "unknown (no edge address)"
    missing: set[str] = set()
    if endpoint:
        try:
            r = httpx.get(f"{endpoint}/readyz", timeout=5)
            body = r.json()
            ready = "ready" if r.status_code == 200 else f"not ready: {body.get('reason', r.text)}"
            reason = str(body.get("reason", "")) if r.status_code != 200 else ""
            if reason.startswith(NOT_ANSWERING):
                missing = set(reason.removeprefix(NOT_ANSWERING).split(", "))
            if edge is not None and edge.running:
                edge.health = "ok"
        except (httpx.HTTPError, ValueError) as exc:
            ready = f"edge not answering: {exc}"
            if edge is not None and edge.running:
                edge.health = "not answering HTTP"
    for c in children:
        if not c.running:
            continue
        if c.name.startswith("worker-"):
            domains = set(c.name.removeprefix("worker-").split(","))  # several: the combined worker process
            if domains & missing:
                c.health = "not answering on the bus"
            elif ready == "ready" or missing:
                c.health = "ok"
        elif c.name.startswith("agent-"):
            c.health = "ok"  # a host agent answers no HTTP; its replicas' health is in the instances' status
        elif c.name in ("nats-server", "store"):
            c.health = "ok" if c.addresses else "not listening"
        elif c.name == "lifeline":
            c.health = "ok"

    counts: list[ProjectCounts] = []
    if endpoint:
        try:
            credential = resolve_credential(data_dir)
        except ClientError as exc:
            counts = [ProjectCounts(p, error=str(exc)) for p in projects]
        else:
            with ApiClient(endpoint, credential, timeout=10) as client:
                counts = [count_project(client, p) for p in projects]
    supervisor.health = "ok"
    return Status(str(data_dir), record.supervisor.pid, endpoint, ready, [supervisor, *children], counts)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n else "-"


def render(status: Status) -> str:
    lines = [f"openstage up on {status.data_dir} (supervisor pid {status.supervisor_pid})"]
    lines.append(f"  API: {status.endpoint or '-'}   {status.ready}")
    lines.append("")
    lines.append(f"  {'process':<18} {'pid':>8}  {'health':<26} {'memory (RSS)':>13}  addresses")
    for p in status.processes:
        extra = f" ({p.processes} processes)" if p.processes > 1 else ""
        lines.append(f"  {p.name:<18} {p.pid:>8}  {p.health:<26} {_mib(p.rss_bytes):>13}  {', '.join(p.addresses) or '-'}{extra}")
    total = sum(p.rss_bytes for p in status.processes)
    lines.append(f"  {'total':<18} {'':>8}  {'':<26} {_mib(total):>13}")
    for c in status.projects:
        lines.append("")
        if c.error:
            lines.append(f"  project {c.project}: counts unavailable: {c.error}")
        else:
            lines.append(
                f"  project {c.project}: {c.environments} environments, {c.applications} applications, "
                f"{c.components} components, {c.instances} instances, {c.services} registry micro-services"
            )
    return "\n".join(lines)
