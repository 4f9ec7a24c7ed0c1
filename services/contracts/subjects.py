"""Every NATS subject name in one place.

Commands and queries (request-reply, queue group = domain):
    openstage.cmd.<project_id>.<domain>.<entity>.<action>
Events (JetStream stream OPENSTAGE_EVENTS, CloudEvents JSON):
    openstage.evt.<project_id>.<domain>.<entity>.<verb>
Worker liveness (request-reply, answered by every process of the domain):
    openstage.ping.<domain>

The handler of a command lives in ``workers/<domain>/<entity>s.py`` (e.g.
``openstage.cmd.p1.lifecycle.environment.create`` -> ``workers/lifecycle/environments.py``).
"""

from __future__ import annotations

import re

CMD_PREFIX = "openstage.cmd"
EVT_PREFIX = "openstage.evt"
PING_PREFIX = "openstage.ping"
EVENTS_STREAM = "OPENSTAGE_EVENTS"
# Deployment job work queue (JetStream, work-queue retention): openstage.work.<project>.<domain>.job
WORK_PREFIX = "openstage.work"
JOBS_WORK_STREAM = "OPENSTAGE_JOBS_WORK"
EVENT_TYPE_PREFIX = "io.openstage"
# Core NATS notice of a job document a tracker committed, {"job_id", "rev"} (workers/jobs/documents.py):
# internal processes only (tenants subscribe openstage.evt.<project>.> and their inboxes)
JOBS_FOLDED = "openstage.jobs.folded"

# A project id becomes one subject token: it may not contain '.', '*', '>' or spaces.
PROJECT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

LIFECYCLE = "lifecycle"
CONFIG = "config"
REGISTRY = "registry"
JOBS = "jobs"
DOMAINS = (LIFECYCLE, CONFIG, REGISTRY, JOBS)


def command(project_id: str, domain: str, action: str) -> str:
    """Subject a client requests to run ``action`` (``entity.verb``) of ``domain`` in a project."""
    return f"{CMD_PREFIX}.{project_id}.{domain}.{action}"


def command_template(domain: str, action: str) -> str:
    """The subscriber's subject, with the project as a FastStream path parameter."""
    return f"{CMD_PREFIX}.{{project}}.{domain}.{action}"


def event(project_id: str, domain: str, entity: str, verb: str) -> str:
    return f"{EVT_PREFIX}.{project_id}.{domain}.{entity}.{verb}"


def event_type(domain: str, entity: str, verb: str) -> str:
    """CloudEvents ``type`` of an event, e.g. ``io.openstage.lifecycle.environment.created``."""
    return f"{EVENT_TYPE_PREFIX}.{domain}.{entity}.{verb}"


def job_work(project_id: str, domain: str) -> str:
    """Work-queue subject a deployment job is queued on (consumed by the domain's job runner)."""
    return f"{WORK_PREFIX}.{project_id}.{domain}.job"


def ping(domain: str) -> str:
    return f"{PING_PREFIX}.{domain}"


# --- host agents (services/contracts/agent.py) -------------------------------------------------------
AGENT_PREFIX = "openstage.agent"
AGENTS_LOGS = "openstage.agents.logs"  # every agent listens; the one holding the replica answers


def agent_announce(host_id: str) -> str:
    return f"{AGENT_PREFIX}.{host_id}.announce"


def agent_replica(host_id: str) -> str:
    return f"{AGENT_PREFIX}.{host_id}.replica"


def agent_command(host_id: str, verb: str) -> str:
    return f"{AGENT_PREFIX}.{host_id}.cmd.{verb}"


# A host id becomes one subject token, like a project id.
HOST_ID_PATTERN = PROJECT_ID_PATTERN


# --- lifecycle worker: metadata and environments ---------------------------------------------------
class Lifecycle:
    """``openstage.cmd.<project>.lifecycle.<entity>.<action>`` -> ``workers/lifecycle/<entity>s.py``,
    one function per action (e.g. environment.create -> ``workers.lifecycle.environments:create_environment``,
    metadata.runtimes -> ``workers.lifecycle.metadata:list_runtimes``)."""

    METADATA_RUNTIMES = "metadata.runtimes"
    METADATA_FLAVORS = "metadata.flavors"
    METADATA_TEMPLATES = "metadata.templates"

    ENVIRONMENT_CREATE = "environment.create"
    ENVIRONMENT_LIST = "environment.list"
    ENVIRONMENT_GET = "environment.get"
    ENVIRONMENT_UPDATE = "environment.update"
    ENVIRONMENT_DELETE = "environment.delete"
    ENVIRONMENT_CHANGE_RESOURCES = "environment.change_resources"

    APPLICATION_CREATE = "application.create"
    APPLICATION_LIST = "application.list"
    APPLICATION_GET = "application.get"
    APPLICATION_UPDATE = "application.update"
    APPLICATION_DELETE = "application.delete"

    COMPONENT_CREATE = "component.create"
    COMPONENT_LIST = "component.list"
    COMPONENT_OVERVIEWS = "component.overviews"
    COMPONENT_GET = "component.get"
    COMPONENT_UPDATE = "component.update"
    COMPONENT_DELETE = "component.delete"


