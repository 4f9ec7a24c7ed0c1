"""Domain workers, one FastStream app each. ``openstage worker NAME`` runs WORKERS[NAME]."""

# name -> "module:factory" (the factory returns a FastStream app)
WORKERS: dict[str, str] = {
    "lifecycle": "workers.lifecycle.app:build",
    "config": "workers.config.app:build",
    "registry": "workers.registry.app:build",
    "jobs": "workers.jobs.app:build",
}


def expected_workers(names: str | None) -> list[str]:
    """The domain workers /readyz waits for: the comma-separated OPENSTAGE_WORKERS, else every worker."""
    if names:
        return [w.strip() for w in names.split(",") if w.strip()]
    return list(WORKERS)
