"""Rules of a deployment by the process driver (services/adapters/drivers/process.py). Pure: no I/O.

- **Placement**: the hosts of an instance are, for each ``ecs`` refer resource, its
  ``parameters.hosts`` when given, else its ``id`` (an environment's base resource
  ``{"type": "ecs", "id": "<host id>"}`` names a host); replica ``i`` runs on ``hosts[i % len(hosts)]``.
- **Start command**: ``configuration.lifecycle.entrypoint`` (``command`` + ``args``, the SDK's
  LifecycleEntrypoint) when given; otherwise the convention of the component's runtime
  (``CONVENTIONS``), run in the replica's working directory (the unpacked package):

  ==========  =====================================================================================
  runtime     command
  ==========  =====================================================================================
  Java8       ``java -jar <the jar>`` (the package itself when it is a .jar, else the first ``*.jar``)
  Python3     ``python3 app.py``, else ``python3 main.py``
  Nodejs8     ``npm start`` when package.json has a start script, else ``node server.js``, else ``node index.js``
  ==========  =====================================================================================

  Any other runtime (Tomcat8, Php7, Docker, Custom) needs an entrypoint: without one the job fails.
- **Environment of a replica** (later wins): the application's configuration for the instance's
  environment, then the instance's ``configuration.env``, then what the platform injects
  (``platform_env``); the agent sets ``PORT`` for each replica.
- **Readiness**: ``configuration.probes.readiness_probe`` when given; else a web app or a
  microservice is READY once its PORT accepts connections (``default_readiness``).
- **Registration**: a microservice's replica counts as registered when an UP instance of the
  project's registry has an endpoint naming its port (``:<port>`` not followed by a digit)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CHASSIS_SUB_CATEGORIES = frozenset({"Java Chassis", "Go Chassis", "Mesher", "SpringCloud"})


class NoStartCommand(ValueError):
    """The instance gives no entrypoint and its runtime has no start convention."""


# --- placement ------------------------------------------------------------------------------------
def hosts_of(refer_resources: Sequence[Mapping[str, Any]]) -> list[str]:
    """The hosts an instance's ecs refer resources name, in order, each once."""
    hosts: list[str] = []
    for r in refer_resources:
        if r.get("type") != "ecs":
            continue
        given = (r.get("parameters") or {}).get("hosts")
        for h in given if isinstance(given, list) and given else [r.get("id")]:
            if isinstance(h, str) and h and h not in hosts:
                hosts.append(h)
    return hosts


def with_hosts(refer_resources: Sequence[Mapping[str, Any]], hosts: Sequence[str]) -> list[dict[str, Any]]:
    """The refer resources with the (first) ecs resource's ``parameters.hosts`` replaced (a scale's hosts)."""
    out: list[dict[str, Any]] = []
    done = False
    for r in refer_resources:
        item = dict(r)
        if item.get("type") == "ecs" and not done:
            item["parameters"] = {**(item.get("parameters") or {}), "hosts": list(hosts)}
            done = True
        out.append(item)
    return out


def place(hosts: Sequence[str], replica: int) -> dict[str, list[int]]:
    """Replica ``i`` -> ``hosts[i % len(hosts)]``; every host is listed (an empty list: none there)."""
    placed: dict[str, list[int]] = {h: [] for h in hosts}
    if not hosts:
        return placed
    for i in range(replica):
        placed[hosts[i % len(hosts)]].append(i)
    return placed


def serves(projects: Sequence[str], project_id: str) -> bool:
    """A host announcing ``projects`` serves ``project_id`` ("*": every project)."""
    return "*" in projects or project_id in projects


# --- start command --------------------------------------------------------------------------------
_PYTHON = (
    "if [ -f app.py ]; then exec python3 app.py; elif [ -f main.py ]; then exec python3 main.py; fi; "
    "echo 'no app.py or main.py in the package' >&2; exit 127"
)
_NODE = (
    "if [ -f package.json ] && grep -q '\"start\"' package.json; then exec npm start; "
    "elif [ -f server.js ]; then exec node server.js; elif [ -f index.js ]; then exec node index.js; fi; "
    "echo 'no start script in package.json, server.js or index.js in the package' >&2; exit 127"
)
_JAVA_ANY_JAR = (
    'jar=$(ls *.jar 2>/dev/null | head -n 1); [ -n "$jar" ] || { echo "no .jar in the package" >&2; exit 127; }; exec java -jar "$jar"'
)


def runtime_family(runtime: str) -> str | None:
    r = runtime.lower()
    if r.startswith("java") or "openjdk" in r:
        return "java"
    if r.startswith("python"):
        return "python"
    if r.startswith("node"):
        return "node"
    return None


def artifact_file_name(url: str) -> str:
    """The file name an artifact URL ends with (``https://h/x/app.jar?sig`` -> ``app.jar``)."""
    path = urlsplit(url).path if "://" in url else url
    return path.rstrip("/").rsplit("/", 1)[-1]


