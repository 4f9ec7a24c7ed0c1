"""Health probes (SDK ComponentProbe) and lifecycle hooks (SDK LifecycleProcess) of a replica.

A probe is ``http`` (GET scheme://host:port/path answers 2xx or 3xx), ``tcp`` (host:port accepts a
connection) or ``command`` (argv run in the replica's directory with its environment exits 0);
each attempt is bounded by the probe's ``timeout`` (seconds, at least 1). The host defaults to
127.0.0.1 and the port to the replica's PORT. A hook is ``command`` or ``http`` (GET) likewise.
Each check returns None when it passed, else why it failed, in words."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.contracts.agent import LifecycleHook, Probe

HOOK_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Target:
    """Where the replica is: its port, working directory and environment."""

    port: int
    cwd: Path
    env: dict[str, str]


def _port(parameters: dict[str, Any], target: Target) -> int:
    try:
        return int(parameters.get("port") or target.port)
    except (TypeError, ValueError):
        return target.port


async def http_get(scheme: str, host: str, port: int, path: str, timeout: float) -> str | None:
    context = None
    if scheme.lower() == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # a health check, not a trust decision
    path = path if path.startswith("/") else "/" + path
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: openstage-agent\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            status_line = await reader.readline()
    except TimeoutError:
        return f"GET {scheme}://{host}:{port}{path} timed out after {timeout:g}s"
    except OSError as exc:
        return f"GET {scheme}://{host}:{port}{path}: {exc.strerror or exc}"
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    parts = status_line.decode("latin-1").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return f"GET {scheme}://{host}:{port}{path}: not an HTTP answer"
    code = int(parts[1])
    return None if 200 <= code < 400 else f"GET {scheme}://{host}:{port}{path} answered {code}"


async def tcp_connect(host: str, port: int, timeout: float) -> str | None:
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return f"connecting to {host}:{port} timed out after {timeout:g}s"
    except OSError as exc:
        return f"connecting to {host}:{port}: {exc.strerror or exc}"
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return None


async def run_command(command: Any, target: Target, timeout: float) -> str | None:
    if isinstance(command, str):
        argv = ["/bin/sh", "-c", command]
    elif isinstance(command, list) and command and all(isinstance(a, str) for a in command):
        argv = command
    else:
        return "no command given"
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=target.cwd,
            env=target.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        return f"cannot run {argv[0]}: {exc.strerror or exc}"
    try:
        async with asyncio.timeout(timeout):
            code = await proc.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return f"{argv[0]} did not end within {timeout:g}s"
    return None if code == 0 else f"{argv[0]} exited with code {code}"


async def check(probe: Probe, target: Target) -> str | None:
    """One attempt of the probe."""
    p = probe.parameters
    timeout = float(max(1, probe.timeout))
    kind = probe.type.lower()
    if kind == "http":
        return await http_get(
            str(p.get("scheme") or "http"), str(p.get("host") or "127.0.0.1"), _port(p, target), str(p.get("path") or "/"), timeout
        )
    if kind == "tcp":
        return await tcp_connect(str(p.get("host") or "127.0.0.1"), _port(p, target), timeout)
    if kind == "command":
        return await run_command(p.get("command"), target, timeout)
    return f"unknown probe type {probe.type!r}"


async def run_hook(hook: LifecycleHook, target: Target, timeout: float = HOOK_TIMEOUT_SECONDS) -> str | None:
    p = hook.parameters
    kind = hook.type.lower()
    if kind == "command":
        return await run_command(p.get("command"), target, timeout)
    if kind == "http":
        return await http_get("http", str(p.get("host") or "127.0.0.1"), _port(p, target), str(p.get("path") or "/"), timeout)
    return f"unknown hook type {hook.type!r}"
