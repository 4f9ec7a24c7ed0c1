"""Every event type the system has published (whatever the tests before this one did) is declared by
its worker (``EVENTS`` in the module named by ``workers.WORKERS``), so /asyncapi and
docs/bus-reference.md list it.

A worker that declares no ``EVENTS`` at all yet only gets a warning (its event types are listed
here); once it declares some, the check is strict for its domain."""

from __future__ import annotations

import asyncio
import importlib
import warnings

import nats

from services.contracts import subjects
from workers import WORKERS


def published_event_types(nats_url: str) -> set[str]:
    async def scenario() -> set[str]:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(subjects.EVENTS_STREAM, subjects_filter=f"{subjects.EVT_PREFIX}.>")
        finally:
            await nc.close()
        found = set()
        for subject in info.state.subjects or {}:
            _, _, _project, domain, entity, verb = subject.split(".", 5)
            found.add(subjects.event_type(domain, entity, verb))
        return found

    return asyncio.run(scenario())


def test_published_event_types_are_declared(running):
    declared: dict[str, set[str]] = {}
    for name, target in WORKERS.items():
        module = importlib.import_module(target.split(":", 1)[0])
        if hasattr(module, "EVENTS"):
            declared[name] = set(module.EVENTS)
    everything = set().union(*declared.values()) if declared else set()

    missing_strict, missing_lenient = [], []
    for event_type in sorted(published_event_types(running.nats_url)):
        if event_type in everything:
            continue
        domain = event_type.split(".")[2]
        (missing_strict if domain in declared else missing_lenient).append(event_type)

    if missing_lenient:
        warnings.warn(f"event types published but not declared (their worker has no EVENTS yet): {missing_lenient}", stacklevel=2)
    assert not missing_strict, (
        f"event types published but not declared: {missing_strict}. Add them to EVENTS in the worker's module "
        "(workers/<domain>/app.py) and rerun `python -m openstage.busdoc`."
    )
