"""Routers of the HTTP edge, one per API group. app.py includes every router listed here."""

from api_edge.routers import (
    app_configurations,
    applications,
    component_instances,
    components,
    config_items,
    environments,
    jobs,
    metadata,
    registry,
    registry_watch,
)

ROUTERS = [
    registry.router,  # first: heartbeat and discovery, the most frequent calls, are matched first
    metadata.router,
    environments.router,
    applications.router,
    components.router,
    app_configurations.router,
    config_items.router,
    registry_watch.router,
    component_instances.router,
    jobs.router,
]
