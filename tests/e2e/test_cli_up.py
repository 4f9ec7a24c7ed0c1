"""`openstage api`, `openstage status` and `openstage jobs watch` against a real `openstage up`
(one for the module, its data directory at <tmp>/.openstage and the CLI run from <tmp>, so the CLI
finds the generated credential as a user's would), plus the OpenAPI security schemes and
OPENSTAGE_TOKENS adding a token without turning the generated AK/SK off."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.cli import TOKEN, no_traceback, openstage

PROJECT = "cliproj"
ENV_BODY = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}
COMPONENT_BODY = {
    "runtime": "Docker",
    "category": "Webapp",
    "source": {"kind": "artifact", "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/org/web:1.0.0", "auth": "iam"}},
}


def api(up, *args: str, env: dict | None = None, ok: bool = True, stdin: str | None = None):
    result = openstage("api", *args, cwd=up.workdir, env={"OPENSTAGE_ENDPOINT": up.endpoint, **(env or {})}, stdin=stdin)
    no_traceback(result)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def deploy(up, name: str, url: str = "swr.example.com/org/web:1.0.0") -> tuple[str, str, str]:
    """An environment, application, component and instance created with `openstage api`: the ids
    of the application, component and the instance's creation job."""
    env_id = api(
        up,
        "POST",
        "/v2/{project_id}/cas/environments",
        "-p",
        PROJECT,
        "-f",
        "id",
        "--data",
        json.dumps({"name": f"env-{name}", **ENV_BODY}),
    ).stdout.strip()
    app_id = api(up, "POST", f"/v2/{PROJECT}/cas/applications", "-f", "id", "--data", json.dumps({"name": f"app-{name}"})).stdout.strip()
    comp_id = api(
        up,
        "POST",
        f"/v2/{PROJECT}/cas/applications/{app_id}/components",
        "-f",
        "id",
        "--data",
        json.dumps({"name": f"web-{name}", **COMPONENT_BODY}),
    ).stdout.strip()
    body = {
        "name": f"inst-{name}",
        "environment_id": env_id,
        "flavor_id": "MICRO-5G:0.5C:1G",
        "replica": 2,
        "version": "1.0.0",
        "artifacts": {f"web-{name}": {"storage": "swr", "type": "image", "url": url, "auth": "iam"}},
        "refer_resources": [{"id": "cce-1", "type": "cce", "parameters": {"namespace": "default"}}],
    }
    path = f"/v2/{PROJECT}/cas/applications/{app_id}/components/{comp_id}/instances"
    job_id = api(up, "POST", path, "-f", "job_id", "--data", "@-", stdin=json.dumps(body)).stdout.strip()
    return app_id, comp_id, job_id


# --- openstage api -----------------------------------------------------------------------------------
def test_api_signs_with_the_generated_credential(up):
    assert "tokens:     1 from OPENSTAGE_TOKENS" in up.banner and "credential: AK=" in up.banner
    runtimes = api(up, "GET", "/v2/{project_id}/cas/metadata/runtimes", "--project", PROJECT)
    assert json.loads(runtimes.stdout)["runtimes"]

    created = api(up, "POST", f"/v2/{PROJECT}/cas/environments", "--data", json.dumps({"name": "cli-env", **ENV_BODY}))
    env = json.loads(created.stdout)
    assert env["name"] == "cli-env" and env["creator"] == up.credential()["ak"]

    body_file = up.workdir / "env.json"
    body_file.write_text(json.dumps({"name": "cli-env", **ENV_BODY}))
    duplicate = api(up, "POST", f"/v2/{PROJECT}/cas/environments", "--data", f"@{body_file}", ok=False)
    assert duplicate.returncode == 1 and "HTTP 400" in duplicate.stderr
    assert "already exists" in json.loads(duplicate.stdout)["error_msg"]

    listed = api(up, "GET", f"/v2/{PROJECT}/cas/environments?limit=5&order_by=name&order=asc")
    assert [e["name"] for e in json.loads(listed.stdout)["environments"]] == ["cli-env"]
    assert api(up, "GET", f"/v2/{PROJECT}/cas/environments?limit=5", "-f", "environments.0.id").stdout.strip() == env["id"]

    # the registry (v4) and config center (v3) families, with query strings
    service = {"service": {"appId": "shop", "serviceName": "cli-order", "version": "1.0.0"}}
    sid = api(up, "POST", f"/v4/{PROJECT}/registry/microservices", "-d", json.dumps(service), "-f", "serviceId")
    found = api(up, "GET", f"/v4/{PROJECT}/registry/existence?type=microservice&appId=shop&serviceName=cli-order&version=1.0.0")
    assert json.loads(found.stdout)["serviceId"] == sid.stdout.strip()

    deleted = api(up, "DELETE", f"/v2/{PROJECT}/cas/environments/{env['id']}")
    assert deleted.stdout == ""
    missing = api(up, "GET", f"/v2/{PROJECT}/cas/environments/{env['id']}", ok=False)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


