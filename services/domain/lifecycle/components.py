"""Component rules: what a component's runtime, category, source and build may be. Pure: no I/O.

From the ServiceStage v2 reference ("Creating an Application Component") and the SDK enumerations:
- ``runtime`` is a ``type_name`` of the runtime catalogue (GET .../metadata/runtimes); another is
  Huawei's 400 SVCSTG.00100420 "runtime not supported".
- ``category`` is Webapp, MicroService or Common; ``sub_category`` is optional and, when given,
  one of the category's (the SDK's ComponentSubCategory: Web, Magento, Wordpress, SpringCloud,
  Java Chassis, Go Chassis, Mesher): Webapp -> Web, Magento, Wordpress; MicroService -> Java
  Chassis, Go Chassis, Mesher, SpringCloud; Common has none.
- ``source.kind`` ``code``: ``spec`` names a repository (repo_type GitHub|GitLab|Gitee|Bitbucket,
  repo_url http(s), repo_ref defaulting to ``master``, repo_auth the authorization's name) and no
  package fields. ``artifact``: ``spec`` names a package (storage swr|obs, type package, url,
  auth iam|none defaulting to iam; OBS properties only with obs storage) and no repository fields.
- ``build.parameters``: the build needs a source to build from and the build cluster
  (``cluster_id``); ``artifact_namespace`` defaults to ``cas_{project_id}`` and
  ``dockerfile_path`` to ``./``.
- Deleting: a component that has instances is refused with Huawei's 400 SVCSTG.00100402
  ("component was deployed, uninstall first"). With ``force=true`` ("whether to forcibly delete
  the component", servicestage_06_0042) its instances are deleted through their delete jobs and
  the component is marked being deleted (``status`` 1, the SDK's ComponentView.status); the
  delete job that removes its last instance deletes it. No instance is created in a component
  being deleted.
"""

from __future__ import annotations

from typing import Any

from services.contracts import errors
from services.contracts.components import Build, BuildInfo, Component, ComponentCreate, ComponentModify, SourceObject, SourceSpec
from services.contracts.errors import ServiceError, bad_request
from services.domain.lifecycle.catalogue import RUNTIME_NAMES
from services.domain.lifecycle.entities import given_fields

NORMAL = 0  # Component.status
BEING_DELETED = 1  # a forced delete waits for the component's instances to be deleted

SUB_CATEGORIES: dict[str, frozenset[str]] = {
    "Webapp": frozenset({"Web", "Magento", "Wordpress"}),
    "MicroService": frozenset({"Java Chassis", "Go Chassis", "Mesher", "SpringCloud"}),
    "Common": frozenset(),
}

_CODE_FIELDS = ("repo_type", "repo_url", "repo_ref", "repo_auth")
_ARTIFACT_FIELDS = ("storage", "type", "url", "web_url", "auth", "properties")


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIME_NAMES:
        allowed = ", ".join(sorted(RUNTIME_NAMES))
        raise errors.huawei_error(errors.RUNTIME_NOT_SUPPORTED, f"runtime {runtime!r} is not a supported runtime (allowed: {allowed})")


def normalized_sub_category(category: str, sub_category: str | None) -> str | None:
    """The sub-category to store (an empty one is none); 400 when it is not one of the category's."""
    if not sub_category:
        return None
    allowed = SUB_CATEGORIES.get(category, frozenset())
    if sub_category not in allowed:
        if not allowed:
            raise bad_request(
                f"sub_category: a {category} component has no sub-category (got {sub_category!r})", errors.COMPONENT_CATEGORY_INVALID
            )
        raise bad_request(
            f"sub_category: {sub_category!r} is not a sub-category of {category} (allowed: {', '.join(sorted(allowed))})",
            errors.COMPONENT_CATEGORY_INVALID,
        )
    return sub_category


def _source_error(message: str) -> ServiceError:
    return bad_request(f"source: {message}", errors.COMPONENT_SOURCE_INVALID)


def normalized_source(source: SourceObject | None) -> SourceObject | None:
    """The source with its defaults filled in; 400 when the spec does not fit the kind."""
    if source is None:
        return None
    spec = source.spec
    present = set(spec.model_dump(exclude_none=True))
    if source.kind == "code":
        wrong = [f for f in _ARTIFACT_FIELDS if f in present]
        if wrong:
            raise _source_error(f"a code source takes repo_type, repo_url, repo_ref, repo_auth, not {', '.join(wrong)}")
        for required in ("repo_type", "repo_url"):
            if required not in present:
                raise _source_error(f"spec.{required} is required for a code source")
        if not (spec.repo_url or "").startswith(("https://", "http://")):
            raise _source_error("spec.repo_url must be an http(s) URL of the repository")
        spec = spec.model_copy(update={"repo_ref": spec.repo_ref or "master"})
    else:
        wrong = [f for f in _CODE_FIELDS if f in present]
        if wrong:
            raise _source_error(f"an artifact source takes storage, type, url, auth, properties, not {', '.join(wrong)}")
        for required in ("storage", "type", "url"):
            if required not in present:
                raise _source_error(f"spec.{required} is required for an artifact source")
        if spec.properties is not None and spec.storage != "obs":
            raise _source_error("spec.properties (OBS endpoint, bucket, key) only go with storage obs")
        spec = spec.model_copy(update={"auth": spec.auth or "iam"})
    return SourceObject(kind=source.kind, spec=SourceSpec.model_validate(spec.model_dump(exclude_none=True)))


