"""`openstage jobs watch JOB_ID...`: follow deployment jobs' tasks live until they end.

Each job is read either over the bus (the ``jobs.job.get`` command, when a NATS URL is given: as
the credential's NATS user, user = AK and password = SK, with its inbox prefix ``_INBOX_<AK>``)
or over HTTP (``GET /v2/{project_id}/cas/jobs/{job_id}``, signed with an AK/SK as the Huawei SDK
signs, or with an X-Auth-Token).

Exit codes: 0 every job SUCCEEDED; 1 a job failed or was cancelled (and every job could be read);
2 a job could not be read (unknown job, no credential, edge or bus unreachable, timeout)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from openstage.api_client import ApiClient, ClientError, Credential, error_message
from services.adapters.nats_auth import tenant_inbox_prefix
from services.contracts import subjects
from services.contracts.jobs import ExecutionStatus, JobDetail, is_terminal

E = ExecutionStatus
_STYLE = {E.SUCCEEDED: "green", E.FAILED: "red", E.RUNNING: "yellow", E.CANCELLED: "magenta", E.SKIPPED: "dim", E.SUBMITTED: "dim"}
OK, FAILED, UNREADABLE = 0, 1, 2


class WatchError(Exception):
    """A job cannot be read (one line, no traceback)."""


Fetch = Callable[[str], JobDetail]


def _job(result: object) -> JobDetail:
    try:
        return JobDetail.model_validate(result)
    except ValueError as exc:
        raise WatchError(f"the answer is not a job: {exc}") from None


class HttpJobs:
    def __init__(self, endpoint: str, project: str, credential: Credential) -> None:
        self.project = project
        self.client = ApiClient(endpoint, credential, timeout=10)

    def __call__(self, job_id: str) -> JobDetail:
        try:
            r = self.client.request("GET", f"/v2/{self.project}/cas/jobs/{job_id}")
        except ClientError as exc:
            raise WatchError(str(exc)) from None
        if r.status_code != 200:
            raise WatchError(f"HTTP {r.status_code}: {error_message(r)}")
        return _job(r.json())

    def close(self) -> None:
        self.client.close()


def nats_target(url: str, ak: str | None, sk: str | None) -> tuple[str, str | None, str | None]:
    """(the URL without user info, user, password): the user in the URL, else the AK/SK."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    user, password = parts.username, parts.password
    netloc = parts.hostname or "127.0.0.1"
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    if user:
        return clean, user, password
    return clean, ak, sk


class BusJobs:
    """jobs.job.get over NATS as the credential's user (inbox prefix _INBOX_<AK>)."""

    def __init__(self, nats_url: str, project: str, user: str | None, password: str | None) -> None:
        import nats

        self.project = project
        self.loop = asyncio.new_event_loop()
        self.errors: list[str] = []

        async def on_error(exc: Exception) -> None:  # nats-py would log a traceback
            self.errors.append(str(exc) or type(exc).__name__)

        options: dict = {
            "connect_timeout": 5,
            "allow_reconnect": False,
            "max_reconnect_attempts": 1,  # 0 would mean "forever" on the first connect
            "reconnect_time_wait": 0.2,
            "error_cb": on_error,
            "name": "openstage-jobs-watch",
        }
        if user:
            options.update(user=user, password=password or "", inbox_prefix=tenant_inbox_prefix(user))
        try:
            self.nc = self.loop.run_until_complete(asyncio.wait_for(nats.connect(nats_url, **options), 15))
        except Exception as exc:
            self.loop.close()
            why = "; ".join(dict.fromkeys(self.errors)) or str(exc) or type(exc).__name__
            hint = "" if user else " (no NATS user: set OPENSTAGE_AK/OPENSTAGE_SK or use the data directory's credential)"
            raise WatchError(f"cannot connect to {nats_url}: {why}{hint}") from None

    def __call__(self, job_id: str) -> JobDetail:
        subject = subjects.command(self.project, subjects.JOBS, subjects.Jobs.GET)
        try:
            msg = self.loop.run_until_complete(self.nc.request(subject, json.dumps({"job_id": job_id}).encode(), timeout=10))
        except Exception as exc:
            why = "; ".join(dict.fromkeys(self.errors)) or str(exc) or type(exc).__name__
            raise WatchError(f"the jobs worker did not answer on {subject}: {why}") from None
        try:
            reply = json.loads(msg.data)
        except ValueError:
            raise WatchError(f"the answer on {subject} is not JSON") from None
        if reply.get("error"):
            err = reply["error"]
            raise WatchError(f"{reply.get('status')}: {err.get('error_msg') or err.get('errorMessage')}")
        return _job(reply.get("result"))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.nc.close())
        except Exception:
            pass
        self.loop.close()


