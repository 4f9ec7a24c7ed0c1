"""Domain workers, one FastStream app each. ``openstage worker NAME`` runs WORKERS[NAME]."""

# name -> "module:factory" (the factory returns a FastStream app)
WORKERS: dict[str, str] = {
    "lifecycle": "workers.lifecycle.app:build",
    "config": "workers.config.app:build",
    "registry": "workers.registry.app:build",
    "jobs": "workers.jobs.app:build",
}
