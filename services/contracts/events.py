"""CloudEvents 1.0 (structured JSON mode) as published on the OPENSTAGE_EVENTS stream."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from services.contracts import subjects


class CloudEvent(BaseModel):
    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    source: str
    type: str
    subject: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    # Extension attributes (lower-case alphanumerics, as CloudEvents requires).
    openstageproject: str
    openstagesubject: str = Field(description="The NATS subject the event is published on")

    @classmethod
    def new(
        cls, project_id: str, domain: str, entity: str, verb: str, resource_path: str, data: dict[str, Any], event_id: str | None = None
    ) -> CloudEvent:
        kwargs: dict[str, Any] = {}
        if event_id:
            kwargs["id"] = event_id
        return cls(
            source=f"/openstage/{domain}",
            type=subjects.event_type(domain, entity, verb),
            subject=resource_path,
            data=data,
            openstageproject=project_id,
            openstagesubject=subjects.event(project_id, domain, entity, verb),
            **kwargs,
        )
