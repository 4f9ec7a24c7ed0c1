"""Chaos: faults injected into a running system under a bounded, mixed background load
(bench/mixed.py: environments, instances and their jobs, registry registrations and heartbeats).

Faults, in order: each domain worker SIGKILLed and restarted; nats-server killed and started again
on the same port and data (the same worker and edge processes must reconnect by themselves); the
store (nx-27017) stopped for 10 s and restarted on the same port and data; the store paused
(SIGSTOP) for 10 s and resumed; the edge SIGKILLed
while requests are in flight and restarted. While a dependency is down the API answers 503 with
an error body, within a bound (never hangs, never 500), and it recovers by itself within a bound.
After each fault the load is paused and the invariants of tests/chaos/invariants.py are checked
against MongoDB and the event stream.

Runs its own system (it kills processes): ``pytest tests/chaos``."""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass

import httpx
import pytest

from bench.mixed import LoadThread, MixedLoad
from tests.chaos import invariants
from tests.support.system import RunningSystem, start_system
from workers import WORKERS

PROJECT = "chaos"
TOKEN = "chaos-token-0123456789abcdef"
REQUEST_TIMEOUT = 3.0  # OPENSTAGE_REQUEST_TIMEOUT of the system under test
ANSWER_BOUND = REQUEST_TIMEOUT + 5  # any request is answered within this (2 cores, shared and noisy)
RECOVERY_BOUND = 45.0  # after a restart, /readyz and the probes answer 2xx within this
SETTLE_BOUND = 60.0  # jobs terminal, tracker caught up, outboxes empty within this once the load pauses
STORE_DOWN_SECONDS = 10.0
LOAD_RATE = 20.0  # operations per second (bounded: at most LOAD_CONCURRENCY in flight)
LOAD_CONCURRENCY = 6

pytestmark = pytest.mark.timeout(600)


@dataclass
class Chaos:
    rs: RunningSystem
    load: LoadThread
    faults: list[str]

    @property
    def model(self) -> MixedLoad:
        return self.load.load


@pytest.fixture(scope="module")
def chaos(tmp_path_factory):
    rs = start_system(
        tmp_path_factory.mktemp("chaos"),
        list(WORKERS),
        extra_env={
            "OPENSTAGE_TOKENS": json.dumps([{"token": TOKEN, "projects": [PROJECT]}]),
            "OPENSTAGE_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
            "OPENSTAGE_SIMULATED_TASK_SECONDS": "0.05",
            "OPENSTAGE_JOB_LEASE_SECONDS": "2",  # a killed runner's job is resumed after 2 s
        },
    )
    load = LoadThread(
        MixedLoad(rs.base_url, {"X-Auth-Token": TOKEN}, project=PROJECT, rate=LOAD_RATE, concurrency=LOAD_CONCURRENCY, timeout=30.0)
    )
    try:
        load.start()
        yield Chaos(rs, load, [])
    finally:
        load.stop()
        rs.system.stop()
    if load.error:
        raise load.error


# --- probing -------------------------------------------------------------------------------------
def _headers() -> dict[str, str]:
    return {"X-Auth-Token": TOKEN, "Content-Type": "application/json"}


def probes(c: Chaos) -> dict[str, tuple[str, str, dict | None]]:
    """One request per domain that needs the domain's worker and the store."""
    m = c.model
    job_id = next(iter(m.jobs), "JOB00000000-0000-0000-0000-000000000000")
    return {
        "lifecycle": (
            "POST",
            f"/v2/{PROJECT}/cas/environments",
            {
                "name": f"probe-{time.monotonic_ns() % 10**9}",
                "deploy_mode": "container",
                "vpc_id": "vpc-1",
                "base_resources": [{"id": "cce-1", "type": "cce"}],
            },
        ),
        "config": (
            "POST",
            f"/v3/{PROJECT}/configuration/items",
            {"dimensionsInfo": "probe@chaos#1.0.0", "items": {"k": f"v{time.monotonic_ns()}"}},
        ),
        "registry": (
            "POST",
            f"/v4/{PROJECT}/registry/microservices",
            {"service": {"serviceName": f"probe-{time.monotonic_ns() % 10**9}", "appId": "chaos", "version": "1.0.0"}},
        ),
        "jobs": ("GET", f"/v2/{PROJECT}/cas/jobs/{job_id}", None),
    }


