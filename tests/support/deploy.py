"""Helpers for instance and job tests: an environment, application and component to deploy, an
instance body, and waiting for a job through the SDK."""

from __future__ import annotations

import time
import uuid

from huaweicloudsdkservicestage.v2.model import (
    ApplicationCreate,
    ComponentCreate,
    CreateApplicationRequest,
    CreateComponentRequest,
    CreateEnvironmentRequest,
    EnvironmentCreate,
    InstanceCreate,
    ReferResourceCreate,
    Resource,
    ShowInstanceDetailRequest,
    ShowJobDetailRequest,
    SourceObject,
    SourceOrArtifact,
)

from services.contracts.jobs import TERMINAL  # the job statuses that end a job (one set)

CLUSTER = "cce-cluster-1"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Target:
    """An environment (cce cluster + elb) and an application with one component."""

    def __init__(self, client) -> None:
        self.client = client
        env = client.create_environment(
            CreateEnvironmentRequest(
                body=EnvironmentCreate(
                    name=unique("env"),
                    deploy_mode="container",
                    vpc_id="vpc-1",
                    base_resources=[Resource(id=CLUSTER, type="cce", name="cluster")],
                    optional_resources=[Resource(id="elb-1", type="elb")],
                )
            )
        )
        self.environment_id = env.id
        self.application_id = client.create_application(CreateApplicationRequest(body=ApplicationCreate(name=unique("app")))).id
        component = client.create_component(
            CreateComponentRequest(
                application_id=self.application_id,
                body=ComponentCreate(
                    name=unique("web"),
                    runtime="Docker",
                    category="Webapp",
                    source=SourceObject(
                        kind="artifact",
                        spec=SourceOrArtifact(storage="swr", type="package", url="swr.example.com/org/web:1.0.0", auth="iam"),
                    ),
                ),
            )
        )
        self.component_id = component.id
        self.component_name = component.name

    def ids(self) -> dict:
        return {"application_id": self.application_id, "component_id": self.component_id}


def artifacts(component: str, url: str = "swr.example.com/org/web:1.0.0") -> dict:
    return {component: {"storage": "swr", "type": "image", "url": url, "auth": "iam"}}


def instance_body(
    target: Target,
    name: str | None = None,
    replica: int = 2,
    version: str = "1.0.0",
    url: str = "swr.example.com/org/web:1.0.0",
    env: list | None = None,
    flavor_id: str = "MICRO-5G:0.5C:1G",
) -> InstanceCreate:
    body = InstanceCreate(
        name=name or unique("inst"),
        environment_id=target.environment_id,
        flavor_id=flavor_id,
        replica=replica,
        artifacts=artifacts(target.component_name, url),
        version=version,
        refer_resources=[ReferResourceCreate(id=CLUSTER, type="cce", parameters={"namespace": "default"})],
    )
    if env is not None:
        body.configuration = {"env": env}
    return body


def wait_job(client, job_id: str, timeout: float = 30.0, statuses=TERMINAL):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = client.show_job_detail(ShowJobDetailRequest(job_id=job_id))
        if last.job.execution_status in statuses:
            return last
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not in {statuses} after {timeout}s: {last}")


def show_instance(client, target: Target, instance_id: str):
    return client.show_instance_detail(ShowInstanceDetailRequest(instance_id=instance_id, **target.ids()))
