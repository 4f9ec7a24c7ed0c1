"""Application configuration rules: what a new revision is. Pure: no I/O.

- The variables a PUT gives replace the configuration of that environment (they are not merged
  with the previous ones). When a name appears more than once the last value wins (the
  reference: "only the last environment variable takes effect"); the variable keeps the place of
  its first appearance.
- Every change is a new revision: 1 for the first PUT, then +1 for each PUT that changes the
  variables and for each DELETE. A PUT giving exactly the current variables changes nothing: no
  revision, no event. Revisions continue after a DELETE (a later PUT is DELETE's revision + 1).
"""

from __future__ import annotations

from services.contracts.app_configurations import ConfigurationBody, EnvVariable


def normalized(configuration: ConfigurationBody) -> ConfigurationBody:
    values: dict[str, str] = {}
    for variable in configuration.env:
        values[variable.name] = variable.value
    return ConfigurationBody(env=[EnvVariable(name=n, value=v) for n, v in values.items()])


def next_revision(current_revision: int | None) -> int:
    return (current_revision or 0) + 1


def is_change(current: ConfigurationBody | None, new: ConfigurationBody) -> bool:
    """Whether storing ``new`` over ``current`` (None: nothing configured) is a change."""
    return current is None or current.model_dump() != new.model_dump()
