"""Software packages of the example apps (examples/apps/<app>), as a user makes them with
`tar czf <app>-<version>.tar.gz -C examples/apps/<app> .`, with the VERSION file set to the
version asked for (so a test makes a v1 and a v2 that answer differently). The archive is
reproducible: the same app and version give the same bytes, hence the same sha256. Also: a
package fetched and copied as the host agent does (``deploy_locally``), and an app run as a
process (``ExampleApp``)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import httpx

from services.adapters.artifacts import ArtifactPolicy, fetch_artifact
from services.contracts.agent import ArtifactSpec

APPS_DIR = Path(__file__).resolve().parents[2] / "examples" / "apps"
SKIPPED = {"__pycache__", ".pytest_cache"}


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def build_package(app: str, dest_dir: Path, version: str) -> Path:
    """`<dest_dir>/<app>-<version>.tar.gz` holding examples/apps/<app> with VERSION = version."""
    source = APPS_DIR / app
    if not (source / "app.py").is_file():
        raise ValueError(f"no example app {app!r} in {APPS_DIR}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{app}-{version}.tar.gz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source)
            if SKIPPED & set(rel.parts) or path.suffix == ".pyc" or not path.is_file() or rel.as_posix() == "VERSION":
                continue
            _add(tar, rel.as_posix(), path.read_bytes(), 0o755 if path.name == "app.py" else 0o644)
        _add(tar, "VERSION", f"{version}\n".encode(), 0o644)
    with target.open("wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(buf.getvalue())
    return target


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def deploy_locally(app: str, version: str, root: Path) -> Path:
    """What the host agent does before it starts a replica, done by hand: build the package under
    ``root/packages``, fetch it (``file://``, an allowed directory, its sha256 given) into the
    cache ``root/cache``, copy the cached package to a working directory, and return that."""
    packages = root / "packages"
    package = build_package(app, packages, version)
    policy = ArtifactPolicy(cache_dir=root / "cache", allowed_dirs=[packages])
    fetched = asyncio.run(fetch_artifact(ArtifactSpec(url=package.as_uri(), sha256=sha256_of(package)), policy))
    if fetched.kind != "directory":
        raise AssertionError(f"{package.name} was not unpacked: {fetched}")
    workdir = root / "replicas" / f"{app}-{version}"
    shutil.copytree(fetched.path, workdir, symlinks=True)
    return workdir


class ExampleApp:
    """An example app as a process, its output collected line by line."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CAS_", "PAAS_", "SERVICECOMB_", "OPENSTAGE_"))}
        self.proc = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=workdir,
            env={**base, "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, fragment: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if fragment in line:
                    return line
            if self.proc.poll() is not None and not any(fragment in line for line in self.lines):
                time.sleep(0.2)  # the reader may still be draining the pipe
                if not any(fragment in line for line in self.lines):
                    break
            time.sleep(0.05)
        raise AssertionError(f"no line with {fragment!r}; output: {self.lines}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def wait_http(url: str, timeout: float = 15) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
