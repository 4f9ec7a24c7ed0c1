"""hello-microservice: a microservice that registers itself in the CSE registry (Service-Center /v4,
openstage's registry) from the variables a ServiceStage deployment injects, heartbeats, and
unregisters when it is stopped.

Standard library only (Python 3.8+). Steps, one log line each on stdout:

1. serve HTTP on $PORT ($BIND_ADDRESS, default 0.0.0.0): GET / (version, registered ids),
   GET /env (CAS_*, PAAS_* and ?names=A,B), GET /health;
2. log in when SERVICECOMB_CREDENTIALS_ACCOUNT_NAME/_PASSWORD are set (POST /v4/token, then
   "Authorization: Bearer <token>" on every call; a 401 logs in again);
3. create the micro-service (appId $CAS_APPLICATION_NAME, serviceName $CAS_COMPONENT_NAME, version
   $CAS_INSTANCE_VERSION) or find the existing one;
4. register an instance with endpoint rest://$ADVERTISE_HOST:$PORT (default 127.0.0.1);
5. heartbeat every $HEARTBEAT_SECONDS (default 10; the instance's health check says the same, so
   the registry drops it 4 missed beats later); an instance the registry forgot is registered again;
6. on SIGTERM/SIGINT: unregister the instance, stop serving, exit 0.

Until the registry answers, every step is retried with a growing pause (1 s up to 10 s). A refusal
that retrying cannot fix (400 other than "instance does not exist", 403) exits with code 1."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

APP = "hello-microservice"
HERE = Path(__file__).resolve().parent
TIMEOUT = 5.0
# Service-Center's version rule: 1 to 4 dot-separated integers 0..32767, at most 64 characters
VERSION_RULE = re.compile(r"^\d+(\.\d+){0,3}$")


def log(line: str) -> None:
    print(f"{APP}: {line}", flush=True)


def package_version() -> str:
    try:
        return (HERE / "VERSION").read_text().strip() or "0.0.0"
    except OSError:
        return "0.0.0"


def service_version(*candidates: str) -> str:
    """The first candidate Service-Center accepts as a version, else 1.0.0."""
    for v in candidates:
        v = (v or "").strip()
        if v and len(v) <= 64 and VERSION_RULE.match(v) and all(int(p) <= 32767 for p in v.split(".")):
            return v
    return "1.0.0"


class Fatal(Exception):
    """The registry refused something retrying will not fix."""


class Unreachable(Exception):
    """The registry did not answer (or answered 5xx): try again later."""


class Registry:
    """A minimal Service-Center v4 client (urllib)."""

    def __init__(self, endpoint: str, project: str, account: str, password: str) -> None:
        endpoint = endpoint.split(",")[0].strip().rstrip("/")
        self.endpoint = endpoint if "://" in endpoint else f"http://{endpoint}"
        self.project = project
        self.account = account
        self.password = password
        self.token = ""

    def base(self) -> str:
        return f"/v4/{quote(self.project, safe='')}/registry"

    def call(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> tuple[int, Any]:
        """(status, parsed JSON or None); Unreachable on connection errors and 5xx."""
        for attempt in (1, 2):
            if auth and self.account and not self.token:
                self.login()
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if auth and self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            data = None if body is None else json.dumps(body).encode()
            req = urllib.request.Request(self.endpoint + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                    status, raw = resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                status, raw = exc.code, exc.read()
            except (OSError, ValueError) as exc:  # refused, timed out, DNS, reset
                raise Unreachable(f"{self.endpoint}: {getattr(exc, 'reason', exc)}") from None
            parsed = json.loads(raw) if raw.strip().startswith(b"{") else None
            if status >= 500:
                raise Unreachable(f"{method} {path}: HTTP {status} {parsed or raw[:200]!r}")
            if status == 401 and auth and self.account and attempt == 1:
                log("token refused (401), logging in again")
                self.token = ""
                continue
            return status, parsed
        return status, parsed

    def login(self) -> None:
        status, body = self.call("POST", "/v4/token", {"name": self.account, "password": self.password}, auth=False)
        if status != 200 or not isinstance(body, dict) or "token" not in body:
            raise Fatal(f"login as {self.account} refused: HTTP {status} {body}")
        self.token = body["token"]
        log(f"logged in to {self.endpoint} as {self.account}")

    def ensure_service(self, app_id: str, name: str, version: str) -> str:
        service = {"appId": app_id, "serviceName": name, "version": version}
        status, body = self.call("POST", f"{self.base()}/microservices", {"service": service})
        if status == 200 and body and body.get("serviceId"):
            return str(body["serviceId"])
        if status == 400 and body and body.get("errorCode") == "400010":  # exists under another id
            query = urlencode({"type": "microservice", "appId": app_id, "serviceName": name, "version": version})
            status, found = self.call("GET", f"{self.base()}/existence?{query}")
            if status == 200 and found and found.get("serviceId"):
                return str(found["serviceId"])
            body = found
        raise Fatal(f"cannot create micro-service {app_id}/{name}/{version}: HTTP {status} {body}")

    def register(self, service_id: str, instance: dict[str, Any]) -> str:
        status, body = self.call("POST", f"{self.base()}/microservices/{service_id}/instances", {"instance": instance})
        if status == 200 and body and body.get("instanceId"):
            return str(body["instanceId"])
        raise Fatal(f"cannot register an instance of {service_id}: HTTP {status} {body}")

    def heartbeat(self, service_id: str, instance_id: str) -> bool:
        """True when renewed; False when the registry no longer knows the instance (register again)."""
        status, body = self.call("PUT", f"{self.base()}/microservices/{service_id}/instances/{instance_id}/heartbeat")
        if status == 200:
            return True
        if status == 400 and body and body.get("errorCode") == "400017":
            return False
        raise Fatal(f"heartbeat refused: HTTP {status} {body}")

    def unregister(self, service_id: str, instance_id: str) -> None:
        status, body = self.call("DELETE", f"{self.base()}/microservices/{service_id}/instances/{instance_id}")
        if status != 200 and not (body and body.get("errorCode") == "400017"):
            raise Fatal(f"unregister refused: HTTP {status} {body}")


class State:
    def __init__(self) -> None:
        self.service_id = ""
        self.instance_id = ""


def make_handler(state: State, version: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = APP

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/":
                self.reply(
                    200,
                    {
                        "app": APP,
                        "version": version,
                        "service_id": state.service_id,
                        "registry_instance_id": state.instance_id,
                        "instance_id": os.environ.get("CAS_INSTANCE_ID", ""),
                        "port": self.server.server_address[1],
                        "pid": os.getpid(),
                    },
                )
            elif url.path == "/env":
                wanted = {n.strip() for v in parse_qs(url.query).get("names", []) for n in v.split(",")}
                self.reply(200, {k: v for k, v in sorted(os.environ.items()) if k.startswith(("CAS_", "PAAS_")) or k in wanted})
            elif url.path == "/health":
                self.reply(200, {"status": "UP"})
            else:
                self.reply(404, {"error": f"no route {url.path}"})

        def reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the log is about the registry steps

    return Handler


def main() -> int:
    env = os.environ
    port = int(env.get("PORT", "8080"))
    address = env.get("BIND_ADDRESS", "0.0.0.0")
    advertise = env.get("ADVERTISE_HOST", "127.0.0.1")
    beat = max(1.0, float(env.get("HEARTBEAT_SECONDS", "10")))
    endpoint = env.get("PAAS_CSE_SC_ENDPOINT", "").strip()
    if not endpoint:
        log("PAAS_CSE_SC_ENDPOINT is not set: nowhere to register")
        return 1
    registry = Registry(
        endpoint,
        env.get("PAAS_PROJECT_NAME") or "default",
        env.get("SERVICECOMB_CREDENTIALS_ACCOUNT_NAME", ""),
        env.get("SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD", ""),
    )
    app_id = env.get("CAS_APPLICATION_NAME") or "default"
    name = env.get("CAS_COMPONENT_NAME") or APP
    version = service_version(env.get("CAS_INSTANCE_VERSION", ""), package_version())
    cas_instance = env.get("CAS_INSTANCE_ID") or socket.gethostname()
    instance = {
        "hostName": f"{cas_instance}-{port}"[-64:],
        "endpoints": [f"rest://{advertise}:{port}"],
        "status": "UP",
        "healthCheck": {"mode": "push", "interval": int(beat), "times": 3},
        "properties": {"casInstanceId": env.get("CAS_INSTANCE_ID", ""), "packageVersion": package_version()},
    }

    state = State()
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        log(f"{signal.Signals(signum).name} received, stopping")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    server = ThreadingHTTPServer((address, port), make_handler(state, version))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(f"version {version} serving on {address}:{port}; registry {registry.endpoint}, project {registry.project}")

    def until_done(step: str, action: Any) -> Any:
        """Run ``action`` until the registry answers it; None when asked to stop meanwhile."""
        pause = 1.0
        while not stopping.is_set():
            try:
                return action()
            except Unreachable as exc:
                log(f"{step}: registry not reachable ({exc}), retrying in {pause:g} s")
                stopping.wait(pause)
                pause = min(pause * 2, 10.0)
        return None

    code = 0
    try:
        sid = until_done("create micro-service", lambda: registry.ensure_service(app_id, name, version))
        if sid:
            state.service_id = sid
            log(f"micro-service {app_id}/{name}/{version} has id {sid}")
        while not stopping.is_set():
            if not state.instance_id:
                iid = until_done("register instance", lambda: registry.register(state.service_id, instance))
                if not iid:
                    break
                state.instance_id = iid
                log(f"registered instance {iid} with endpoint {instance['endpoints'][0]}")
            if stopping.wait(beat):
                break
            try:
                if not registry.heartbeat(state.service_id, state.instance_id):
                    log(f"the registry no longer knows instance {state.instance_id}: registering again")
                    state.instance_id = ""
            except Unreachable as exc:
                log(f"heartbeat: registry not reachable ({exc})")
        if state.instance_id:
            try:
                registry.unregister(state.service_id, state.instance_id)
                log(f"unregistered instance {state.instance_id}")
            except (Unreachable, Fatal) as exc:
                log(f"could not unregister instance {state.instance_id}: {exc}")
    except Fatal as exc:
        log(f"giving up: {exc}")
        code = 1
    server.shutdown()
    server.server_close()
    log("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
