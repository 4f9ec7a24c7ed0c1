"""The process `openstage up` runs as: the supervisor (openstage/supervisor.py), from the claim of
the data directory to the clean stop.

`openstage up` (openstage/cli.py) reads and checks its options and environment, then replaces
itself (exec, same pid) with ``python -m openstage.up`` and those options: the process that stays
up for the system's whole life then holds neither the CLI's modules (typer, which brings pydantic)
nor pydantic nor OpenSSL (``secrets``, ``http.client``), which is most of its idle memory. Only the
standard library and small openstage modules are imported here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openstage.processes import random_token, write_private
from openstage.startup_errors import StartupError
from openstage.supervisor import StopRequested, StopSignals, Supervisor
from workers import COMBINED, WORKER_PROCESSES, WORKERS

READY_LINE = "Press Ctrl-C to stop."


@dataclass(frozen=True)
class UpOptions:
    host: str
    port: int
    data_dir: Path
    nats_port: int
    store_port: int
    worker_processes: str = COMBINED

    def args(self) -> list[str]:
        """The command line of this process: ``python -m openstage.up`` and these."""
        return [
            *("--host", self.host, "--port", str(self.port), "--data-dir", str(self.data_dir)),
            *("--nats-port", str(self.nats_port), "--store-port", str(self.store_port), "--worker-processes", self.worker_processes),
        ]

    @classmethod
    def parse(cls, argv: list[str]) -> UpOptions:
        p = argparse.ArgumentParser(prog="python -m openstage.up", description="what `openstage up` runs as (see `openstage up --help`)")
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--data-dir", type=Path, required=True)
        p.add_argument("--nats-port", type=int, required=True)
        p.add_argument("--store-port", type=int, required=True)
        p.add_argument("--worker-processes", choices=WORKER_PROCESSES, default=COMBINED)
        a = p.parse_args(argv)
        return cls(a.host, a.port, a.data_dir.resolve(), a.nats_port, a.store_port, a.worker_processes)


def say(text: str, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _kept_secret(path: Path, what: str, make: Callable[[], dict]) -> dict:
    """The one entry of ``path`` (a JSON list, mode 0600), made with ``make()`` the first time."""
    if path.exists():
        try:
            return json.loads(path.read_text())[0]
        except (OSError, ValueError, LookupError) as exc:
            raise StartupError(f"cannot read {path} ({exc}); fix it, or delete it to get a new {what}") from None
    entry = make()
    try:
        write_private(path, json.dumps([entry]))
    except OSError as exc:
        raise StartupError(f"cannot write {path}: {exc.strerror or exc}") from None
    return entry


def _random_ak() -> str:
    alphabet = string.ascii_uppercase + string.digits
    # os.urandom, as secrets.choice (whose module would load OpenSSL into this process); 252 = 7 * 36: no modulo bias
    picked = []
    while len(picked) < 20:
        picked += [alphabet[b % 36] for b in os.urandom(32) if b < 252]
    return "".join(picked[:20])


def generate_credential(data_dir: Path) -> dict:
    """One AK/SK for all projects, kept in data_dir/credentials.json (mode 0600)."""
    return _kept_secret(
        data_dir / "credentials.json", "credential", lambda: {"ak": _random_ak(), "sk": random_token(30), "projects": ["*"]}
    )


def generate_registry_account(data_dir: Path) -> dict:
    """One registry account for all projects (Service-Center RBAC: POST /v4/token), kept in
    data_dir/registry-account.json (mode 0600), which the edge reads (api_edge/registry_tokens.py)."""
    return _kept_secret(
        data_dir / "registry-account.json", "account", lambda: {"name": "root", "password": random_token(18), "projects": ["*"]}
    )


def generate_agent_password(data_dir: Path) -> dict:
    """The NATS password of the local host agent, kept in data_dir/agent-local.json (mode 0600)."""
    return _kept_secret(data_dir / "agent-local.json", "agent password", lambda: {"host_id": "local", "password": random_token(24)})


def token_count() -> int:
    """How many tokens OPENSTAGE_TOKENS holds (`openstage up` checked it before this process started)."""
    try:
        tokens = json.loads(os.environ.get("OPENSTAGE_TOKENS") or "[]")
    except ValueError:
        return 0
    return len(tokens) if isinstance(tokens, list) else 0


def run(options: UpOptions) -> int:
    """Start the whole system, print where it is, supervise it until a stop signal, stop it;
    the exit code (1: it could not start, 130: interrupted while starting)."""
    logging.basicConfig(level=os.environ.get("OPENSTAGE_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir, host, port = options.data_dir, options.host, options.port
    supervisor = Supervisor(data_dir, host, port, options.nats_port, options.store_port, list(WORKERS))
    supervisor.system.worker_processes = options.worker_processes
    signals = StopSignals()
    started = time.monotonic()
    try:
        signals.install()
        supervisor.claim_data_dir()
        supervisor.system.agent_password = generate_agent_password(data_dir)["password"]
        if supervisor.previous_run_stopped:
            say(f"stopped what a previous run left running: {', '.join(supervisor.previous_run_stopped)}")
        env: dict[str, str] = {}
        cred = None
        # OPENSTAGE_TOKENS adds tokens: the generated AK/SK stays on unless OPENSTAGE_CREDENTIALS is set
        if not os.environ.get("OPENSTAGE_CREDENTIALS"):
            cred = generate_credential(data_dir)
            env["OPENSTAGE_CREDENTIALS"] = json.dumps([cred])
        account = None
        modes = os.environ.get("OPENSTAGE_REGISTRY_AUTH", "rbac,aksk")
        if "rbac" in modes.lower() and not os.environ.get("OPENSTAGE_REGISTRY_ACCOUNTS"):
            account = generate_registry_account(data_dir)  # the edge reads it from the data directory
        env["OPENSTAGE_REGISTRY_AUTH"] = modes
        supervisor.start(env)
        signals.starting = False
    except StartupError as exc:
        signals.starting = False  # a signal now must not cut the clean-up short
        supervisor.stop()
        one_line = str(exc).replace("\n", " ")
        say(f"openstage up: {one_line}", err=True)
        return 1
    except StopRequested as exc:
        signals.starting = False
        supervisor.stop()
        say(f"openstage up: start-up interrupted ({exc}); everything it had started is stopped", err=True)
        return 130
    system = supervisor.system
    base = f"http://{host}:{port}"
    say(f"openstage is ready in {time.monotonic() - started:.1f}s")
    say(f"  API:        {base}/v2/{{project_id}}/cas/...  {base}/v4/{{project}}/registry/...")
    say(f"  docs:       {base}/docs  (OpenAPI)   {base}/asyncapi  (bus commands and events)")
    say(f"  health:     {base}/healthz  {base}/readyz")
    say(f"  NATS:       nats://{host}:{system.nats_url.rsplit(':', 1)[-1]}  (integrations: user=AK password=SK)")
    say(f"  MongoDB:    {system.mongodb_url}")
    say(f"  data:       {data_dir}  (logs in {data_dir / 'logs'})")
    say(f"  host agent: local, every project (replicas in {data_dir / 'agent-local'}; `openstage logs INSTANCE_ID`)")
    if cred:
        say(f"  credential: AK={cred['ak']} SK={cred['sk']}  (all projects; kept in {data_dir / 'credentials.json'})")
    else:
        say("  credential: the AK/SK of OPENSTAGE_CREDENTIALS (none generated)")
    if account:
        say(
            f"  registry:   account={account['name']} password={account['password']}  (POST /v4/token, then "
            f"Authorization: Bearer; all projects; kept in {data_dir / 'registry-account.json'})"
        )
    say(f"  registry auth: {modes}")
    if "open" in modes.lower() and host not in ("127.0.0.1", "localhost", "::1"):
        say(f"  WARNING: registry auth 'open' on {host}: /v4, /v3 and Kie answer anyone, on every project", err=True)
    tokens = token_count()
    if tokens:
        say(f"  tokens:     {tokens} from OPENSTAGE_TOKENS (X-Auth-Token), in addition to the AK/SK")
    say(f"  console:    {base}/console  (sign in with the AK/SK or a token)")
    say(READY_LINE)
    try:
        supervisor.supervise(signals)
    finally:
        say("stopping...")
        supervisor.stop()
        say("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(UpOptions.parse(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
