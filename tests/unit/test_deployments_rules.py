"""The process driver's pure rules: placement, start command conventions, the environment of a
replica and its precedence, and matching replicas to registry instances."""

from __future__ import annotations

import pytest

from services.domain.lifecycle import deployments as d
from services.domain.lifecycle.deployments import DeploymentContext, PlacedReplica


def ecs(id_: str, hosts: list[str] | None = None) -> dict:
    return {"type": "ecs", "id": id_, **({"parameters": {"hosts": hosts}} if hosts is not None else {})}


def test_hosts_are_the_ecs_hosts_given_else_the_ecs_id():
    assert d.hosts_of([ecs("local")]) == ["local"]
    assert d.hosts_of([ecs("Default", ["a", "b"]), {"type": "rds", "id": "db"}]) == ["a", "b"]
    assert d.hosts_of([ecs("a", []), ecs("b", ["b", "a"])]) == ["a", "b"]  # each once, in order
    assert d.hosts_of([{"type": "cce", "id": "c", "parameters": {"namespace": "default"}}]) == []


def test_replica_i_runs_on_host_i_modulo_the_host_count():
    assert d.place(["a", "b"], 3) == {"a": [0, 2], "b": [1]}
    assert d.place(["a", "b", "c"], 1) == {"a": [0], "b": [], "c": []}  # every host listed: none there
    assert d.place([], 2) == {}


def test_a_scale_replaces_the_hosts_of_the_ecs_resource():
    refer = [{"type": "elb", "id": "e"}, ecs("x", ["a"])]
    assert d.with_hosts(refer, ["a", "b"]) == [{"type": "elb", "id": "e"}, {"type": "ecs", "id": "x", "parameters": {"hosts": ["a", "b"]}}]
    assert refer[1]["parameters"] == {"hosts": ["a"]}  # not changed in place


def test_a_host_serves_its_projects_or_every_project_with_a_star():
    assert d.serves(["p1", "p2"], "p2") and d.serves(["*"], "anything")
    assert not d.serves(["p1"], "p2") and not d.serves([], "p1")


def test_the_entrypoint_wins_over_the_runtime_convention():
    assert d.start_command("Java8", {"command": ["java", "-Xmx64m", "-jar", "x.jar"], "args": ["--debug"]}, "app.jar") == [
        "java",
        "-Xmx64m",
        "-jar",
        "x.jar",
        "--debug",
    ]
    assert d.start_command("Custom", {"command": ["./run"]}, None) == ["./run"]


def test_runtime_conventions():
    assert d.start_command("Java8", None, "shop-1.0.jar") == ["java", "-jar", "shop-1.0.jar"]
    java_dir = d.start_command("Java8", None, None)
    assert java_dir[:2] == ["sh", "-c"] and "java -jar" in java_dir[2] and d.describe_command(java_dir) == "java -jar <the package's jar>"
    python = d.start_command("Python3", {}, None)
    assert "python3 app.py" in python[2] and "python3 main.py" in python[2]
    assert python[2].index("app.py") < python[2].index("main.py")
    node = d.start_command("Nodejs8", None, None)
    assert "npm start" in node[2] and "node server.js" in node[2] and "node index.js" in node[2]
    assert d.describe_command(["node", "x.js"]) == "node x.js"


@pytest.mark.parametrize("runtime", ["Tomcat8", "Php7", "Docker", "Custom"])
def test_a_runtime_without_convention_needs_an_entrypoint(runtime):
    with pytest.raises(d.NoStartCommand) as err:
        d.start_command(runtime, None, "x.war")
    assert f"runtime {runtime} has no start convention" in str(err.value) and "configuration.lifecycle.entrypoint" in str(err.value)


def test_artifact_file_name():
    assert d.artifact_file_name("https://repo.example.com/x/shop-1.0.jar?sig=1") == "shop-1.0.jar"
    assert d.artifact_file_name("file:///srv/artifacts/app.tar.gz") == "app.tar.gz"


def context(credentials=None) -> DeploymentContext:
    return DeploymentContext("proj", "app-id", "shop", "comp-id", "cart", "env-id", "inst-id", "1.2.0", "http://10.0.0.5:8080", credentials)


