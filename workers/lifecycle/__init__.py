"""The lifecycle worker: metadata, environments, applications, components and instances."""
