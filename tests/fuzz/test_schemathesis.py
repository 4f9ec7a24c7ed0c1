"""Schemathesis against the running system's own OpenAPI (``/openapi.json``), one test per surface:
ServiceStage v2 (``/v2/...``) and Service-Center (``/v4/.../registry`` and ``/v3/.../configuration``).

Every operation gets positive cases (data that fits its schema) and negative ones (data that does
not), authenticated with ``X-Auth-Token`` of project "tenanta" (the ``project_id`` path parameter is
fixed to it). Ids of real resources (tests/fuzz/conftest.py ``seeded``) replace generated path ids
in about half of the cases, so requests also reach the code behind the "not found".

Pass: no 5xx, every response within ``MAX_LATENCY`` (a request still unanswered after
``REQUEST_TIMEOUT`` is a hang), every 4xx in the API's own error shape, and, after the run, no
"Traceback" / ERROR in any process log (test_logs_clean). Failures are collected, not raised inside
Hypothesis, so a run always does its full, bounded number of requests and reports all of them.

Size: ``OPENSTAGE_FUZZ_REQUESTS`` requests per surface (default 400: about 35 s for both
surfaces on 2 cores); ``OPENSTAGE_FUZZ_SEED`` replays a run; ``OPENSTAGE_FUZZ_REPORT`` is a JSON
file the figures are written to (tests/fuzz/README.md has a reported run).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.fuzz.conftest import AUTH, PROJECT, LogWatch

REQUESTS_PER_SURFACE = int(os.environ.get("OPENSTAGE_FUZZ_REQUESTS", "400"))
SEED = int(os.environ.get("OPENSTAGE_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
REPORT = os.environ.get("OPENSTAGE_FUZZ_REPORT")
REQUEST_TIMEOUT = 10.0  # seconds; a request unanswered by then is a hang
MAX_LATENCY = 5.0  # seconds; the edge answers 503 after OPENSTAGE_REQUEST_TIMEOUT (3 s) at worst
MAX_PASSES = 6  # rounds over the operations that still generate new cases, to reach the target

SURFACES = {"v2": r"^/v2/", "service-center": r"^/v[34]/"}


@dataclass
class Stats:
    surface: str
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0
    max_latency: float = 0.0
    slowest: str = ""
    duration: float = 0.0
    operations: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def record(self, label: str, status: int, elapsed: float, what: str) -> None:
        self.requests += 1
        self.per_operation[label] = self.per_operation.get(label, 0) + 1
        key = f"{status // 100}xx"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if status >= 500:
            self.server_errors += 1
        if elapsed > self.max_latency:
            self.max_latency, self.slowest = elapsed, what

    def fail(self, message: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(message)

    def summary(self) -> dict:
        return {
            "surface": self.surface,
            "seed": SEED,
            "requests": self.requests,
            "operations": self.operations,
            "statuses": dict(sorted(self.statuses.items())),
            "server_errors": self.server_errors,
            "max_latency_s": round(self.max_latency, 3),
            "slowest": self.slowest,
            "duration_s": round(self.duration, 1),
            "failures": len(self.failures),
        }


def error_shape_problem(path: str, response: schemathesis.Response) -> str | None:
    """None when a 4xx body is the API's own error shape."""
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]!r}"
    if not isinstance(body, dict):
        return f"not an object: {body!r:.200}"
    if path.startswith(("/v3/", "/v4/")):
        ok = (
            isinstance(body.get("errorCode"), str)
            and body["errorCode"].isdigit()
            and isinstance(body.get("errorMessage"), str)
            and isinstance(body.get("detail"), str)
        )
    else:
        ok = isinstance(body.get("error_code"), str) and body["error_code"].startswith("SVCSTG.") and isinstance(body.get("error_msg"), str)
    return None if ok else f"not the API's error shape: {body!r:.300}"


def describe(case, response: schemathesis.Response | None = None) -> str:
    request = response.request if response is not None else None
    url = request.url if request is not None else case.formatted_path
    body = request.body if request is not None else case.body
    if isinstance(body, bytes):
        body = body[:300]
    elif body is not None:
        body = str(body)[:300]
    return f"{case.method} {url} body={body!r}"