def test_api_credentials_from_the_environment_and_errors(up):
    cred = up.credential()
    by_env = api(
        up,
        "GET",
        f"/v2/{PROJECT}/cas/environments",
        "--data-dir",
        "/nonexistent",
        env={"OPENSTAGE_AK": cred["ak"], "OPENSTAGE_SK": cred["sk"]},
    )
    assert "environments" in json.loads(by_env.stdout)

    wrong = api(up, "GET", f"/v2/{PROJECT}/cas/environments", env={"OPENSTAGE_AK": cred["ak"], "OPENSTAGE_SK": "wrong"}, ok=False)
    assert wrong.returncode == 1 and "HTTP 401" in wrong.stderr and "signature mismatch" in wrong.stdout

    # OPENSTAGE_TOKENS added a token; the generated AK/SK still works (above)
    token = api(up, "GET", "/v2/clitoken/cas/environments", "--data-dir", "/nonexistent", env={"OPENSTAGE_TOKEN": TOKEN})
    assert json.loads(token.stdout)["count"] == 0
    other = api(up, "GET", f"/v2/{PROJECT}/cas/environments", env={"OPENSTAGE_TOKEN": TOKEN}, ok=False)
    assert other.returncode == 1 and "HTTP 403" in other.stderr

    nothing = api(up, "GET", f"/v2/{PROJECT}/cas/environments", "--data-dir", "/nonexistent", ok=False)
    assert nothing.returncode == 2 and "no credential" in nothing.stderr
    bad_json = api(up, "POST", f"/v2/{PROJECT}/cas/environments", "--data", "{not json", ok=False)
    assert bad_json.returncode == 2 and "not JSON" in bad_json.stderr
    unreachable = api(up, "GET", f"/v2/{PROJECT}/cas/environments", env={"OPENSTAGE_ENDPOINT": "http://127.0.0.1:9"}, ok=False)
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr


def test_openapi_declares_the_token_and_aksk_schemes(up):
    doc = httpx.get(f"{up.endpoint}/openapi.json", timeout=10).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["token"] == {**schemes["token"], "type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    assert "SDK-HMAC-SHA256" in schemes["aksk"]["description"]
    assert doc["paths"]["/v2/{project_id}/cas/environments"]["post"]["security"] == [{"token": []}]
    assert "security" not in doc["paths"]["/healthz"]["get"]


# --- openstage status --------------------------------------------------------------------------------
def test_status_shows_processes_memory_and_counts(up):
    _app_id, _comp_id, job_id = deploy(up, "status")
    watched = openstage(
        "jobs", "watch", job_id, "-p", PROJECT, "--interval", "0.1", cwd=up.workdir, env={"OPENSTAGE_ENDPOINT": up.endpoint}
    )
    assert watched.returncode == 0, watched.stdout + watched.stderr

    result = openstage("status", "--json", "-p", PROJECT, "-p", "emptyproj", cwd=up.workdir)
    no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout)
    assert status["ready"] == "ready" and status["endpoint"] == up.endpoint
    procs = {p["name"]: p for p in status["processes"]}
    # the four domain workers run in one process by default (`openstage up --worker-processes combined`)
    assert {"supervisor", "lifeline", "nats-server", "store", "edge", "worker-lifecycle,config,registry,jobs"} <= set(procs)
    for p in procs.values():
        assert p["running"] and p["health"] == "ok" and p["rss_bytes"] > 1_000_000, p
    assert f"127.0.0.1:{up.port}" in procs["edge"]["addresses"]
    assert procs["nats-server"]["addresses"] == [up.nats_url.removeprefix("nats://")]
    counts = {c["project"]: c for c in status["projects"]}
    assert counts[PROJECT]["environments"] >= 1 and counts[PROJECT]["instances"] >= 1
    assert counts[PROJECT]["services"] >= 1 and counts[PROJECT]["error"] is None
    assert counts["emptyproj"] == {**counts["emptyproj"], "environments": 0, "instances": 0, "services": 0}

    text = openstage("status", "-p", PROJECT, cwd=up.workdir)
    assert text.returncode == 0 and "worker-lifecycle,config,registry,jobs" in text.stdout and "MiB" in text.stdout
    assert f"project {PROJECT}:" in text.stdout and "instances" in text.stdout

    elsewhere = openstage("status", "--data-dir", str(up.workdir / "nothing-here"), cwd=up.workdir)
    no_traceback(elsewhere)
    assert elsewhere.returncode == 1 and "no `openstage up` is running" in elsewhere.stderr


