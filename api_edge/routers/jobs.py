"""/v2/{project_id}/cas/jobs/{job_id}"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api_edge.route_commands import sends
from api_edge.routers.forwarding import forward
from services.contracts.envelope import Offset
from services.contracts.errors import JOB_ID_EMPTY, huawei_error
from services.contracts.jobs import JobDetail, ShowJob
from services.contracts.subjects import JOBS, Jobs

router = APIRouter(prefix="/v2/{project_id}/cas/jobs", tags=["jobs"])


class JobQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    instance_id: str | None = None
    limit: Annotated[int, Field(ge=0, le=1000)] | None = None
    offset: Offset = 0
    desc: Literal["true", "false", "True", "False"] = "false"


# also answered by api_edge/raw_asgi_routes.py, before FastAPI's routing, with this builder (a
# request it refuses is passed on to the route below, which answers it)
def show_command(job_id: str, query: JobQuery) -> ShowJob:
    if not job_id.strip():
        raise huawei_error(JOB_ID_EMPTY, "give the job id in the path")
    return ShowJob(job_id=job_id, **query.model_dump())


@router.get("/{job_id}", response_model=JobDetail, summary="Obtain job details (tasks, execution status)")
@sends(JOBS, Jobs.GET)
async def show_job(project_id: str, job_id: str, query: Annotated[JobQuery, Query()], request: Request):
    return await forward(request, project_id, show_command(job_id, query))
