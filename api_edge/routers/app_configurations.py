"""/v2/{project_id}/cas/applications/{application_id}/configuration (answered by the config worker)"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from api_edge.route_commands import sends
from api_edge.routers.forwarding import creator, forward
from services.contracts.app_configurations import (
    AppConfiguration,
    AppConfigurationHistory,
    AppConfigurationList,
    AppConfigurationQuery,
    AppConfigurationRef,
    ApplicationConfigModify,
    PutAppConfiguration,
)
from services.contracts.subjects import CONFIG, Config

router = APIRouter(prefix="/v2/{project_id}/cas/applications/{application_id}/configuration", tags=["application configuration"])


@router.put("", response_model=AppConfiguration, summary="Add or modify application configurations")
@sends(CONFIG, Config.APP_CONFIGURATION_PUT)
async def change_configuration(project_id: str, application_id: str, body: ApplicationConfigModify, request: Request):
    cmd = PutAppConfiguration(application_id=application_id, body=body, creator=creator(request))
    return await forward(request, project_id, cmd)


@router.get("", response_model=AppConfigurationList, summary="Obtain application configurations")
@sends(CONFIG, Config.APP_CONFIGURATION_GET)
async def show_configuration(project_id: str, application_id: str, request: Request, environment_id: str | None = Query(default=None)):
    cmd = AppConfigurationQuery(application_id=application_id, environment_id=environment_id)
    return await forward(request, project_id, cmd)


@router.delete("", status_code=204, summary="Delete application configurations of an environment")
@sends(CONFIG, Config.APP_CONFIGURATION_DELETE)
async def delete_configuration(project_id: str, application_id: str, request: Request, environment_id: str = Query()):
    cmd = AppConfigurationRef(application_id=application_id, environment_id=environment_id, creator=creator(request))
    return await forward(request, project_id, cmd)


@router.get(
    "/history",
    response_model=AppConfigurationHistory,
    summary="(openstage) The revisions of an application's configuration in an environment",
)
@sends(CONFIG, Config.APP_CONFIGURATION_HISTORY)
async def configuration_history(project_id: str, application_id: str, request: Request, environment_id: str = Query()):
    cmd = AppConfigurationRef(application_id=application_id, environment_id=environment_id)
    return await forward(request, project_id, cmd)
