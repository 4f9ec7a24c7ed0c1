"""`openstage jobs watch JOB_ID`: follow a deployment job's tasks live until it ends.

The job is read either over the bus (the ``jobs.job.get`` command, when a NATS URL is given) or
over HTTP (``GET /v2/{project_id}/cas/jobs/{job_id}``, signed with an AK/SK as the Huawei SDK
signs, or with an X-Auth-Token)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from api_edge.auth import canonical_query_string, canonical_uri
from services.contracts import subjects
from services.contracts.jobs import ExecutionStatus, JobDetail, is_terminal

E = ExecutionStatus
_STYLE = {
    E.SUCCEEDED: "green",
    E.FAILED: "red",
    E.RUNNING: "yellow",
    E.CANCELLED: "magenta",
    E.SKIPPED: "dim",
    E.SUBMITTED: "dim",
}


class WatchError(Exception):
    pass


def sign(method: str, url: str, ak: str, sk: str, body: bytes = b"", now: datetime | None = None) -> dict[str, str]:
    """Headers of an SDK-HMAC-SHA256 signed request (what huaweicloudsdkcore's Signer sends)."""
    parts = urlsplit(url)
    date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    headers = {"host": parts.netloc, "x-sdk-date": date}
    signed = sorted(headers)
    canonical_headers = "".join(f"{h}:{headers[h].strip()}\n" for h in signed)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path or "/"),
            canonical_query_string(parts.query),
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = f"SDK-HMAC-SHA256\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "X-Sdk-Date": date,
        "Host": parts.netloc,
        "Authorization": f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(signed)}, Signature={signature}",
    }


Fetch = Callable[[], JobDetail]


def _job(result: object) -> JobDetail:
    try:
        return JobDetail.model_validate(result)
    except ValueError as exc:
        raise WatchError(f"the answer is not a job: {exc}") from None


def http_fetcher(endpoint: str, project: str, job_id: str, ak: str | None, sk: str | None, token: str | None) -> Fetch:
    url = f"{endpoint.rstrip('/')}/v2/{project}/cas/jobs/{job_id}"
    client = httpx.Client(timeout=10)

    def fetch() -> JobDetail:
        if token:
            headers = {"X-Auth-Token": token}
        elif ak and sk:
            headers = sign("GET", url, ak, sk)
        else:
            raise WatchError("give credentials: --ak/--sk (OPENSTAGE_AK/OPENSTAGE_SK) or --token (OPENSTAGE_TOKEN)")
        r = client.get(url, headers=headers)
        if r.status_code != 200:
            try:
                detail = r.json().get("error_msg", r.text)
            except ValueError:
                detail = r.text
            raise WatchError(f"HTTP {r.status_code}: {detail}")
        return _job(r.json())

    return fetch


def bus_fetcher(nats_url: str, project: str, job_id: str) -> Fetch:
    import nats

    loop = asyncio.new_event_loop()
    nc = loop.run_until_complete(nats.connect(nats_url, connect_timeout=5))
    subject = subjects.command(project, subjects.JOBS, subjects.Jobs.GET)

    def fetch() -> JobDetail:
        try:
            msg = loop.run_until_complete(nc.request(subject, json.dumps({"job_id": job_id}).encode(), timeout=10))
        except Exception as exc:
            raise WatchError(f"the jobs worker did not answer: {exc}") from None
        reply = json.loads(msg.data)
        if reply.get("error"):
            raise WatchError(f"{reply['status']}: {reply['error'].get('error_msg')}")
        return _job(reply["result"])

    return fetch


def render(job: JobDetail, progress: Progress, bar: TaskID) -> Group:
    done = sum(1 for t in job.tasks if is_terminal(t.task_status))
    status = job.job.execution_status
    progress.update(
        bar,
        completed=done,
        total=max(1, job.task_count or len(job.tasks)),
        description=f"{job.job.job_name or job.job.job_id} [{_STYLE.get(status, 'white')}]{status}[/]",
    )
    table = Table(box=None, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("task")
    table.add_column("status")
    table.add_column("message", overflow="fold")
    for t in job.tasks:
        table.add_row(
            str(t.task_index),
            t.task_name,
            f"[{_STYLE.get(t.task_status, 'white')}]{t.task_status}[/]",
            t.messages or "",
        )
    return Group(table, progress)


def watch(fetch: Fetch, interval: float, timeout: float, as_json: bool, console: Console | None = None) -> int:
    """Poll until the job ends: 0 when it SUCCEEDED, 1 when it failed or was cancelled."""
    console = console or Console(stderr=as_json)
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    bar = progress.add_task("job", total=1)
    deadline = time.monotonic() + timeout
    job = fetch()
    with Live(render(job, progress, bar), console=console, refresh_per_second=8, transient=False) as live:
        while not is_terminal(job.job.execution_status):
            if time.monotonic() > deadline:
                raise WatchError(f"the job did not end within {timeout:g}s")
            time.sleep(interval)
            job = fetch()
            live.update(render(job, progress, bar))
    status = job.job.execution_status
    if as_json:
        sys.stdout.write(json.dumps(job.model_dump(mode="json", by_alias=True), indent=2) + "\n")
        sys.stdout.flush()
    else:
        for t in job.tasks:
            if t.task_status == E.FAILED:
                console.print(f"[red]task {t.task_index} ({t.task_name}) failed: {t.messages}[/]")
        console.print(f"job {job.job.job_id}: [{_STYLE.get(status, 'white')}]{status}[/]")
    return 0 if status == E.SUCCEEDED else 1
