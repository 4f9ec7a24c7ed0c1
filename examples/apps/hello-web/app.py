"""hello-web: the smallest web application openstage can deploy as a software package.

Standard library only (Python 3.8+). It listens on $PORT (on $BIND_ADDRESS, default 0.0.0.0) and answers:

    GET /          {"app", "version" (the package's VERSION file), "instance_id" ($CAS_INSTANCE_ID),
                    "port", "pid", "hostname"}
    GET /env       the environment variables named CAS_* or PAAS_*, plus those listed in ?names=A,B
    GET /health    {"status": "UP"}

It logs one line per request to stdout and stops cleanly (exit code 0) on SIGTERM or SIGINT."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

APP = "hello-web"
HERE = Path(__file__).resolve().parent


def package_version() -> str:
    try:
        return (HERE / "VERSION").read_text().strip() or "0.0.0"
    except OSError:
        return "0.0.0"


def selected_env(names: list[str]) -> dict[str, str]:
    wanted = set(names)
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(("CAS_", "PAAS_")) or k in wanted}


def log(line: str) -> None:
    print(f"{APP}: {line}", flush=True)


class Handler(BaseHTTPRequestHandler):
    server_version = APP
    version = package_version()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/":
            self.reply(
                200,
                {
                    "app": APP,
                    "version": self.version,
                    "instance_id": os.environ.get("CAS_INSTANCE_ID", ""),
                    "port": self.server.server_address[1],
                    "pid": os.getpid(),
                    "hostname": socket.gethostname(),
                },
            )
        elif url.path == "/env":
            names = [n.strip() for v in parse_qs(url.query).get("names", []) for n in v.split(",") if n.strip()]
            self.reply(200, selected_env(names))
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
        log(f"{self.address_string()} {format % args}")


def main() -> int:
    port = int(os.environ.get("PORT", "8080"))
    address = os.environ.get("BIND_ADDRESS", "0.0.0.0")
    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True

    def stop(signum: int, _frame: object) -> None:
        log(f"{signal.Signals(signum).name} received, stopping")
        # shutdown() waits for serve_forever() to return: call it from another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"version {Handler.version} listening on {address}:{port} (instance {os.environ.get('CAS_INSTANCE_ID', '-')})")
    server.serve_forever()
    server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
