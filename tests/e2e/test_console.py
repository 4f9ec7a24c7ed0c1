"""The web console (/console) in headless Debian chromium with no network but the edge, against a
real `openstage up`: sign in with the AK/SK (a wrong SK first: a clear sign-in error) → create an
environment → an application with configuration → a component → an instance; the job timeline
turns SUCCEEDED live (pushed by the event stream, no reload); stop the instance; a micro-service
registered over the API appears in the registry view and its instance then expires there.
Also: / redirects to /console, a form shows the API's error message, the pages are usable with the
keyboard (the sign-in form is filled and submitted with key presses), and the event stream is
authenticated and scoped to the credential's projects. Screenshots of each page go to
test-artifacts/console-*.png (a few are copied into docs/images/ for the README)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import httpx
import pytest

from openstage.processes import free_port
from tests.support.browser import Browser, artifacts_dir
from tests.support.cli import TOKEN, start_up_for_cli
from tests.support.signing import SignedClient
from tests.support.up_command import UpRuns

PROJECT = "demo"


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    runs = UpRuns()
    try:
        # deployment tasks of 0.6 s: the job page is shown while the job still runs
        yield start_up_for_cli(runs, tmp_path_factory.mktemp("console"), free_port(), task_seconds=0.6)
    finally:
        runs.cleanup()


def js(s: str) -> str:
    return json.dumps(s)


class Console:
    """What a user does on the page, through the DevTools protocol."""

    def __init__(self, browser: Browser, shots) -> None:
        self.b = browser
        self.shots = shots

    async def wait(self, expression: str, timeout: float = 30.0, what: str = ""):
        deadline = time.monotonic() + timeout
        probe = f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()"
        while time.monotonic() < deadline:
            value = await self.b.evaluate(probe)
            if value:
                return value
            await asyncio.sleep(0.1)
        text = await self.b.text()
        raise AssertionError(f"timed out waiting for {what or expression}; the page shows: {text[:1500]!r}")

    async def wait_text(self, *needles: str, timeout: float = 30.0) -> str:
        return await self.b.wait_for_text(list(needles), timeout)

    async def fill(self, selector: str, value: str) -> None:
        ok = await self.b.evaluate(
            f"""(() => {{ const el = document.querySelector({js(selector)}); if (!el) return false;
                el.value = {js(value)}; el.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"""
        )
        assert ok, f"no field {selector}"

    async def submit(self, form: str) -> None:
        ok = await self.b.evaluate(
            f"(() => {{ const f = document.querySelector({js(form)}); if (!f) return false; f.requestSubmit(); return true; }})()"
        )
        assert ok, f"no form {form}"

    async def click(self, selector: str) -> None:
        ok = await self.b.evaluate(
            f"(() => {{ const el = document.querySelector({js(selector)}); if (!el) return false; el.click(); return true; }})()"
        )
        assert ok, f"nothing to click at {selector}"

    async def type_keys(self, text: str) -> None:
        for ch in text:
            await self.b.send("Input.dispatchKeyEvent", type="char", text=ch)

    async def press(self, key: str, code: int) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.b.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=key,
                windowsVirtualKeyCode=code,
                nativeVirtualKeyCode=code,
                **({"text": "\r"} if key == "Enter" and kind == "keyDown" else {}),
            )

    async def focused_id(self) -> str:
        return await self.b.evaluate("document.activeElement && document.activeElement.id")

    async def shot(self, name: str) -> None:
        await asyncio.sleep(0.2)
        await self.b.screenshot(self.shots / f"console-{name}.png")


def test_console_end_to_end(up):
    base = up.endpoint
    cred = up.credential()
    shots = artifacts_dir()
    client = SignedClient(base, cred["ak"], cred["sk"])

    # / redirects to the console; the page and its assets need no credential
    redirect = httpx.get(f"{base}/", timeout=10)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/console"

    async def scenario():
        async with Browser(base) as browser:
            c = Console(browser, shots)
            await browser.goto(f"{base}/")
            await c.wait("document.querySelector('#signin-form')", what="the sign-in form")
            assert await browser.evaluate("location.pathname") == "/console"

            # the signer's own SHA-256/HMAC (used where WebCrypto is not available: plain http to
            # another host) gives the same bytes as hashlib/hmac
            samples = ["", "abc", "x" * 55, "y" * 64, "z" * 1000, "päth/ü"]
            got = await browser.send(
                "Runtime.evaluate",
                expression=f"""import('/console/static/signer.js').then(m => {{
                    const e = new TextEncoder(), hex = b => Array.from(b, x => x.toString(16).padStart(2, '0')).join('');
                    return {js(samples)}.map(s => [hex(m.sha256Bytes(e.encode(s))), hex(m.hmacBytes(e.encode('k' + s), e.encode(s)))]);
                }})""",
                awaitPromise=True,
                returnByValue=True,
            )
            expected = [
                [hashlib.sha256(s.encode()).hexdigest(), hmac.new(("k" + s).encode(), s.encode(), hashlib.sha256).hexdigest()]
                for s in samples
            ]
            assert got["result"]["value"] == expected

            # a wrong SK: a clear sign-in error, typed and submitted with the keyboard only
            await c.fill("#signin-project", PROJECT)
            assert await c.focused_id() == "signin-ak"
            await c.type_keys(cred["ak"])
            await c.press("Tab", 9)
            assert await c.focused_id() == "signin-sk"
            await c.type_keys("not-the-secret-key")
            await c.press("Enter", 13)
            await c.wait_text("Sign-in failed: the AK/SK was refused", "signature mismatch")
            await c.shot("signin-error")

            # the right SK
            await c.fill("#signin-sk", cred["sk"])
            await c.press("Enter", 13)
            await c.wait("document.querySelector('#env-form')", what="the environments page")
            await c.wait("document.querySelector('#stream-state')?.textContent.includes('live')", what="the event stream")

            # an environment; then the same name again: the API's message in the form
            await c.fill("#env-name", "dev")
            await c.submit("#env-form")
            await c.wait_text("1 environment(s)", "cce:cce-1")
            await c.fill("#env-name", "dev")
            await c.submit("#env-form")
            error = await c.wait("document.querySelector('#env-error')?.textContent", what="the form's error")
            assert "already exists" in error
            await c.shot("environments")

            # an application with configuration
            await c.click("a[href='#/applications']")
            await c.wait("document.querySelector('#app-form')", what="the applications page")
            await c.fill("#app-name", "shop")
            await c.submit("#app-form")
            await c.wait("document.querySelector('#config-form')", what="the application page")
            await c.fill("#config-vars", "LOG_LEVEL=debug\nGREETING=hello")
            await c.submit("#config-form")
            await c.wait_text("LOG_LEVEL=debug GREETING=hello")
            await c.fill("#config-vars", "not a variable")
            await c.submit("#config-form")
            assert "NAME=value" in await c.wait("document.querySelector('#config-error')?.textContent")

            # a component
            await c.fill("#component-name", "web")
            await c.submit("#component-form")
            await c.wait("document.querySelector('#instance-form')", what="the component page")
            await c.shot("application-component")

            # an instance: the job timeline goes to SUCCEEDED live, without a reload
            await browser.evaluate("window.__notReloaded = true")
            await c.fill("#instance-name", "web-1")
            await c.submit("#instance-form")
            await c.wait("location.hash.startsWith('#/jobs/')", what="the job page")
            await c.wait("document.querySelectorAll('#job-tasks li').length >= 3", what="the task timeline")
            first = await browser.evaluate("document.querySelector('#job-status').textContent")
            assert first in ("SUBMITTED", "RUNNING"), first  # the page shows the job before it ends
            await c.shot("job-running")
            await c.wait("document.querySelector('#job-status')?.textContent === 'SUCCEEDED'", timeout=60, what="SUCCEEDED")
            await c.wait_text("Wait for replicas to be healthy", "io.openstage.lifecycle.job.succeeded")
            # pushed by the event stream: no reload, and the job was read over HTTP once
            assert await browser.evaluate("window.__notReloaded === true")
            job_id = (await browser.evaluate("location.hash")).split("/")[2].split("?")[0]
            assert len([u for u in browser.requested if f"/cas/jobs/{job_id}" in u]) == 1, browser.requested
            assert await browser.evaluate("document.querySelectorAll('#job-events li').length") >= 4
            await c.shot("job")

            # upgrade it to 1.1.0 on its page, then roll back to the 1.0.0 snapshot
            await c.click("a[href^='#/applications/']")  # back to the component
            await c.wait("document.querySelector(\"a[href*='/instances/']\")", what="the instance link")
            await c.click("a[href*='/instances/']")
            await c.wait("document.querySelector('#upgrade-form')", what="the instance page")
            await c.fill("#upgrade-version", "1.1.0")
            await c.submit("#upgrade-form")
            await c.wait("location.hash.startsWith('#/jobs/')", what="the upgrade job")
            await c.wait("document.querySelector('#job-status')?.textContent === 'SUCCEEDED'", timeout=60)
            await c.click("a[href^='#/applications/']")  # back to the instance
            await c.wait("document.querySelector('#instance-version')?.textContent === '1.1.0'", what="version 1.1.0")
            await c.wait("document.querySelector(\"[data-rollback='1.0.0']\")", what="the 1.0.0 snapshot")
            await c.shot("instance")
            await c.click("[data-rollback='1.0.0']")
            await c.wait("location.hash.startsWith('#/jobs/')", what="the rollback job")
            await c.wait("document.querySelector('#job-status')?.textContent === 'SUCCEEDED'", timeout=60)
            await c.click("a[href^='#/applications/']")
            await c.wait("document.querySelector('#instance-version')?.textContent === '1.0.0'", what="rolled back")

            # stop the instance (a stop job, then the instance is STOPPED)
            await c.click("a[href^='#/applications/']")  # back to the component
            await c.wait("document.querySelector(\"[data-name='web-1'] [data-action='stop']\")", what="the stop button")
            await c.wait_text("RUNNING")
            await c.click("[data-name='web-1'] [data-action='stop']")
            await c.wait("location.hash.startsWith('#/jobs/')", what="the stop job")
            await c.wait("document.querySelector('#job-status')?.textContent === 'SUCCEEDED'", timeout=60)
            await c.click("a[href^='#/applications/']")
            await c.wait_text("STOPPED")
            await c.shot("instances")

            # the registry: a micro-service registered over the API appears, then its instance expires
            await c.click("a[href='#/registry']")
            await c.wait_text("micro-service(s)")
            service = client.post(
                f"/v4/{PROJECT}/registry/microservices", json={"service": {"appId": "shop", "serviceName": "orders", "version": "1.0.0"}}
            )
            assert service.status_code == 200, service.text
            sid = service.json()["serviceId"]
            schema = client.put(f"/v4/{PROJECT}/registry/microservices/{sid}/schemas/orders-api", json={"schema": "openapi: 3.0.0"})
            assert schema.status_code == 200, schema.text
            instance = client.post(
                f"/v4/{PROJECT}/registry/microservices/{sid}/instances",
                json={
                    "instance": {
                        "hostName": "orders-1",
                        "endpoints": ["rest://10.0.0.7:8080"],
                        "healthCheck": {"mode": "push", "interval": 2, "times": 1},
                    }
                },
            )
            assert instance.status_code == 200, instance.text
            iid = instance.json()["instanceId"]
            await c.wait_text("orders", iid, "rest://10.0.0.7:8080", "UP", "orders-api", timeout=20)
            await c.shot("registry")
            await c.wait(f"!document.querySelector('#main').textContent.includes({js(iid)})", timeout=30, what="expiry")
            await c.wait_text("No instances registered.")

            # a dependency declared over the API shows in the registry's graph
            consumer = client.post(
                f"/v4/{PROJECT}/registry/microservices",
                json={"service": {"appId": "shop", "serviceName": "storefront", "version": "1.0.0"}},
            )
            assert consumer.status_code == 200, consumer.text
            deps = client.put(
                f"/v4/{PROJECT}/registry/dependencies",
                json={
                    "dependencies": [
                        {
                            "consumer": {"appId": "shop", "serviceName": "storefront", "version": "1.0.0"},
                            "providers": [{"appId": "shop", "serviceName": "orders", "version": "1.0.0"}],
                        }
                    ]
                },
            )
            assert deps.status_code == 200, deps.text
            await c.wait_text("storefront 1.0.0 → orders 1.0.0", timeout=20)
            await c.shot("registry-dependencies")

            # config items and the event feed
            await c.click("a[href='#/config']")
            await c.fill("#item-form input[name=dimensionsInfo]", "orders@shop#1.0.0")
            await c.fill("#item-form input[name=key]", "log.level")
            await c.fill("#item-form input[name=value]", "warn")
            await c.submit("#item-form")
            await c.wait_text("log.level", "warn")
            await c.shot("config")
            await c.click("a[href='#/events']")
            await c.wait_text("io.openstage.registry.instance.expired", "io.openstage.lifecycle.job.succeeded")
            await c.shot("events")
            return browser.blocked, browser.errors, job_id

    blocked, errors, job_id = asyncio.run(scenario())
    assert not blocked, f"the console tried to leave the edge: {blocked}"
    assert not errors, f"uncaught exceptions in the console: {errors}"
    assert job_id.startswith("JOB")
    for name in ("signin-error", "environments", "job", "instance", "instances", "registry", "events"):
        assert (shots / f"console-{name}.png").stat().st_size > 5_000


def test_event_stream_is_authenticated_and_scoped(up):
    """GET /v2/{project}/events answers 401 without a credential, 403 on a project the token is not
    granted, and streams the project's CloudEvents to a granted one."""
    url = f"{up.endpoint}/v2/{PROJECT}/events"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(f"{up.endpoint}/v2/elsewhere/events", headers={"X-Auth-Token": TOKEN}, timeout=10).status_code == 403
    assert httpx.get(url + "?domain=nope", headers={"X-Auth-Token": TOKEN}, timeout=10).status_code == 400

    with httpx.stream("GET", url, headers={"X-Auth-Token": TOKEN}, timeout=30) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith(": connected")
        created = httpx.post(
            f"{up.endpoint}/v2/{PROJECT}/cas/applications", json={"name": "streamed"}, headers={"X-Auth-Token": TOKEN}, timeout=10
        )
        assert created.status_code == 200, created.text
        for line in lines:
            if line.startswith("data: "):
                event = json.loads(line.removeprefix("data: "))
                assert event["type"] == "io.openstage.lifecycle.application.created"
                assert event["data"]["id"] == created.json()["id"]
                break
