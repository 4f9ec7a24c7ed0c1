"""Load generators: wrk (C, from Debian's packages) when installed, else a small asyncio
HTTP/1.1 keep-alive client. Both keep `connections` requests in flight and report TPS and
latency percentiles."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def tps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def from_latencies(latencies_s: list[float], seconds: float, errors: int, statuses: dict[str, int]) -> Result:
    lat = sorted(x * 1000 for x in latencies_s)
    return Result(len(lat), seconds, errors, percentile(lat, 50), percentile(lat, 95), percentile(lat, 99), statuses)


# --- wrk -----------------------------------------------------------------------------------------
_WRK_SCRIPT = r"""
local counter = 0
local method, path, headers, body_template = %(method)s, %(path)s, %(headers)s, %(body)s
local thread_id = 0
function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
function init(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local body = body_template
  if body ~= nil then
    body = string.gsub(body, "{{n}}", tostring(tid) .. "-" .. tostring(counter))
  end
  return wrk.format(method, path, headers, body)
end
-- no response(): wrk then neither keeps the answers' headers and bodies nor hands them to Lua
-- (a find of 1,000 instances answers ~400 kB); it counts the answers of status 400 and above
-- itself (summary.errors.status)
done = function(summary, latency, requests)
  io.write(string.format("OPENSTAGE_RESULT {\"requests\": %%d, \"seconds\": %%f, \"socket_errors\": %%d, \"p50\": %%f, \"p95\": %%f, \"p99\": %%f}\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def _lua(value) -> str:
    if value is None:
        return "nil"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str, method: str, path: str, headers: dict[str, str], body: str | None, seconds: float, connections: int, threads: int = 2
) -> Result:
    script = _WRK_SCRIPT % {"method": _lua(method), "path": _lua(path), "headers": _lua(headers), "body": _lua(body)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        script_path = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(min(threads, connections)),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script_path,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(script_path)
    m = re.search(r"OPENSTAGE_RESULT (\{.*\})", out)
    if not m:
        raise RuntimeError(f"wrk gave no result:\n{out}")
    d = json.loads(m.group(1))
    return Result(d["requests"], d["seconds"], d["socket_errors"], d["p50"], d["p95"], d["p99"])


# --- asyncio HTTP/1.1 client ---------------------------------------------------------------------
async def _worker(host: str, port: int, take: Callable[[], bytes | None], latencies: list[float], statuses: dict[str, int]) -> int:
    """Send ``take()``'s requests one after another on one connection until it gives None."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while (payload := take()) is not None:
            t0 = time.perf_counter()
            writer.write(payload)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            code = status_line[9:12].decode()
            statuses[code] = statuses.get(code, 0) + 1
            if not code.startswith(("2", "3")):
                errors += 1
    finally:
        writer.close()
    return errors


def _run(coro):
    """Run the client's loop on uvloop where it is installed (uvicorn[standard] brings it): the
    load generator shares the two cores with the system it measures, so the less CPU its loop
    takes per request the better."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


def build_request(host: str, method: str, path: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _send(url: str, take: Callable[[float], bytes | None], connections: int) -> Result:
    """``connections`` connections sending ``take(started)``'s requests until it gives None."""
    parts = urlsplit(url)

    async def main() -> Result:
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        started = time.perf_counter()
        errors = await asyncio.gather(
            *(_worker(parts.hostname, parts.port, lambda: take(started), latencies, statuses) for _ in range(connections))
        )
        return from_latencies(latencies, time.perf_counter() - started, sum(errors), statuses)

    return _run(main())


def run_python(url: str, method: str, path: str, headers: dict[str, str], body: str | None, seconds: float, connections: int) -> Result:
    host = urlsplit(url).netloc
    counter = itertools.count(1)

    def take(started: float) -> bytes | None:
        if time.perf_counter() >= started + seconds:
            return None
        b = body.replace("{{n}}", str(next(counter))).encode() if body is not None else None
        return build_request(host, method, path, headers, b)

    return _send(url, take, connections)


def send_all(url: str, requests: list[tuple[str, str, dict[str, str], bytes | None]], connections: int) -> Result:
    """Send each of ``requests`` (method, path, headers, body) once, ``connections`` at a time, on
    persistent connections: a client that costs far less than httpx, for set-up runs whose time
    is itself a figure (registering 10,000 instances)."""
    host = urlsplit(url).netloc
    todo = [build_request(host, *r) for r in reversed(requests)]
    return _send(url, lambda _started: todo.pop() if todo else None, connections)


def run_http(
    url: str, method: str, path: str, headers: dict[str, str], body: str | None, seconds: float, connections: int, loadgen: str = "auto"
) -> Result:
    """``body`` may contain ``{{n}}``, replaced by a number unique to each request."""
    if loadgen == "wrk" or (loadgen == "auto" and have_wrk()):
        return run_wrk(url, method, path, headers, body, seconds, connections)
    return run_python(url, method, path, headers, body, seconds, connections)


def median_result(results: list[Result]) -> Result:
    """The run with the median TPS (its latencies go with it), so the row is one real run."""
    ordered = sorted(results, key=lambda r: r.tps)
    return ordered[len(ordered) // 2]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