def test_platform_variables():
    env = d.platform_env(context())
    assert env == {
        "PAAS_CSE_SC_ENDPOINT": "http://10.0.0.5:8080",
        "PAAS_CSE_CC_ENDPOINT": "http://10.0.0.5:8080",
        "PAAS_CSE_ENDPOINT": "http://10.0.0.5:8080",
        "PAAS_PROJECT_NAME": "proj",
        "CAS_APPLICATION_NAME": "shop",
        "CAS_COMPONENT_NAME": "cart",
        "CAS_INSTANCE_VERSION": "1.2.0",
        "CAS_ENVIRONMENT_ID": "env-id",
        "CAS_APPLICATION_ID": "app-id",
        "CAS_COMPONENT_ID": "comp-id",
        "CAS_INSTANCE_ID": "inst-id",
    }
    with_rbac = d.platform_env(context(("deploy-proj", "s3cret")))
    assert with_rbac["SERVICECOMB_CREDENTIALS_ACCOUNT_NAME"] == "deploy-proj"
    assert with_rbac["SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD"] == "s3cret"


def test_environment_precedence_application_then_instance_then_platform():
    env = d.compose_env(
        [("LEVEL", "app"), ("FROM_APP", "1"), ("PAAS_PROJECT_NAME", "app-says")],
        [{"name": "LEVEL", "value": "instance"}, {"name": "FROM_INSTANCE", "value": "2"}, {"name": "CAS_INSTANCE_ID", "value": "x"}],
        d.platform_env(context()),
    )
    assert env["LEVEL"] == "instance" and env["FROM_APP"] == "1" and env["FROM_INSTANCE"] == "2"
    assert env["PAAS_PROJECT_NAME"] == "proj" and env["CAS_INSTANCE_ID"] == "inst-id"  # the platform's win


def test_configuration_sections_in_snake_or_camel_case():
    conf = {"probes": {"readinessProbe": {"type": "tcp"}}, "lifecycle": {"post_start": {"type": "command"}}}
    assert d.section(conf, "probes", "readiness_probe") == {"type": "tcp"}
    assert d.section(conf, "lifecycle", "post_start") == {"type": "command"}
    assert d.section(conf, "lifecycle", "entrypoint") is None and d.section({}, "probes", "liveness_probe") is None


def test_the_generation_changes_with_what_replicas_run():
    a = d.generation_of("digest1", ["python3", "app.py"], {"A": "1"}, [None])
    assert a == d.generation_of("digest1", ["python3", "app.py"], {"A": "1"}, [None])
    assert a != d.generation_of("digest1", ["python3", "app.py"], {"A": "2"}, [None])
    assert a != d.generation_of("digest2", ["python3", "app.py"], {"A": "1"}, [None])


def test_microservices_are_the_category_or_a_chassis():
    assert d.is_microservice("MicroService", None)
    assert d.is_microservice("Common", "Java Chassis")
    assert not d.is_microservice("Webapp", "Web") and not d.is_microservice("Common", None)


def test_a_replica_is_registered_when_an_up_endpoint_names_its_port():
    replicas = [PlacedReplica("h", 0, 8080), PlacedReplica("h", 1, 808), PlacedReplica("g", 2, 9090)]
    endpoints = ["rest://10.0.0.5:8080?sslEnabled=false", "highway://10.0.0.5:90901"]
    assert d.unregistered(replicas, endpoints) == [PlacedReplica("h", 1, 808), PlacedReplica("g", 2, 9090)]
    assert d.unregistered(replicas, []) == replicas


def test_a_web_app_or_microservice_is_ready_once_its_port_accepts_connections():
    tcp = {"type": "tcp", "delay": 0, "timeout": 1, "parameters": {}}
    assert d.default_readiness("Webapp", None) == tcp and d.default_readiness("MicroService", {}) == tcp
    assert d.default_readiness("Common", None) is None  # a worker without a port: READY once started
    given = {"type": "http", "parameters": {"path": "/health"}}
    assert d.default_readiness("Webapp", given) is given