def run_surface(schema, surface: str, base_url: str, ids: dict[str, list[str]], target: int) -> Stats:
    ops = [r.ok() for r in schema.include(path_regex=SURFACES[surface]).get_all_operations()]
    stats = Stats(surface, operations=len(ops))
    http = requests.Session()
    started = time.monotonic()
    rng = random.Random(SEED)
    exhausted: set[str] = set()

    def send(case, data) -> None:
        case.path_parameters["project_id"] = PROJECT
        for name, pool in ids.items():
            # a real id in about half of the cases (DELETEs keep generated ids: the seeded
            # resources stay there for the rest of the run)
            if name in case.path_parameters and case.method != "DELETE" and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(pool))
        label = f"{case.method} {case.path}"
        try:
            response = case.call(base_url=base_url, session=http, headers=AUTH, timeout=REQUEST_TIMEOUT)
        except requests.Timeout:
            stats.fail(f"no answer within {REQUEST_TIMEOUT}s: {describe(case)}")
            stats.record(label, 599, REQUEST_TIMEOUT, describe(case))
            return
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError):
            return  # the client refused to send it: not a request
        except requests.ConnectionError as exc:
            stats.fail(f"connection failed ({exc}): {describe(case)}")
            stats.record(label, 599, 0.0, describe(case))
            return
        elapsed = response.elapsed
        stats.record(label, response.status_code, elapsed, describe(case, response))
        if response.status_code >= 500:
            stats.fail(f"{response.status_code} {response.text[:300]!r} <- {describe(case, response)}")
        elif elapsed > MAX_LATENCY:
            stats.fail(f"answered after {elapsed:.2f}s: {describe(case, response)}")
        elif 400 <= response.status_code < 500:
            problem = error_shape_problem(case.path, response)
            if problem:
                stats.fail(f"{response.status_code} {problem} <- {describe(case, response)}")

    per_pass = max(1, math.ceil(target / max(1, len(ops)) / 2))  # per operation and generation mode
    for round_no in range(MAX_PASSES):
        if stats.requests >= target:
            break
        for op in ops:
            label = f"{op.method.upper()} {op.path}"
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if (label, mode) in exhausted or (stats.requests >= target and round_no):
                    continue
                before = stats.requests
                strategy = op.as_strategy(generation_mode=mode, path_parameters={"project_id": PROJECT})

                @hypothesis_seed(rng.randrange(2**32))
                @settings(
                    max_examples=per_pass,
                    deadline=None,
                    database=None,
                    derandomize=False,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy, data=st.data())
                def fuzz(case, data) -> None:
                    send(case, data)

                try:
                    fuzz()
                except Exception as exc:  # e.g. a schema schemathesis cannot generate negative data for
                    if "Unsatisfiable" not in type(exc).__name__ and "Unsatisfiable" not in str(exc):
                        stats.fail(f"{label} ({mode.value}): generation failed: {type(exc).__name__}: {exc}")
                    exhausted.add((label, mode))
                    continue
                if stats.requests - before < per_pass // 2:
                    exhausted.add((label, mode))  # Hypothesis ran out of distinct cases
    stats.duration = time.monotonic() - started
    http.close()
    return stats


@pytest.fixture(scope="module")
def api_schema(fuzz_system, seeded):
    spec = requests.get(f"{fuzz_system.base_url}/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(spec)


@pytest.fixture(scope="module", autouse=True)
def log_watch(fuzz_system):  # autouse: the offsets are taken before the module's first test
    return LogWatch(fuzz_system.system.log_dir)


@pytest.fixture(scope="module")
def report():
    results: dict[str, dict] = {}
    yield results
    if REPORT and results:
        with open(REPORT, "w") as f:
            json.dump(results, f, indent=2)


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("surface", list(SURFACES))
def test_fuzz_surface(surface, api_schema, fuzz_system, seeded, log_watch, report):
    ids = seeded.v2 if surface == "v2" else seeded.v4
    stats = run_surface(api_schema, surface, fuzz_system.base_url, ids, REQUESTS_PER_SURFACE)
    report[surface] = {**stats.summary(), "per_operation": stats.per_operation, "failure_list": stats.failures}
    print(json.dumps(stats.summary()))
    assert stats.operations > 0
    assert stats.requests >= REQUESTS_PER_SURFACE, stats.summary()
    assert not stats.failures, "\n".join(stats.failures[:20])


def test_logs_clean(fuzz_system, log_watch):
    """No process logged a traceback or an ERROR while the fuzzer ran."""
    problems = log_watch.problems()
    assert not problems, "\n".join(problems[:30])
