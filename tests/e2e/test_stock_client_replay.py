"""The HTTP sequences of stock ServiceComb clients, replayed in client order against a real
`openstage up` with only what a user puts in the clients' configuration: the edge's address and the
registry account `openstage up` prints (no AK/SK, no X-Auth-Token). Every request says where the
client sends it (repository@version, file, line) and checks what that code reads from the answer.

Sources (bare mirrors of the public repositories):

- java-chassis 3.x: apache/servicecomb-java-chassis@3.3.0; `JC3_CLIENT` below is
  clients/service-center-client/src/main/java/org/apache/servicecomb/service/center/client/
- java-chassis 2.8: apache/servicecomb-java-chassis@2.8.9; `JC28` is
  service-registry/registry-service-center/src/main/java/org/apache/servicecomb/serviceregistry/
- go-chassis v2.8.0 (go-chassis/go-chassis) with go-chassis/sc-client@1cf8c04c (client.go) and
  go-chassis/cari (addresspool/pool.go)
- spring-cloud-huawei (huaweicloud/spring-cloud-huawei@29c2fba7), which talks to the registry and
  the config center through java-chassis' clients (its pom's servicecomb.version is 2.8.31: the
  clients/ modules of apache/servicecomb-java-chassis@2.8.9 are cited)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import websockets

ACCOUNT_LINE = re.compile(r"account=(\S+) password=(\S+)")


@pytest.fixture(scope="module")
def account(up) -> dict[str, str]:
    """The registry account as `openstage up` prints it (what a user copies into
    servicecomb.credentials.account.name/password)."""
    found = ACCOUNT_LINE.search(up.banner)
    assert found, up.banner
    return {"name": found.group(1), "password": found.group(2)}


@pytest.fixture(scope="module")
def http(up) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=up.endpoint, timeout=20) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def ws_url(up, path: str) -> str:
    return "ws" + up.endpoint[len("http") :] + path


def login(http: httpx.Client, account: dict[str, str]) -> dict[str, str]:
    """POST /v4/token: every client reads `token` from a 200 and sends `Authorization: Bearer`."""
    r = http.post("/v4/token", json={"name": account["name"], "password": account["password"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def edge_endpoint(up) -> str:
    return f"rest://127.0.0.1:{up.port}"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def next_message(ws, timeout: float = 10) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def test_java_chassis_3(up, account, http):
    """A java-chassis 3.x provider and consumer: project `default` (SCClientUtils.java L56, L67),
    RBAC from servicecomb.credentials.account.* (huawei-cloud/servicestage RBACBootStrapService.java
    L57-61), config from Kie with long polling (dynamic-config/config-kie KieConfig.java L29-53)."""
    reg = "/v4/default/registry"
    # huawei-cloud/servicestage/.../TokenCacheManager.java L168-172 -> JC3_CLIENT/ServiceCenterClient.java L510-518
    auth = login(http, account)
    headers = {**auth, "x-domain-name": "default"}  # JC3_CLIENT/ServiceCenterRawClient.java L34, L107
    # JC3_CLIENT/ServiceCenterRawClient.java L36, L100: the address check; only a 2xx counts
    r = http.get(f"{reg}/health/readiness", headers=headers)
    assert 200 <= r.status_code < 300, r.text

    app, name, version = unique("jc3app"), "provider", "1.0.0"
    # JC3_CLIENT/ServiceCenterRegistration.java L130 -> ServiceCenterClient.java L159-176: a non-200 means "not registered yet"
    r = http.get(
        f"{reg}/existence",
        params={"type": "microservice", "appId": app, "serviceName": name, "version": version, "env": ""},
        headers=headers,
    )
    assert r.status_code == 400 and r.json()["errorCode"] == "400012", r.text
    # ServiceCenterRegistration.java L132-140 -> ServiceCenterClient.java L120-128: reads serviceId
    service = {
        "appId": app,
        "serviceName": name,
        "version": version,
        "schemas": ["hello"],
        "framework": {"name": "servicecomb-java-chassis"},
    }
    r = http.post(f"{reg}/microservices", json={"service": service}, headers=headers)
    assert r.status_code == 200 and r.json()["serviceId"], r.text
    sid = r.json()["serviceId"]
    # ServiceCenterRegistration.java L216-220 -> ServiceCenterClient.java L441-447: schema and its summary, 200
    schema = "openapi: 3.0.1\ninfo: {title: hello, version: 1.0.0}\npaths: {}\n"
    r = http.put(f"{reg}/microservices/{sid}/schemas/hello", json={"schema": schema, "summary": sha256(schema)}, headers=headers)
    assert r.status_code == 200, r.text
    # ServiceCenterRegistration.java L240-258 -> ServiceCenterClient.java L207-216: reads instanceId
    instance = {
        "serviceId": sid,
        "hostName": "jc3-host",
        "endpoints": ["rest://10.0.0.3:8080"],
        "healthCheck": {"mode": "push", "interval": 15, "times": 3},
    }
    r = http.post(f"{reg}/microservices/{sid}/instances", json={"instance": instance}, headers=headers)
    assert r.status_code == 200 and r.json()["instanceId"], r.text
    iid = r.json()["instanceId"]
    # ServiceCenterRegistration.java L289 -> ServiceCenterClient.java L368-376: 200 is a success
    r = http.put(f"{reg}/microservices/{sid}/instances/{iid}/heartbeat", headers=headers)
    assert r.status_code == 200, r.text

    # registry-service-center/.../SCAddressManager.java L70-91, L131-136 -> ServiceCenterClient.java L229-247
    # (autodiscovery, after the first heartbeat): appId default, version 0+, rev empty; reads instances[].endpoints
    for global_service in ("SERVICECENTER", "KIE", "CseConfigCenter"):
        r = http.get(
            f"{reg}/instances",
            params={"appId": "default", "serviceName": global_service, "version": "0+", "rev": ""},
            headers={**headers, "X-ConsumerId": sid},
        )
        assert r.status_code == 200, (global_service, r.text)
        assert [i["endpoints"] for i in r.json()["instances"]] == [[edge_endpoint(up)]], r.text

    # a consumer of the provider: ServiceCenterDiscovery.java L165 -> ServiceCenterClient.java L229-252
    consumer = {"appId": app, "serviceName": "consumer", "version": version}
    csid = http.post(f"{reg}/microservices", json={"service": consumer}, headers=headers).json()["serviceId"]
    find = {"appId": app, "serviceName": name, "version": "0+", "rev": ""}
    r = http.get(f"{reg}/instances", params=find, headers={**headers, "X-ConsumerId": csid})
    assert r.status_code == 200 and [i["instanceId"] for i in r.json()["instances"]] == [iid], r.text
    revision = r.headers["X-Resource-Revision"]  # ServiceCenterClient.java L244
    r = http.get(f"{reg}/instances", params={**find, "rev": revision}, headers={**headers, "X-ConsumerId": csid})
    assert r.status_code == 304, r.text  # L249-251: nothing changed
    # ServiceCenterDiscovery.java L207 -> ServiceCenterClient.java L187-195: the provider's definition
    r = http.get(f"{reg}/microservices/{sid}", headers=headers)
    assert r.status_code == 200 and r.json()["service"]["schemas"] == ["hello"], r.text

    async def watch_and_change() -> dict:
        # ServiceCenterWatch.java L49, L104-126: the consumer's watcher, x-domain-name and the auth header
        async with websockets.connect(ws_url(up, f"/v4/default/registry/microservices/{csid}/watcher"), additional_headers=headers) as ws:
            await asyncio.sleep(0.3)
            second = {**instance, "hostName": "jc3-host-2", "endpoints": ["rest://10.0.0.4:8080"]}
            r = await asyncio.to_thread(http.post, f"{reg}/microservices/{sid}/instances", json={"instance": second}, headers=headers)
            assert r.status_code == 200, r.text
            return await next_message(ws)

    # ServiceCenterWatch.java L166-170: onMessage parses a WatchInstanceResponse
    event = asyncio.run(watch_and_change())
    assert event["action"] == "CREATE" and event["key"]["serviceName"] == name and event["instance"]["hostName"] == "jc3-host-2", event


def kie_long_poll(http: httpx.Client, url: str, headers: dict, change) -> tuple[httpx.Response, float]:
    """A waiting list answered by a change made while it waits: (the answer, seconds from the change)."""
    answer: dict = {}

    def poll() -> None:
        answer["response"] = http.get(url, headers=headers)
        answer["at"] = time.monotonic()

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(1.0)  # the poll is waiting now
    changed_at = time.monotonic()
    change()
    waiting.join(30)
    assert "response" in answer, "the long poll was not answered"
    return answer["response"], answer["at"] - changed_at


def test_java_chassis_3_kie_long_poll(up, account, http):
    """config-kie: the four label sets of ConfigurationsRequestFactory.java L43-93, each
    `label=k%3Av&...&&revision=<r>&match=exact&wait=<n>s` (KieClient.java L85-90, L168-183).
    spring-cloud-huawei's `kie` mode sends the same through java-chassis' KieClient
    (service-engine-config/.../ConfigService.java L92-93)."""
    auth = login(http, account)
    app = unique("kieapp")
    labels = f"label=app%3A{app}&label=environment%3A&"  # createAppConfigurationsRequest, L59-65
    base = f"/v1/default/kie/kv?{labels}&revision="
    # KieConfigManager's first pull with the client's initial revision "0" (KieClient.java L64): no KV in
    # the project yet, so revision 0 is the current one and Kie answers 304 (kv_resource.go returnData,
    # revNotMatch); the client keeps "0" (L109-112)
    revision = "0"
    r = http.get(f"{base}{revision}&match=exact&wait=0s", headers=auth)
    assert r.status_code == 304, r.text

    # what an operator does meanwhile: a KV with exactly the app's labels, enabled
    def add_kv() -> None:
        body = {"key": "servicecomb.demo.timeout", "value": "3000", "labels": {"app": app, "environment": ""}, "status": "enabled"}
        assert http.post("/v1/default/kie/kv", json=body, headers=auth).status_code == 200

    r, seconds = kie_long_poll(http, f"{base}{revision}&match=exact&wait=20s", auth, add_kv)
    assert r.status_code == 200, r.text
    assert seconds < 1.0, f"answered {seconds:.2f}s after the change"
    # KieClient.java L196-220 (processValueType): value_type "text" is read as key=value when status is enabled
    [doc] = r.json()["data"]
    assert (doc["key"], doc["value"], doc["value_type"], doc["status"]) == ("servicecomb.demo.timeout", "3000", "text", "enabled")
    assert int(r.headers["X-Kie-Revision"]) > int(revision)
    # the next poll with the new revision and no change: 304 once the wait is over (KieClient.java L109-112)
    r = http.get(f"{base}{r.headers['X-Kie-Revision']}&match=exact&wait=1s", headers=auth)
    assert r.status_code == 304, r.text

    # the check of an address that failed before (KieClient.java L60, L164-165; config-center-client
    # ConfigCenterClient.java L56): http-client-common ServiceCombServiceAvailableUtils.java L37-52 takes a 200,
    # or a 404 and a TCP connect, as "available"; anything else (a 401) would keep the address isolated
    for path in ("/v1/health", "/v3/default/configuration/health?mode=readiness"):
        assert http.get(path, headers=auth).status_code == 404, path


def test_java_chassis_2_8(up, account, http):
    """java-chassis 2.8: the project is servicecomb.config.client.domainName (Const.java L30, L39;
    ServiceRegistryConfig.java L55), here `legacy`; RBAC from servicecomb.credentials.account.*
    (JC28/auth/RBACBootStrapService.java L48-54)."""
    reg = "/v4/legacy/registry"
    # JC28/auth/TokenCacheManager -> clients/.../ServiceCenterClient.java (2.8.9) L499-507
    headers = login(http, account)
    app = unique("jc28app")

    def register(name: str, schemas: dict[str, str]) -> str:
        # JC28/task/MicroserviceRegisterTask.java L82 -> JC28/client/http/ServiceRegistryClientImpl.java L328-345
        r = http.get(
            f"{reg}/existence",
            params={"type": "microservice", "appId": app, "serviceName": name, "version": "2.0.0", "env": ""},
            headers=headers,
        )
        assert r.status_code == 400 and r.json()["errorCode"] == "400012", r.text
        # MicroserviceRegisterTask.java L121 -> ServiceRegistryClientImpl.java L515-540: reads serviceId
        service = {"appId": app, "serviceName": name, "version": "2.0.0", "schemas": list(schemas)}
        r = http.post(f"{reg}/microservices", json={"service": service}, headers=headers)
        assert r.status_code == 200, r.text
        sid = r.json()["serviceId"]
        # MicroserviceRegisterTask.java L186 -> ServiceRegistryClientImpl.java L473-505: schemas without content
        r = http.get(f"{reg}/microservices/{sid}/schemas", headers=headers)
        assert r.status_code == 200, r.text
        # one entry per declared schema id, no content yet: the task then PUTs each (L214-226, L267-272)
        assert r.json().get("schemas", []) == [{"schemaId": schema_id} for schema_id in schemas], r.text
        for schema_id, content in schemas.items():
            # MicroserviceRegisterTask.java L240, L399 -> ServiceRegistryClientImpl.java L380-400: summary is the content's sha256
            body = {"schema": content, "summary": sha256(content)}
            assert http.put(f"{reg}/microservices/{sid}/schemas/{schema_id}", json=body, headers=headers).status_code == 200
        return sid

    big = "swagger: '2.0'\n" + "x" * 200_000
    psid = register("provider", {"orders": big, "stock": "swagger: '2.0'\n"})
    # ServiceRegistryClientImpl.java L581-600: reads instanceId
    instance = {"hostName": "jc28", "endpoints": ["rest://10.0.0.28:8080"], "healthCheck": {"mode": "push", "interval": 30, "times": 3}}
    r = http.post(f"{reg}/microservices/{psid}/instances", json={"instance": instance}, headers=headers)
    piid = r.json()["instanceId"]
    # MicroserviceInstanceHeartbeatTask -> ServiceRegistryClientImpl.java L658-676: 200 is ok
    assert http.put(f"{reg}/microservices/{psid}/instances/{piid}/heartbeat", headers=headers).status_code == 200
    # ServiceRegistryClientImpl.java L912-925: GET version, reads version
    r = http.get(f"{reg}/version", headers=headers)
    assert r.status_code == 200 and r.json()["version"], r.text

    csid = register("consumer", {})
    # JC28/refresh/ClassificationAddress.java L146 (appId default, version latest) -> ServiceRegistryClientImpl.java L759-781
    r = http.get(
        f"{reg}/instances",
        params={"appId": "default", "serviceName": "SERVICECENTER", "global": "true", "version": "latest"},
        headers={**headers, "X-ConsumerId": csid},
    )
    assert r.status_code == 200 and [i["endpoints"] for i in r.json()["instances"]] == [[edge_endpoint(up)]], r.text
    # the consumer finds its provider (same call, L759-781) with global=true and X-ConsumerId, then with rev
    find = {"appId": app, "serviceName": "provider", "global": "true", "version": "0.0.0.0+"}
    r = http.get(f"{reg}/instances", params=find, headers={**headers, "X-ConsumerId": csid})
    assert r.status_code == 200 and [i["instanceId"] for i in r.json()["instances"]] == [piid], r.text
    r = http.get(f"{reg}/instances", params={**find, "rev": r.headers["X-Resource-Revision"]}, headers={**headers, "X-ConsumerId": csid})
    assert r.status_code == 304
    # ServiceRegistryClientImpl.java L547-565: the provider's definition with global=true
    r = http.get(f"{reg}/microservices/{psid}", params={"global": "true"}, headers=headers)
    assert r.status_code == 200 and r.json()["service"]["schemas"] == ["orders", "stock"], r.text
    # ServiceRegistryClientImpl.java L108-111, L477-500: a 2.8 consumer loads all its provider's schemas at once
    r = http.get(f"{reg}/microservices/{psid}/schemas", params={"withSchema": "1", "global": "true"}, headers=headers)
    assert r.status_code == 200, r.text[:300]
    got = {s["schemaId"]: (s["schema"], s["summary"]) for s in r.json()["schemas"]}
    assert got == {"orders": (big, sha256(big)), "stock": ("swagger: '2.0'\n", sha256("swagger: '2.0'\n"))}

    async def watch_and_change() -> dict:
        # ServiceRegistryClientImpl.java L696-745: Const.REGISTRY_API.MICROSERVICE_WATCH (Const.java L151-158)
        async with websockets.connect(ws_url(up, f"{reg}/microservices/{csid}/watcher"), additional_headers=headers) as ws:
            await asyncio.sleep(0.3)
            # the provider goes away: ServiceRegistryClientImpl.java L631-650 (unregisterMicroserviceInstance)
            r = await asyncio.to_thread(http.delete, f"{reg}/microservices/{psid}/instances/{piid}", headers=headers)
            assert r.status_code == 200, r.text
            return await next_message(ws)

    # MicroserviceWatchTask: a MicroserviceInstanceChangedEvent (action, key, instance)
    event = asyncio.run(watch_and_change())
    assert (event["action"], event["key"]["serviceName"], event["instance"]["instanceId"]) == ("DELETE", "provider", piid), event


def test_go_chassis_with_sc_client(up, account, http):
    """go-chassis v2.8.0 with sc-client: servicecomb.registry.address, servicecomb.credentials.account.*
    (core/config/sr_config.go L42-65), the project from CSE_PROJECT_ID (sc-client client.go L51, L216-224),
    here `gochassis`; heartbeats over a WebSocket (servicecomb.registry.heartbeat.mode: ping-pong)."""
    reg = "/v4/gochassis/registry"
    # sc-client client.go L144-149 -> cari addresspool/pool.go L283-293: the readiness probe carries no header; 2xx = up
    r = http.get(f"{reg}/health/readiness")
    assert 200 <= r.status_code < 300, r.text
    # client.go L185-207 (SignRequest) -> L1241-1272 (GetTokenWithExpiration): reads token
    headers = login(http, account)
    # core/registry/servicecenter/cache.go L71-72 (autodiscovery) -> client.go L234-241, L758-781: reads instances[].endpoints
    r = http.get(f"{reg}/health", headers=headers)
    assert r.status_code == 200 and [i["endpoints"] for i in r.json()["instances"]] == [[edge_endpoint(up)]], r.text

    app = unique("goapp")
    # providers registered by other go-chassis services of the app (the same calls, L286-300 and L660-670)
    providers = []
    for n in range(150):
        r = http.post(f"{reg}/microservices", json={"service": {"appId": app, "serviceName": f"p{n}", "version": "1.0.0"}}, headers=headers)
        assert r.status_code == 200, r.text
        providers.append(r.json()["serviceId"])
    for n in (0, 1, 149):
        body = {"instance": {"hostName": f"p{n}", "endpoints": [f"rest://10.1.0.{n}:8000"]}}
        assert http.post(f"{reg}/microservices/{providers[n]}/instances", json=body, headers=headers).status_code == 200

    # core/registry/servicecenter/servicecenter.go L31 -> client.go L425-459: any status below 500 is parsed, serviceId "" = absent
    r = http.get(
        f"{reg}/existence",
        params={"type": "microservice", "appId": app, "serviceName": "consumer", "version": "1.0.0", "env": ""},
        headers=headers,
    )
    assert r.status_code < 500 and not r.json().get("serviceId"), r.text
    # servicecenter.go L38 -> client.go L286-320: reads serviceId
    r = http.post(
        f"{reg}/microservices",
        json={"service": {"appId": app, "serviceName": "consumer", "version": "1.0.0", "schemas": ["api"]}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    sid = r.json()["serviceId"]
    # servicecenter.go L134 -> client.go L355-395: summary is the sha256 of the schema
    schema = "swagger: '2.0'\ninfo: {title: api}\n"
    body = {"serviceId": sid, "schemaId": "api", "schema": schema, "summary": sha256(schema)}
    assert http.put(f"{reg}/microservices/{sid}/schemas/api", json=body, headers=headers).status_code == 200
    # servicecenter.go L54 -> client.go L660-690: reads instanceId
    instance = {"hostName": "go", "endpoints": ["rest://10.0.0.9:8000"], "healthCheck": {"mode": "push", "interval": 30, "times": 3}}
    r = http.post(f"{reg}/microservices/{sid}/instances", json={"instance": instance}, headers=headers)
    assert r.status_code == 200, r.text
    iid = r.json()["instanceId"]

    # servicecenter.go L116 -> client.go L785-804: the HTTP heartbeat, 200
    assert http.put(f"{reg}/microservices/{sid}/instances/{iid}/heartbeat", headers=headers).status_code == 200

    # core/registry/servicecenter/cache.go L223 -> client.go L550-590: every provider in one batch, X-ConsumerId
    criteria = [{"service": {"appId": app, "serviceName": f"p{n}", "version": "0+"}} for n in range(150)]
    r = http.post(
        f"{reg}/instances/action",
        params={"type": "query"},
        json={"consumerServiceId": sid, "services": criteria},
        headers={**headers, "X-ConsumerId": sid},
    )
    assert r.status_code == 200, r.text[:300]
    updated = r.json()["services"]["updated"]
    by_index = {u["index"]: u for u in updated}
    assert sorted(by_index) == list(range(150)), r.text[:300]
    assert [len(by_index[n].get("instances", [])) for n in (0, 1, 2, 149)] == [1, 1, 0, 1]
    assert all(u["rev"] for u in updated)

    async def heartbeat_socket_and_watch() -> tuple[dict, dict, bool]:
        # servicecenter.go L102 -> client.go L806-866 and L88-104: the WebSocket heartbeat, signed like every request
        heartbeat = ws_url(up, f"{reg}/microservices/{sid}/instances/{iid}/heartbeat")
        async with websockets.connect(heartbeat, additional_headers=headers, ping_interval=0.5) as beat:
            # cache.go L44 -> client.go L1020-1045: the consumer's watcher
            async with websockets.connect(ws_url(up, f"{reg}/microservices/{sid}/watcher"), additional_headers=headers) as watch:
                await asyncio.sleep(0.3)
                body = {"instance": {"hostName": "p2", "endpoints": ["rest://10.1.0.2:8000"]}}
                r = await asyncio.to_thread(http.post, f"{reg}/microservices/{providers[2]}/instances", json=body, headers=headers)
                assert r.status_code == 200, r.text
                event = await next_message(watch)
                # an operator changes the consumer's tags: Service-Center pushes nothing for that
                # (api_edge/routers/registry_watch.py), so the next message is the next instance change
                r = await asyncio.to_thread(http.post, f"{reg}/microservices/{sid}/tags", json={"tags": {"team": "go"}}, headers=headers)
                assert r.status_code == 200, r.text
                r = await asyncio.to_thread(
                    http.delete, f"{reg}/microservices/{providers[2]}/instances/{event['instance']['instanceId']}", headers=headers
                )
                assert r.status_code == 200, r.text
                after_tags = await next_message(watch)
            await asyncio.sleep(1.0)  # pings and pongs only: the server keeps the socket (client.go L818-832 reads until an error)
            await beat.ping()
            alive = beat.close_code is None
        return event, after_tags, alive

    event, after_tags, alive = asyncio.run(heartbeat_socket_and_watch())
    assert alive
    assert event["action"] == "CREATE" and event["key"]["serviceName"] == "p2" and event["key"]["appId"] == app, event
    assert (after_tags["action"], after_tags["instance"]["instanceId"]) == ("DELETE", event["instance"]["instanceId"]), after_tags
    assert http.get(f"{reg}/microservices/{sid}/instances/{iid}", headers=headers).status_code == 200


def test_spring_cloud_huawei(up, account, http):
    """spring-cloud-huawei: spring.cloud.servicecomb.discovery.address, spring.cloud.servicecomb.credentials.account.*
    (service-engine-common/.../BootstrapPropertiesConfiguration.java L48-70), always project `default`
    (service-engine-common/.../disovery/ServiceCenterUtils.java L52, L84), config from the config
    center (spring.cloud.servicecomb.config.serverType: config-center, ConfigService.java L92-111)."""
    reg = "/v4/default/registry"
    # service-engine-common/.../transport/RBACRequestAuthHeaderProvider.java L82-91, L150 -> ServiceCenterClient.java (2.8.9) L499-507
    headers = login(http, account)
    app, name = unique("scapp"), "order"
    # ServiceCombServiceRegistry.java L104 starts java-chassis' ServiceCenterRegistration (2.8.9 clients):
    # L119 -> ServiceCenterClient.java L153-170 (existence: non-200 = absent), L121 -> L114-122 (register)
    r = http.get(
        f"{reg}/existence",
        params={"type": "microservice", "appId": app, "serviceName": name, "version": "0.0.1", "env": ""},
        headers=headers,
    )
    assert r.status_code != 200
    r = http.post(f"{reg}/microservices", json={"service": {"appId": app, "serviceName": name, "version": "0.0.1"}}, headers=headers)
    sid = r.json()["serviceId"]
    # ServiceCenterClient.java L201-210: reads instanceId
    body = {"instance": {"hostName": "sc", "endpoints": ["rest://10.0.0.7:8080"], "status": "STARTING"}}
    iid = http.post(f"{reg}/microservices/{sid}/instances", json=body, headers=headers).json()["instanceId"]
    # ServiceCenterRegistration.java L278 -> ServiceCenterClient.java L357-365
    assert http.put(f"{reg}/microservices/{sid}/instances/{iid}/heartbeat", headers=headers).status_code == 200
    # ServiceCombServiceRegistry.java L149 -> ServiceCenterClient.java L319-330: UP once the application is ready
    r = http.put(f"{reg}/microservices/{sid}/instances/{iid}/status", params={"value": "UP"}, headers=headers)
    assert r.status_code == 200, r.text
    # ServiceCombDiscoveryClient.java L175 (getServices) -> ServiceCenterClient.java L135-145: reads services[].serviceName
    r = http.get(f"{reg}/microservices", headers=headers)
    assert r.status_code == 200 and name in {s["serviceName"] for s in r.json()["services"] if s["appId"] == app}, r.text

    # the config center: clients/config-center-client ConfigCenterClient.java (2.8.9) L61-112, dimensionsInfo
    # <service>@<app>#<version> and X-Environment; an operator's item for the app first
    items = "/v3/default/configuration/items"
    r = http.post(items, json={"dimensionsInfo": f"{name}@{app}#0.0.1", "items": {"servicecomb.demo.limit": "5"}}, headers=headers)
    assert r.status_code == 200, r.text
    query = {"dimensionsInfo": f"{name}@{app}#0.0.1", "revision": ""}
    r = http.get(items, params=query, headers={**headers, "x-environment": ""})
    # L79-105: reads revision.version and the dimensions' maps
    assert r.status_code == 200, r.text
    assert r.json()[f"{name}@{app}#0.0.1"] == {"servicecomb.demo.limit": "5"} and r.json()["revision"]["version"], r.text
    r = http.get(items, params={**query, "revision": r.json()["revision"]["version"]}, headers={**headers, "x-environment": ""})
    assert r.status_code == 304  # L108-111: unchanged

    # ServiceCombServiceRegistry.java L184 -> ServiceCenterClient.java L299-310: deregistered on shutdown
    assert http.delete(f"{reg}/microservices/{sid}/instances/{iid}", headers=headers).status_code == 200
