"""Two lifecycle worker processes share the queue group: the show/list answers they serve from
memory (workers/lifecycle/read_models.py, fast_path.py) follow every change the other one makes,
within the time an event takes between them: environments, applications (their component count
moves with components), components and instances."""

from __future__ import annotations

import uuid

import pytest

from tests.support.system import another_worker, until

PROJECT = "lcprocs"
V2 = f"/v2/{PROJECT}/cas"
READS = 12  # reads spread over the queue group: both processes answer some of them


@pytest.fixture
def second_lifecycle(running):
    with another_worker(running, "lifecycle") as child:
        yield child


def _ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_reads_from_memory_follow_the_other_processs_changes(signed, running, second_lifecycle):
    tag = uuid.uuid4().hex[:6]
    env = _ok(
        signed.post(
            f"{V2}/environments",
            json={"name": f"e{tag}", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "cce-1", "type": "cce"}]},
        )
    )
    app = _ok(signed.post(f"{V2}/applications", json={"name": f"a{tag}"}))
    paths = {
        "env": f"{V2}/environments/{env['id']}",
        "envs": f"{V2}/environments",
        "app": f"{V2}/applications/{app['id']}",
        "apps": f"{V2}/applications",
        "comps": f"{V2}/applications/{app['id']}/components",
    }
    for path in paths.values():  # warm both processes' memory
        for _ in range(READS):
            assert signed.get(path).status_code == 200

    def every_read(path: str, check) -> bool:
        return all(check(_ok(signed.get(path))) for _ in range(READS))

    # a change of each kind, each made by one process and read from both
    assert _ok(signed.put(paths["env"], json={"description": "changed"}))["description"] == "changed"
    assert until(lambda: every_read(paths["env"], lambda e: e.get("description") == "changed")), "a process kept a stale environment"
    assert until(lambda: every_read(paths["envs"], lambda page: any(e.get("description") == "changed" for e in page["environments"]))), (
        "a process kept a stale environment list"
    )

    component = _ok(
        signed.post(
            f"{V2}/applications/{app['id']}/components",
            json={
                "name": f"c{tag}",
                "runtime": "Docker",
                "category": "Webapp",
                "sub_category": "Web",
                "source": {
                    "kind": "artifact",
                    "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/a/b:1", "auth": "iam"},
                },
            },
        )
    )
    assert until(lambda: every_read(paths["app"], lambda a: a["component_count"] == 1)), "a process kept a stale component count"
    assert until(
        lambda: every_read(paths["apps"], lambda page: {a["id"]: a for a in page["applications"]}[app["id"]]["component_count"] == 1)
    )
    assert until(lambda: every_read(paths["comps"], lambda page: [c["id"] for c in page["components"]] == [component["id"]]))

    instances = f"{V2}/applications/{app['id']}/components/{component['id']}/instances"
    for _ in range(READS):
        assert _ok(signed.get(instances))["count"] == 0
    accepted = _ok(
        signed.post(
            instances,
            json={
                "name": f"i{tag}",
                "environment_id": env["id"],
                "flavor_id": "MICRO-5G:0.5C:1G",
                "replica": 1,
                "version": "1.0.0",
                "artifacts": {f"c{tag}": {"storage": "swr", "type": "image", "url": "swr.example.com/a/b:1"}},
                "refer_resources": [{"id": "cce-1", "type": "cce", "parameters": {"namespace": "default"}}],
            },
        )
    )
    instance = f"{instances}/{accepted['instance_id']}"
    assert until(lambda: every_read(instance, lambda i: i["status_detail"]["status"] == "RUNNING"), 30), "an instance read stayed stale"
    assert until(lambda: every_read(instances, lambda page: page["count"] == 1))

    # deleted by one process: 404 from both
    assert signed.delete(f"{V2}/environments/{env['id']}").status_code in (400, 409)  # (an instance is deployed in it)
    other = _ok(
        signed.post(
            f"{V2}/environments",
            json={"name": f"o{tag}", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "cce-1", "type": "cce"}]},
        )
    )
    for _ in range(READS):
        assert signed.get(f"{V2}/environments/{other['id']}").status_code == 200
    assert signed.delete(f"{V2}/environments/{other['id']}").status_code == 204
    assert until(lambda: all(signed.get(f"{V2}/environments/{other['id']}").status_code == 404 for _ in range(READS)))