def probe(c: Chaos, method: str, path: str, body: dict | None) -> tuple[int | None, float, dict | str]:
    t0 = time.perf_counter()
    try:
        r = httpx.request(method, c.rs.base_url + path, json=body, headers=_headers(), timeout=30)
    except httpx.HTTPError as exc:
        return None, time.perf_counter() - t0, type(exc).__name__
    try:
        payload = r.json()
    except ValueError:
        payload = r.text
    return r.status_code, time.perf_counter() - t0, payload


def assert_unavailable(c: Chaos, domains: list[str], what: str) -> None:
    """Requests that need the missing dependency answer 503 with an error body, within the bound."""
    for domain in domains:
        method, path, body = probes(c)[domain]
        status, seconds, payload = probe(c, method, path, body)
        assert status == 503, f"{what}: {method} {path} answered {status} {payload!r}"
        assert isinstance(payload, dict) and (payload.get("error_code") or payload.get("errorCode")), (
            f"{what}: 503 without an error body: {payload!r}"
        )
        assert seconds <= ANSWER_BOUND, f"{what}: {method} {path} took {seconds:.1f}s"


def assert_recovers(c: Chaos, what: str, bound: float = RECOVERY_BOUND) -> float:
    """/readyz answers 200 and a request of every domain answers 2xx, within the bound; the seconds it took."""
    started = time.monotonic()
    deadline = started + bound
    pending = dict(probes(c))
    last = ""
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(c.rs.base_url + "/readyz", timeout=5).status_code == 200
        except httpx.HTTPError as exc:
            ready, last = False, repr(exc)
        if ready:
            for domain, (method, path, body) in list(probes(c).items()):
                if domain not in pending:
                    continue
                status, _, payload = probe(c, method, path, body)
                if status is not None and 200 <= status < 300:
                    pending.pop(domain)
                else:
                    last = f"{domain}: {status} {payload!r}"[:300]
            if not pending:
                return time.monotonic() - started
        time.sleep(0.3)
    raise AssertionError(f"{what}: not recovered within {bound}s (still failing: {sorted(pending)}; {last})")


def burst(c: Chaos, domain: str, n: int = 8) -> tuple[list[threading.Thread], list]:
    """``n`` commands of ``domain`` sent at once (in threads): work in flight for a fault to hit."""
    answers: list = []

    def one() -> None:
        answers.append(probe(c, *probes(c)[domain])[0])

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    return threads, answers


def kill(c: Chaos, name: str, sig: int = signal.SIGKILL) -> None:
    child = c.rs.system.children[name]
    child.proc.send_signal(sig)
    child.proc.wait(10)


# --- invariants ------------------------------------------------------------------------------------
def check_invariants(c: Chaos, what: str, since: float) -> None:
    """Pause the load, wait until the system settles, check every invariant, resume."""
    c.faults.append(what)
    c.load.pause()
    try:
        calls = [x for x in c.model.calls if x.started >= since]
        bad = [x for x in calls if x.status is not None and x.status >= 500 and x.status != 503]
        assert not bad, f"{what}: answers other than 503 among 5xx: {[(x.op, x.status, x.code) for x in bad][:10]}"
        bare = [x for x in calls if x.status == 503 and not x.code]
        assert not bare, f"{what}: 503 without an error body: {[(x.op, x.key) for x in bare][:10]}"
        slow = [x for x in calls if x.seconds > ANSWER_BOUND]
        assert not slow, (
            f"{what}: requests not answered within {ANSWER_BOUND}s: {[(x.op, x.status, x.error, round(x.seconds, 1)) for x in slow][:10]}"
        )
        deadline = time.monotonic() + SETTLE_BOUND
        while True:
            w = invariants.world(c.rs.mongodb_url, c.rs.nats_url, PROJECT, with_events=False)
            ok, why = w.settled()
            if ok:
                break
            assert time.monotonic() < deadline, f"{what}: not settled within {SETTLE_BOUND}s: {why}"
            time.sleep(0.5)
        w = invariants.world(c.rs.mongodb_url, c.rs.nats_url, PROJECT)
        found = invariants.problems(c.model, w)
        assert not found, f"{what}: {len(found)} invariants broken:\n" + "\n".join(found[:40])
        answered = [x for x in calls if x.status is not None]
        print(
            f"\n{what}: {len(calls)} calls ({sum(x.acked for x in calls)} acknowledged, "
            f"{sum(x.status == 503 for x in calls)} 503, {len(calls) - len(answered)} unanswered, "
            f"slowest {max((x.seconds for x in calls), default=0):.1f}s); checked {len(w.envs)} environments, "
            f"{len(w.instances)} instances, {len(w.runner_jobs)} jobs, {len(w.registry_instances)} registry "
            f"instances, {len(w.events)} events"
        )
    finally:
        c.load.resume()


