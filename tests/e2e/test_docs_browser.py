"""The edge's documentation pages in a real browser (headless Debian chromium) that has no network
but the edge: Swagger UI (/docs) and the AsyncAPI viewer (/asyncapi) render named operations with
every asset served by the edge itself. Screenshots go to test-artifacts/.

Chromium must be installed (`apt-get install -y chromium`; .ci/run installs it in CI): without it
this test fails rather than skip, so offline docs are always checked."""

from __future__ import annotations

import asyncio

from tests.support.browser import Browser, artifacts_dir, find_chromium

VIEWER_PROBLEMS_JS = """
Array.from(document.querySelector('asyncapi-viewer').shadowRoot.querySelectorAll('ul.problems li'))
     .map(li => li.textContent.replace(/\\s+/g, ' ').trim())
"""


def test_chromium_is_installed():
    assert find_chromium(), "chromium is missing: apt-get install -y chromium (.ci/run installs it when CI=true)"


def test_docs_and_asyncapi_render_offline(running):
    base = running.base_url
    shots = artifacts_dir()

    async def scenario():
        async with Browser(base) as browser:
            await browser.goto(f"{base}/docs")
            text = await browser.wait_for_text(["Create an environment", "Obtain environment details"])
            assert "/v2/{project_id}/cas/environments" in text.replace(" /", "/")  # paths break at each '/'
            assert "Failed to load API definition" not in text
            await browser.screenshot(shots / "docs-swagger.png")

            await browser.goto(f"{base}/asyncapi")
            await browser.wait_for_text(
                [
                    "openstage.cmd.{project}.lifecycle.environment.create",  # a command's channel
                    "lifecycle.environment.create",  # its operation
                    "Create an environment",  # its description
                    "POST /v2/{project_id}/cas/environments",  # its HTTP equivalent
                    "openstage.evt.{project}.{domain}.{entity}.{verb}",  # the events channel
                    "openstage.ping.lifecycle",
                ]
            )
            problems = await browser.evaluate(VIEWER_PROBLEMS_JS)
            await browser.evaluate(
                "document.querySelector('asyncapi-viewer').shadowRoot"
                ".getElementById('asyncapi--operations--lifecycle.environment.create')"
                "?.scrollIntoView()"
            )
            await asyncio.sleep(0.3)
            await browser.screenshot(shots / "docs-asyncapi.png")
            return browser.blocked, browser.requested, browser.errors, problems

    blocked, requested, errors, problems = asyncio.run(scenario())
    assert not blocked, f"the pages tried to leave the edge: {blocked}"
    assert requested and all(url.startswith(base) for url in requested), requested
    assert f"{base}/docs-static/swagger/swagger-ui-bundle.js" in requested
    assert f"{base}/docs-static/asyncapi/asyncapi-viewer.js" in requested
    assert f"{base}/asyncapi.json" in requested
    assert not errors, f"uncaught exceptions in the pages: {errors}"
    assert problems == [], f"the AsyncAPI viewer reports problems with the document: {problems}"
    assert (shots / "docs-asyncapi.png").stat().st_size > 10_000
