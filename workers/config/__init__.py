"""The config worker: per-environment application configuration (and, later, config-center items)."""