def normalized_build(project_id: str, build: Build | None, source: SourceObject | None, build_id: str) -> BuildInfo | None:
    """The build as stored and returned (with its id and defaults); 400 when it cannot run."""
    if build is None:
        return None
    if source is None:
        raise bad_request("build: a component without a source has nothing to build", errors.COMPONENT_BUILD_INVALID)
    params = build.parameters
    if not params.cluster_id:
        raise bad_request("build: parameters.cluster_id (the build cluster) is required", errors.COMPONENT_BUILD_INVALID)
    filled = params.model_copy(
        update={"artifact_namespace": params.artifact_namespace or f"cas_{project_id}", "dockerfile_path": params.dockerfile_path or "./"}
    )
    return BuildInfo(id=build_id, parameters=filled)


def check_create(body: ComponentCreate) -> None:
    """Every rule a create body must meet, without building the component (the edge runs this
    before forwarding, the worker again when it builds the component)."""
    check_runtime(body.runtime)
    normalized_sub_category(body.category, body.sub_category)
    source = normalized_source(body.source)
    normalized_build("-", body.build, source, "-")


def check_modify(body: ComponentModify) -> None:
    """The rules a modify body meets on its own (the merged result is checked by ``modified``)."""
    given_fields(body)
    normalized_source(body.source)


def new_component(
    project_id: str, application_id: str, component_id: str, body: ComponentCreate, creator: str, now_ms: int, build_id: str
) -> Component:
    check_runtime(body.runtime)
    source = normalized_source(body.source)
    return Component(
        id=component_id,
        name=body.name,
        status=0,
        runtime=body.runtime,
        category=body.category,
        sub_category=normalized_sub_category(body.category, body.sub_category),
        description=body.description,
        project_id=project_id,
        application_id=application_id,
        source=source,
        build=normalized_build(project_id, body.build, source, build_id),
        pipeline_ids=[],
        creator=creator,
        create_time=now_ms,
        update_time=now_ms,
    )


def modified(component: Component, change: ComponentModify, now_ms: int, build_id: str) -> Component:
    """The component after ``change``: a given source or build replaces the current one (the build
    keeps its id); the result must still meet every rule."""
    check_modify(change)
    fields = change.model_dump(exclude_unset=True, exclude_none=True)
    update: dict[str, Any] = {"update_time": now_ms}
    if "name" in fields:
        update["name"] = change.name
    if "description" in fields:
        update["description"] = change.description
    source = normalized_source(change.source) if change.source is not None else component.source
    update["source"] = source
    if change.build is not None:
        keep_id = component.build.id if component.build else build_id
        update["build"] = normalized_build(component.project_id, change.build, source, keep_id)
    elif component.build is not None and source is None:  # pragma: no cover - a source is never removed
        raise bad_request("build: a component without a source has nothing to build", errors.COMPONENT_BUILD_INVALID)
    return component.model_copy(update=update)


# --- deleting --------------------------------------------------------------------------------------
def check_deletable(component_id: str, instance_names: list[str]) -> None:
    """A component is deleted (without ``force``) only once it has no instances."""
    if instance_names:
        raise errors.huawei_error(
            errors.COMPONENT_DEPLOYED,
            f"component {component_id} has instances ({', '.join(instance_names)}): delete them first, "
            "or delete the component with force=true to delete them and then the component",
        )


def being_deleted(component: Component) -> bool:
    return component.status == BEING_DELETED


def marked_for_deletion(component: Component, now_ms: int) -> Component:
    """The component once a forced delete waits for its instances (unchanged if already marked)."""
    if being_deleted(component):
        return component
    return component.model_copy(update={"status": BEING_DELETED, "update_time": now_ms})


def check_accepts_instances(component: Component) -> None:
    """No instance is created in a component being deleted."""
    if being_deleted(component):
        raise bad_request(
            f"component {component.id} is being deleted (a forced delete is deleting its instances)", errors.COMPONENT_BEING_DELETED
        )