def _argv(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def start_command(runtime: str, entrypoint: Mapping[str, Any] | None, package_file: str | None) -> list[str]:
    """The argv of each replica. ``package_file``: the package's file name when it is one file (not an archive)."""
    if entrypoint:
        argv = _argv(entrypoint.get("command")) + _argv(entrypoint.get("args"))
        if argv:
            return argv
    family = runtime_family(runtime)
    if family == "java":
        if package_file and package_file.endswith(".jar"):
            return ["java", "-jar", package_file]
        return ["sh", "-c", _JAVA_ANY_JAR]
    if family == "python":
        return ["sh", "-c", _PYTHON]
    if family == "node":
        return ["sh", "-c", _NODE]
    raise NoStartCommand(
        f"runtime {runtime} has no start convention: give configuration.lifecycle.entrypoint "
        '({"command": [...], "args": [...]}) to say how to start the package'
    )


def describe_command(argv: Sequence[str]) -> str:
    if len(argv) == 3 and argv[0] == "sh" and argv[1] == "-c":
        if argv[2] == _PYTHON:
            return "python3 app.py (or main.py)"
        if argv[2] == _NODE:
            return "npm start (or node server.js, node index.js)"
        if argv[2] == _JAVA_ANY_JAR:
            return "java -jar <the package's jar>"
    return " ".join(argv)


# --- environment ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeploymentContext:
    """What the platform tells each replica about where it runs."""

    project_id: str
    application_id: str
    application_name: str
    component_id: str
    component_name: str
    environment_id: str
    instance_id: str
    version: str
    registry_url: str  # the edge as registry and config-center clients reach it
    credentials: tuple[str, str] | None = None  # the project's registry account (rbac), else None


def platform_env(ctx: DeploymentContext) -> dict[str, str]:
    env = {
        "PAAS_CSE_SC_ENDPOINT": ctx.registry_url,
        "PAAS_CSE_CC_ENDPOINT": ctx.registry_url,
        "PAAS_CSE_ENDPOINT": ctx.registry_url,
        "PAAS_PROJECT_NAME": ctx.project_id,
        "CAS_APPLICATION_NAME": ctx.application_name,
        "CAS_COMPONENT_NAME": ctx.component_name,
        "CAS_INSTANCE_VERSION": ctx.version,
        "CAS_ENVIRONMENT_ID": ctx.environment_id,
        "CAS_APPLICATION_ID": ctx.application_id,
        "CAS_COMPONENT_ID": ctx.component_id,
        "CAS_INSTANCE_ID": ctx.instance_id,
    }
    if ctx.credentials is not None:
        env["SERVICECOMB_CREDENTIALS_ACCOUNT_NAME"], env["SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD"] = ctx.credentials
    return env


def _pairs(items: Iterable[Any]) -> Iterable[tuple[str, str]]:
    for item in items or []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            yield item["name"], str(item.get("value", ""))
        elif isinstance(item, tuple) and len(item) == 2:
            yield str(item[0]), str(item[1])


def compose_env(application_env: Iterable[Any], instance_env: Iterable[Any], platform: Mapping[str, str]) -> dict[str, str]:
    """A replica's environment: the application's configuration, then the instance's env, then the
    platform's variables; a later one replaces an earlier one of the same name."""
    env: dict[str, str] = {}
    for name, value in _pairs(application_env):
        env[name] = value
    for name, value in _pairs(instance_env):
        env[name] = value
    env.update(platform)
    return env


# --- configuration sections ----------------------------------------------------------------------
def section(configuration: Mapping[str, Any], *names: str) -> Any:
    """``configuration[a][b]`` under the SDK's snake_case, its JSON camelCase or a kebab-case name."""
    value: Any = configuration
    for name in names:
        if not isinstance(value, Mapping):
            return None
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
        found = [value[k] for k in (name, camel, name.replace("_", "-")) if k in value]
        value = found[0] if found else None
    return value


def generation_of(*parts: Any) -> str:
    """A stable name of what replicas run (package, command, environment, probes, hooks): the same
    parts give the same generation, so re-applying them leaves running replicas alone."""
    data = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]


def default_readiness(category: str | None, given: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The readiness probe of a replica: the one given, else for a web app or a microservice (which
    serve on their PORT) a tcp probe of PORT -- READY once it accepts connections, not merely once
    its process started; other components (e.g. a Common worker) have none: READY once started."""
    if given:
        return given
    if category in ("Webapp", "MicroService"):
        return {"type": "tcp", "delay": 0, "timeout": 1, "parameters": {}}
    return None


# --- registry -------------------------------------------------------------------------------------
def is_microservice(category: str | None, sub_category: str | None) -> bool:
    return category == "MicroService" or (sub_category or "") in CHASSIS_SUB_CATEGORIES


def names_port(endpoint: str, port: int) -> bool:
    """``rest://10.0.0.5:8081?sslEnabled=false`` names port 8081 (and not 808)."""
    return re.search(rf":{port}(?!\d)", endpoint) is not None


@dataclass(frozen=True)
class PlacedReplica:
    host_id: str
    index: int
    port: int


def unregistered(replicas: Sequence[PlacedReplica], up_endpoints: Sequence[str]) -> list[PlacedReplica]:
    """The replicas no UP registry instance names by an endpoint."""
    return [r for r in replicas if not any(names_port(e, r.port) for e in up_endpoints)]