def warm(c: Chaos, seconds: float = 2.0) -> float:
    """Let the load run a little (so the fault hits work in progress); the time it started."""
    started = time.time()
    time.sleep(seconds)
    return started


# --- the faults ------------------------------------------------------------------------------------
@pytest.mark.parametrize("worker", list(WORKERS))
def test_worker_killed_and_restarted(chaos: Chaos, worker: str) -> None:
    since = warm(chaos)
    # killed while writing (a burst of its commands in flight): most likely inside a transaction
    threads, _ = burst(chaos, worker)
    kill(chaos, f"worker-{worker}")
    for t in threads:
        t.join(30)
    assert_unavailable(chaos, [worker], f"{worker} worker killed")
    chaos.rs.system.start_worker(worker)
    assert_recovers(chaos, f"{worker} worker restarted")
    check_invariants(chaos, f"{worker} worker SIGKILLed and restarted", since)


def test_nats_server_restarted(chaos: Chaos) -> None:
    since = warm(chaos)
    system = chaos.rs.system
    others = {n: c.proc.pid for n, c in system.children.items() if n not in ("nats-server", "store")}
    kill(chaos, "nats-server")
    assert_unavailable(chaos, list(WORKERS), "nats-server down")
    system.restart_nats()
    assert_recovers(chaos, "nats-server restarted")
    # nobody was restarted: the workers and the edge reconnected by themselves
    assert {n: c.proc.pid for n, c in system.children.items() if n in others} == others
    assert all(system.children[n].alive() for n in others)
    check_invariants(chaos, "nats-server killed and restarted", since)


def test_store_stopped_for_10s(chaos: Chaos) -> None:
    since = warm(chaos)
    system = chaos.rs.system
    others = {n: c.proc.pid for n, c in system.children.items() if n != "store"}
    kill(chaos, "store")
    down_until = time.monotonic() + STORE_DOWN_SECONDS
    # the store is needed by every command below: 503, not a hang, not a 500
    assert_unavailable(chaos, ["lifecycle", "config", "registry"], "store down")
    time.sleep(max(0.0, down_until - time.monotonic()))
    system.restart_store()
    assert_recovers(chaos, "store restarted")
    assert {n: c.proc.pid for n, c in system.children.items() if n in others} == others
    check_invariants(chaos, "store down for 10 s and restarted", since)


def test_store_paused_for_10s(chaos: Chaos) -> None:
    """SIGSTOP: the store accepts nothing and answers nothing (a hung host, a partition): calls to
    it block rather than fail. The API must still answer 503 within the bound."""
    since = warm(chaos)
    store = chaos.rs.system.children["store"].proc
    store.send_signal(signal.SIGSTOP)
    try:
        resume_at = time.monotonic() + STORE_DOWN_SECONDS
        assert_unavailable(chaos, ["lifecycle", "config", "registry"], "store paused")
        time.sleep(max(0.0, resume_at - time.monotonic()))
    finally:
        store.send_signal(signal.SIGCONT)
    assert_recovers(chaos, "store resumed")
    check_invariants(chaos, "store paused (SIGSTOP) for 10 s and resumed", since)


def test_edge_killed_mid_request(chaos: Chaos) -> None:
    since = warm(chaos)
    # a burst of commands in flight at the moment of the kill (the load has its own in flight too)
    threads, answers = burst(chaos, "lifecycle")
    in_flight = chaos.model.in_flight
    kill(chaos, "edge")
    for t in threads:
        t.join(30)
    assert in_flight + answers.count(None) > 0, "nothing was in flight when the edge was killed"
    chaos.rs.system.start_edge()
    assert_recovers(chaos, "edge restarted")
    check_invariants(chaos, "edge SIGKILLed mid-request and restarted", since)


def test_the_load_ran_through_every_fault(chaos: Chaos) -> None:
    """The load kept being served: every kind of command was acknowledged many times."""
    acked = {}
    for x in chaos.model.calls:
        if x.acked:
            acked[x.op] = acked.get(x.op, 0) + 1
    for op in ("env.create", "env.update", "instance.create", "job.get", "registry.register", "registry.heartbeat"):
        assert acked.get(op, 0) >= 5, f"{op} acknowledged {acked.get(op, 0)} times: {acked}"
    assert len(chaos.faults) == len(WORKERS) + 4, chaos.faults
