"""Routers of the HTTP edge, one per API group. app.py includes every router listed here."""
from api_edge.routers import environments, metadata
from api_edge.routers import applications, components
from api_edge.routers import app_configurations
from api_edge.routers import registry
from api_edge.routers import config_items
from api_edge.routers import registry_watch
from api_edge.routers import instances, jobs

ROUTERS = [
    registry.router,  # first: the registry's hot paths (heartbeat, discovery) are matched first
    metadata.router,
    environments.router,
    applications.router,
    components.router,
    app_configurations.router,
    config_items.router,
    registry_watch.router,
    instances.router,
    jobs.router,
]