# --- openstage jobs watch ----------------------------------------------------------------------------
def watch(up, *args: str, env: dict | None = None):
    result = openstage("jobs", "watch", *args, "-p", PROJECT, "--interval", "0.1", "--timeout", "60", cwd=up.workdir, env=env)
    no_traceback(result)
    return result


def test_jobs_watch_over_http_and_nats(up):
    _, _, ok_job = deploy(up, "ok")
    _, _, ok_job2 = deploy(up, "ok2")
    _, _, bad_job = deploy(up, "bad", url="https://repo.example.invalid/web.jar")
    http = {"OPENSTAGE_ENDPOINT": up.endpoint}
    nats = {"OPENSTAGE_NATS_URL": up.nats_url}

    # one job, over HTTP with the generated credential: 0
    one = watch(up, ok_job, env=http)
    assert one.returncode == 0 and f"job {ok_job}: SUCCEEDED" in one.stdout, one.stdout + one.stderr
    # one job over NATS as the credential's NATS user (inbox _INBOX_<AK>), --json: the document
    one_bus = watch(up, ok_job, "--json", env=nats)
    assert one_bus.returncode == 0, one_bus.stderr
    assert json.loads(one_bus.stdout)["job"]["EXECUTION_STATUS"] == "SUCCEEDED"
    assert "Pull artifacts" in one_bus.stderr  # the live table goes to stderr with --json

    # several jobs, all succeed: 0, a list of documents
    several = watch(up, ok_job, ok_job2, "--json", "--nats-url", up.nats_url)
    assert several.returncode == 0, several.stderr
    assert [j["job"]["JOB_ID"] for j in json.loads(several.stdout)] == [ok_job, ok_job2]
    several_http = watch(up, ok_job, ok_job2, env=http)
    assert several_http.returncode == 0 and several_http.stdout.count(": SUCCEEDED") == 2

    # a failed job among them: 1, the failed task's message shown
    for env in (http, nats):
        failed = watch(up, ok_job, bad_job, env=env)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "cannot be resolved" in failed.stdout and f"job {bad_job}: FAILED" in failed.stdout

    # an unknown job (alone or with others): 2, said in one line on stderr
    for env in (http, nats):
        unknown = watch(up, "JOB-unknown", env=env)
        assert unknown.returncode == 2 and "JOB-unknown" in unknown.stderr and "not found" in unknown.stderr
        mixed = watch(up, ok_job, "JOB-unknown", bad_job, env=env)
        assert mixed.returncode == 2 and f"job {ok_job}: SUCCEEDED" in mixed.stdout

    # NATS without a credential (no data directory): refused by NATS, one line, 2
    anonymous = watch(up, ok_job, "--data-dir", "/nonexistent", env=nats)
    assert anonymous.returncode == 2 and "Authorization Violation" in anonymous.stderr
    unreachable = watch(up, ok_job, "--nats-url", "nats://127.0.0.1:9")
    assert unreachable.returncode == 2 and "cannot connect" in unreachable.stderr


def test_the_cli_signer_is_what_the_edge_verifies():
    """openstage/signing.py (used by `openstage api`, `status` and `jobs watch`) against the edge's
    verifier, for the awkward parts: a percent-encoded path, an unsorted query, a body, a
    content type."""
    from datetime import UTC, datetime

    from api_edge.auth import Authenticator, Credential
    from openstage.signing import sign

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    auth = Authenticator([Credential(ak="AK1", sk="secret", projects=["p1"])], clock=lambda: now)
    body = b'{"name": "x"}'
    url = "http://127.0.0.1:8080/v4/p1/registry/instances?serviceName=a%20b&appId=shop&tags=x,y"
    headers = sign("POST", url, "AK1", "secret", body, {"Content-Type": "application/json"}, now=now)
    principal = auth.authenticate("POST", "/v4/p1/registry/instances", "serviceName=a%20b&appId=shop&tags=x,y", headers, body)
    assert principal.key_id == "AK1"
    with pytest.raises(Exception, match="signature mismatch"):
        auth.authenticate("POST", "/v4/p1/registry/instances", "appId=other", headers, body)