@dataclass
class Watched:
    job_id: str
    job: JobDetail | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.error is not None or (self.job is not None and is_terminal(self.job.job.execution_status))


def _job_table(w: Watched) -> Table | Text:
    if w.job is None:
        return Text(f"job {w.job_id}: {w.error}", style="red")
    table = Table(box=None, pad_edge=False, title=None)
    table.add_column("#", justify="right")
    table.add_column("task")
    table.add_column("status")
    table.add_column("message", overflow="fold")
    for t in w.job.tasks:
        table.add_row(str(t.task_index), t.task_name, f"[{_STYLE.get(t.task_status, 'white')}]{t.task_status}[/]", t.messages or "")
    return table


def render(watched: list[Watched], progress: Progress, bars: dict[str, TaskID]) -> Group:
    parts: list = []
    for w in watched:
        if w.job is not None:
            job = w.job
            done = sum(1 for t in job.tasks if is_terminal(t.task_status))
            status = job.job.execution_status
            progress.update(
                bars[w.job_id],
                completed=done,
                total=max(1, job.task_count or len(job.tasks)),
                description=f"{job.job.job_name or job.job.job_id} [{_STYLE.get(status, 'white')}]{status}[/]",
            )
        elif w.error is not None:
            progress.update(bars[w.job_id], description=f"{w.job_id} [red]cannot be read[/]")
        if len(watched) > 1:
            parts.append(Text(f"job {w.job_id}", style="bold"))
        parts.append(_job_table(w))
    return Group(*parts, progress)


def _read(fetch: Fetch, w: Watched) -> None:
    try:
        w.job = fetch(w.job_id)
    except WatchError as exc:
        w.error = str(exc)


def watch(fetch: Fetch, job_ids: list[str], interval: float, timeout: float, as_json: bool, console: Console | None = None) -> int:
    """Poll until every job ends: 0 when all SUCCEEDED, 1 when one failed or was cancelled, 2 when
    one cannot be read (or did not end within ``timeout``)."""
    console = console or Console(stderr=as_json)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
    watched = [Watched(j) for j in dict.fromkeys(job_ids)]
    bars = {w.job_id: progress.add_task(w.job_id, total=1) for w in watched}
    deadline = time.monotonic() + timeout
    for w in watched:
        _read(fetch, w)
    with Live(render(watched, progress, bars), console=console, refresh_per_second=8, transient=False) as live:
        while not all(w.done for w in watched):
            if time.monotonic() > deadline:
                for w in watched:
                    if not w.done:
                        w.error = f"did not end within {timeout:g}s"
                break
            time.sleep(interval)
            for w in watched:
                if not w.done:
                    _read(fetch, w)
            live.update(render(watched, progress, bars))
        live.update(render(watched, progress, bars))
    if as_json:
        docs = [w.job.model_dump(mode="json", by_alias=True) if w.job else {"job_id": w.job_id, "error": w.error} for w in watched]
        sys.stdout.write(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n")
        sys.stdout.flush()
    codes = []
    errors = Console(stderr=True)
    for w in watched:
        if w.error is not None:
            errors.print(f"[red]job {w.job_id}: cannot be read: {w.error}[/]", soft_wrap=True)
            codes.append(UNREADABLE)
            continue
        assert w.job is not None
        for t in w.job.tasks:
            if t.task_status == E.FAILED:
                console.print(f"[red]job {w.job_id}: task {t.task_index} ({t.task_name}) failed: {t.messages}[/]")
        status = w.job.job.execution_status
        console.print(f"job {w.job_id}: [{_STYLE.get(status, 'white')}]{status}[/]")
        codes.append(OK if status == E.SUCCEEDED else FAILED)
    return max(codes, default=OK)
