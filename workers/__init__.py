"""Domain workers, one FastStream app each. ``openstage worker NAME[,NAME...]`` runs WORKERS[NAME]
(several, comma-separated: in one process, each with its own broker, connections and database)."""

# name -> "module:factory" (the factory returns a FastStream app)
WORKERS: dict[str, str] = {
    "lifecycle": "workers.lifecycle.app:build",
    "config": "workers.config.app:build",
    "registry": "workers.registry.app:build",
    "jobs": "workers.jobs.app:build",
}

# How `openstage up` runs the domain workers (OPENSTAGE_WORKER_PROCESSES): one process each, or
# all of them in one process (less memory; a crash of it restarts all four).
SEPARATE = "separate"
COMBINED = "combined"
WORKER_PROCESSES = (SEPARATE, COMBINED)


def expected_workers(names: str | None) -> list[str]:
    """The domain workers /readyz waits for: the comma-separated OPENSTAGE_WORKERS, else every worker."""
    if names:
        return [w.strip() for w in names.split(",") if w.strip()]
    return list(WORKERS)


def worker_groups(workers: list[str], mode: str) -> list[str]:
    """The `openstage worker` argument of each worker process: one domain each (separate), or
    every domain comma-separated in one (combined)."""
    if mode not in WORKER_PROCESSES:
        raise ValueError(f"OPENSTAGE_WORKER_PROCESSES must be one of {', '.join(WORKER_PROCESSES)}, not {mode!r}")
    if mode == COMBINED and workers:
        return [",".join(workers)]
    return list(workers)
