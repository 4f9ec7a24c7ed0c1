"""Routers of the HTTP edge, one per API group. app.py includes every router listed here."""

from api_edge.routers import (
    app_configurations,
    applications,
    component_instances,
    components,
    config_items,
    environments,
    jobs,
    kie,
    metadata,
    registry,
    registry_govern,
    registry_health,
    registry_watch,
)

ROUTERS = [
    registry.router,  # first: heartbeat and discovery, the most frequent calls, are matched first
    registry_health.router,
    registry_govern.router,
    metadata.router,
    environments.router,
    applications.router,
    components.router,
    app_configurations.router,
    config_items.router,
    kie.router,
    registry_watch.router,
    component_instances.router,
    jobs.router,
    registry_govern.fallback_router,  # last: unknown /v4/{project}/registry|govern paths -> 404001
]
