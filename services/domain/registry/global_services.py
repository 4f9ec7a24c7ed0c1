"""Service-Center's own registration and its global services, as pure data.

Service-Center registers itself as ``default/SERVICECENTER`` (appId ``default``,
``datasource/common.go`` line 27 ``RegistryAppID``; the service key ``apt.Service`` in
``server/core``) and answers ``GET /health`` with that service's instances
(``server/service/disco/instance.go`` lines 441-472 ``ClusterHealth``). Its *global* services
(``datasource.GlobalServiceNames``; ``datasource/etcd/util/microservice_util.go`` lines 300-354)
are found from any app and environment. openstage's registry stands in for all three names
java-chassis 3's ``SCAddressManager`` looks up: ``SERVICECENTER``, ``KIE``, ``CseConfigCenter``
- each answered by the edge, whose address (``OPENSTAGE_REGISTRY_ADVERTISE_URL``, else
``http://<host>:<port>`` of the edge settings) is their one endpoint."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from services.domain.registry.identity import default_service_id

GLOBAL_APP_ID = "default"
#: Service-Center's own environment (``server/core/microservice.go`` ``InitRegistration``:
#: ``discovery.ENV_PROD``); a find of a global service uses it whatever the request's or the
#: consumer's (``datasource/etcd/ms.go`` lines 709-731 ``findSharedServiceInstance``)
GLOBAL_ENVIRONMENT = "production"
SERVICECENTER = "SERVICECENTER"
GLOBAL_SERVICE_NAMES = (SERVICECENTER, "KIE", "CseConfigCenter")
#: the Service-Center API version openstage follows (``server/rest/controller/v4/main_controller.go`` line 36)
API_VERSION = "4.0.0"
#: the Service-Center release whose behaviour docs/registry-behaviour.md follows
SC_VERSION = "2.2.0"


def endpoint_of(advertise_url: str) -> str:
    """``http://h:p`` -> ``rest://h:p``; ``https://h:p`` -> ``rest://h:p?sslEnabled=true`` (the form
    ServiceComb clients read from an instance's endpoints)."""
    parts = urlsplit(advertise_url if "://" in advertise_url else f"http://{advertise_url}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"rest://{netloc}" + ("?sslEnabled=true" if parts.scheme == "https" else "")


def global_service(project: str, name: str, version: str, timestamp: str) -> dict[str, Any]:
    """The v4 JSON of a global service in ``project`` (as Service-Center's own: appId ``default``,
    environment ``production``, ``allowCrossApp``)."""
    sid = default_service_id("default", project, GLOBAL_ENVIRONMENT, GLOBAL_APP_ID, name, version)
    return {
        "serviceId": sid,
        "appId": GLOBAL_APP_ID,
        "serviceName": name,
        "version": version,
        "level": "BACK",
        "status": "UP",
        "environment": GLOBAL_ENVIRONMENT,
        "properties": {"allowCrossApp": "true"},
        "timestamp": timestamp,
        "modTimestamp": timestamp,
    }


def global_instance(service: dict[str, Any], advertise_url: str, timestamp: str) -> dict[str, Any]:
    """The one instance of a global service: the edge. Its id is fixed by the service and the
    address, so every registry process writes the same document."""
    endpoint = endpoint_of(advertise_url)
    iid = hashlib.sha1(f"{service['serviceId']}/{endpoint}".encode()).hexdigest()[:32]
    return {
        "instanceId": iid,
        "serviceId": service["serviceId"],
        "version": service["version"],
        "hostName": urlsplit(endpoint.replace("rest://", "http://", 1)).hostname or "",
        "endpoints": [endpoint],
        "status": "UP",
        # Service-Center's own (``server/core/microservice.go``): a push check every 30 s, 3 times
        "healthCheck": {"mode": "push", "interval": 30, "times": 3},
        "timestamp": timestamp,
        "modTimestamp": timestamp,
    }


def is_global(app_id: object, service_name: object) -> bool:
    """``datasource/ms_util.go`` lines 111-123 ``IsGlobal``: appId ``default`` and a global name."""
    return app_id == GLOBAL_APP_ID and service_name in GLOBAL_SERVICE_NAMES


def version_body(version: str = SC_VERSION) -> dict[str, str]:
    """``GET /version`` (``main_controller.go`` lines 38-41, 63-72; ``version/version.go`` ``Set``)."""
    return {"version": version, "buildTag": "openstage", "goVersion": "", "os": "linux", "arch": "", "apiVersion": API_VERSION}


__all__ = [
    "API_VERSION",
    "GLOBAL_APP_ID",
    "GLOBAL_ENVIRONMENT",
    "GLOBAL_SERVICE_NAMES",
    "SC_VERSION",
    "SERVICECENTER",
    "endpoint_of",
    "global_instance",
    "global_service",
    "is_global",
    "version_body",
]