# --- config worker: per-environment application configuration -----------------------------------
class Config:
    """``openstage.cmd.<project>.config.<entity>.<action>``: app_configuration.* ->
    ``workers/config/app_configurations.py``, item.* -> ``workers/config/items.py``."""

    APP_CONFIGURATION_PUT = "app_configuration.put"
    APP_CONFIGURATION_GET = "app_configuration.get"
    APP_CONFIGURATION_DELETE = "app_configuration.delete"
    APP_CONFIGURATION_HISTORY = "app_configuration.history"

    # config-center items, /v3/{project}/configuration/items: workers/config/items.py
    ITEM_QUERY = "item.query"
    ITEM_UPSERT = "item.upsert"
    ITEM_DELETE = "item.delete"

    # ServiceComb-Kie v1, /v1/{project}/kie/kv and /kie/revision/{kv_id}: workers/config/kie_kvs.py
    KV_CREATE = "kv.create"
    KV_LIST = "kv.list"
    KV_GET = "kv.get"
    KV_UPDATE = "kv.update"
    KV_DELETE = "kv.delete"
    KV_DELETE_MANY = "kv.delete_many"
    KV_HISTORY = "kv.history"
    # every KV event of every project (config.kv.created|updated|deleted): wakes waiting lists
    KV_EVENTS_FILTER = f"{EVT_PREFIX}.*.{CONFIG}.kv.>"


# --- lifecycle worker: component instances ---------------------------------------------------
class ComponentInstances:
    """``openstage.cmd.<project>.lifecycle.instance.<action>`` -> ``workers/lifecycle/component_instances.py``
    (mutations answer with a job the job runner, ``workers/lifecycle/job_runner.py``, runs)."""

    CREATE = "instance.create"
    LIST = "instance.list"
    GET = "instance.get"
    UPDATE = "instance.update"
    DELETE = "instance.delete"
    ACTION = "instance.action"
    SNAPSHOTS = "instance.snapshots"


# --- jobs worker: the job tracker ----------------------------------------------------------------
class Jobs:
    """``openstage.cmd.<project>.jobs.job.get`` -> ``workers/jobs/queries.py`` (the tracker's read model)."""

    GET = "job.get"


# --- registry worker: Service-Center v4 registry ----------------------------------------------
class Registry:
    """``openstage.cmd.<project>.registry.<entity>.<action>``, one handler function per action:
    service.* -> ``workers/registry/microservices.py``, tag.* -> ``tags.py``, health.* -> ``health.py``, govern.* -> ``govern.py``, schema.* -> ``schemas.py``, dependency.* ->
    ``dependencies.py``, instance.heartbeat|heartbeat_many -> ``heartbeats.py``, instance.find|find_many
    -> ``discovery.py``, the other instance.* -> ``microservice_instances.py`` (e.g. instance.heartbeat ->
    ``workers.registry.heartbeats:heartbeat``, served at run time by ``fast_path.py``).

    Events (``openstage.evt.<project>.registry.<entity>.<verb>``): service.created|updated|deleted,
    schema.changed, tag.changed, dependency.changed, instance.registered|deregistered|expired|status_changed|updated."""

    SERVICE_CREATE = "service.create"
    SERVICE_GET = "service.get"
    SERVICE_LIST = "service.list"
    SERVICE_UPDATE_PROPERTIES = "service.update_properties"
    SERVICE_DELETE = "service.delete"
    SERVICE_DELETE_MANY = "service.delete_many"
    SERVICE_EXISTENCE = "service.existence"

    TAG_PUT_MANY = "tag.put_many"
    TAG_UPDATE = "tag.update"
    TAG_LIST = "tag.list"
    TAG_DELETE = "tag.delete"

    HEALTH = "health.get"
    VERSION = "health.version"

    GOVERN_SERVICES = "govern.list"
    GOVERN_SERVICE = "govern.get"
    GOVERN_RELATIONS = "govern.relations"
    GOVERN_APPS = "govern.apps"
    GOVERN_STATISTICS = "govern.statistics"

    SCHEMA_GET = "schema.get"
    SCHEMA_PUT = "schema.put"
    SCHEMA_PUT_MANY = "schema.put_many"
    SCHEMA_DELETE = "schema.delete"
    SCHEMA_LIST = "schema.list"

    DEPENDENCY_PUT = "dependency.put"
    DEPENDENCY_PROVIDERS = "dependency.providers"
    DEPENDENCY_CONSUMERS = "dependency.consumers"

    INSTANCE_REGISTER = "instance.register"
    INSTANCE_LIST = "instance.list"
    INSTANCE_GET = "instance.get"
    INSTANCE_DELETE = "instance.delete"
    INSTANCE_UPDATE_PROPERTIES = "instance.update_properties"
    INSTANCE_UPDATE_STATUS = "instance.update_status"
    INSTANCE_UPDATE_STATUS_MANY = "instance.update_status_many"
    INSTANCE_HEARTBEAT = "instance.heartbeat"
    INSTANCE_HEARTBEAT_MANY = "instance.heartbeat_many"
    INSTANCE_FIND = "instance.find"
    INSTANCE_FIND_MANY = "instance.find_many"

    # event entities and verbs (their names are fixed: the WebSocket watcher consumes them)
    SERVICE_EVENTS = ("created", "updated", "deleted")
    INSTANCE_EVENTS = ("registered", "deregistered", "expired", "status_changed", "updated")


def registry_events_filter(project_id: str = "*") -> str:
    """Subject filter of every registry event (of one project, or of all with ``*``)."""
    return f"{EVT_PREFIX}.{project_id}.{REGISTRY}.>"
