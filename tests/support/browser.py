"""Headless Debian chromium driven over the DevTools protocol (python ``websockets``), with the
network cut off for the page: every request that does not go to the allowed origin is failed and
recorded, and host names do not resolve (``--host-resolver-rules``)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import websockets

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")

# Collects the visible text of the page, including what web components render in shadow roots.
DEEP_TEXT_JS = """
(() => {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { parts.push(node.textContent); return; }
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(document.documentElement);
  return parts.join(' ').replace(/\\s+/g, ' ');
})()
"""


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One chromium process with one page. Use as a context manager."""

    def __init__(self, allowed_origin: str, width: int = 1400, height: int = 1000) -> None:
        binary = find_chromium()
        if binary is None:
            raise RuntimeError("chromium is not installed: apt-get install -y chromium (.ci/run does it in CI)")
        self.allowed_origin = allowed_origin.rstrip("/")
        self._routing: set[asyncio.Task] = set()  # request interceptions in flight
        host = urlsplit(self.allowed_origin).hostname or "127.0.0.1"
        self.profile = tempfile.mkdtemp(prefix="openstage-chromium-")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {host}",
                f"--window-size={width},{height}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.port = self._devtools_port()
        self.blocked: list[str] = []  # requests that left the allowed origin (and were failed)
        self.requested: list[str] = []
        self.errors: list[str] = []  # uncaught page exceptions
        self._ids = itertools.count(1)
        self._ws = None
        self._pending: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    def _devtools_port(self, timeout: float = 30.0) -> int:
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            if marker.exists():
                lines = marker.read_text().splitlines()
                if lines and lines[0].strip().isdigit():
                    return int(lines[0])
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port")

    # --- protocol ---------------------------------------------------------------------------------
    async def __aenter__(self) -> Browser:
        listing = await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{self.port}/json/list", timeout=10)
        targets = listing.json()
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = await websockets.connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024)
        self._reader = asyncio.create_task(self._read())
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send("Network.enable")
        await self.send("Network.setCacheDisabled", cacheDisabled=True)
        await self.send("Fetch.enable", patterns=[{"urlPattern": "*"}])
        return self

    async def __aexit__(self, *exc) -> None:
        if self._reader:
            self._reader.cancel()
        if self._ws:
            await self._ws.close()
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def send(self, method: str, **params):
        msg_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        return await asyncio.wait_for(fut, 30)

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self._pending.pop(msg["id"], None)
                if fut and not fut.done():
                    if "error" in msg:
                        fut.set_exception(RuntimeError(f"{msg['error']}"))
                    else:
                        fut.set_result(msg.get("result", {}))
                continue
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Fetch.requestPaused":
                task = asyncio.create_task(self._route(params))
                self._routing.add(task)
                task.add_done_callback(self._routing.discard)
            elif method == "Network.requestWillBeSent":
                self.requested.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                self.errors.append(details.get("exception", {}).get("description") or details.get("text", ""))

    async def _route(self, params: dict) -> None:
        url = params["request"]["url"]
        local = url == self.allowed_origin or url.startswith(self.allowed_origin + "/") or url.startswith(("data:", "blob:"))
        try:
            if local:
                await self.send("Fetch.continueRequest", requestId=params["requestId"])
            else:
                self.blocked.append(url)
                await self.send("Fetch.failRequest", requestId=params["requestId"], errorReason="InternetDisconnected")
        except Exception:
            pass  # the page went away meanwhile

    # --- what a test does ---------------------------------------------------------------------------
    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str):
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def text(self) -> str:
        return await self.evaluate(DEEP_TEXT_JS) or ""

    async def wait_for_text(self, needles: list[str], timeout: float = 45.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.text()
            if all(n in text for n in needles):
                return text
            await asyncio.sleep(0.25)
        missing = [n for n in needles if n not in text]
        raise AssertionError(f"page never showed {missing}; it shows: {text[:2000]!r}")

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path


def artifacts_dir() -> Path:
    return Path(os.environ.get("OPENSTAGE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
