"""The job runner of the lifecycle worker: runs instance jobs from the durable JetStream work queue
OPENSTAGE_JOBS_WORK (subject ``openstage.work.<project>.lifecycle.job``, durable pull consumer
``lifecycle-job-runner``), one driver task at a time.

Crash safety. A job's state lives in ``instance_jobs`` (plan, next task, event counter, lease).
The runner holds the work item un-acked while it runs and keeps it alive (``in_progress``) and
its lease fresh every third of ``OPENSTAGE_JOB_LEASE_SECONDS``. If the process dies, JetStream
redelivers the item after that ack wait to whichever lifecycle worker pulls next (another one, or
this one restarted); it claims the job once the lease has expired and resumes at the first
unfinished task (which is re-run: driver tasks are idempotent). After MAX_ATTEMPTS claims the
job ends FAILED with a message instead of being tried forever. Every write of a runner is fenced
by its lease token, so a runner that lost its lease (paused too long) cannot overwrite the one
that took over: there is never more than one driver acting on an instance.

Task states are kept as ``tasks.t<index>`` (an object, not an array: nx-27017 ignores $set on
array positions such as ``tasks.0.status``).

Persist-then-emit: each step (task started, progress, task finished, job finished) changes the job,
the instance and writes its events in one ``ctx.outbox.transaction``."""
from __future__ import annotations

import asyncio
import logging
import uuid

import orjson
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig

from services.contracts import subjects
from services.adapters.clock import clock
from services.contracts.component_instances import Instance, InstanceStatus, StatusDetail
from services.domain.lifecycle import component_instances as rules
from services.adapters.store import component_instances as store
from services.contracts.subjects import LIFECYCLE
from services.adapters.drivers import Driver, Task, TaskFailed, Workload, get_driver
from workers.lifecycle.component_instance_events import instance_event, job_event, task_data, task_event
from workers.runtime import WorkerContext

log = logging.getLogger("openstage.lifecycle.jobs")

CONSUMER = "lifecycle-job-runner"
MAX_ATTEMPTS = 5
WORK_MAX_AGE_SECONDS = 7 * 24 * 3600


def work_stream_config() -> StreamConfig:
    return StreamConfig(
        name=subjects.JOBS_WORK_STREAM,
        subjects=[f"{subjects.WORK_PREFIX}.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        max_age=WORK_MAX_AGE_SECONDS,
        duplicate_window=120,
    )


def workload(inst: Instance) -> Workload:
    return Workload(
        project_id=inst.project_id, instance_id=inst.id, name=inst.name, application_id=inst.application_id,
        component_id=inst.component_id, environment_id=inst.environment_id, platform_type=inst.platform_type,
        flavor_id=inst.flavor_id, version=inst.version, replica=inst.status_detail.replica,
        available_replica=inst.status_detail.available_replica, artifacts=inst.artifacts,
        configuration=inst.configuration, refer_resources=[r.model_dump(mode="json") for r in inst.refer_resources],
    )


def tasks_for(driver: Driver, operation: str, before: Instance, target: Instance, replica: int | None) -> list[Task]:
    if operation == "deploy":
        return driver.deploy(workload(target))
    if operation == "upgrade":
        return driver.upgrade(workload(before), workload(target))
    if operation == "rollback":
        return driver.rollback(workload(before), workload(target))
    if operation == "scale":
        return driver.scale(workload(before), replica or before.status_detail.replica)
    if operation in ("start", "stop", "restart", "delete"):
        return getattr(driver, operation)(workload(before))
    raise ValueError(f"unknown operation {operation}")


class LeaseLost(Exception):
    """Another runner took the job over: stop without touching it."""


class _Cancelled(Exception):
    pass


class _TaskContext:
    def __init__(self, run: "_Run", index: int, attempt: int) -> None:
        self._run = run
        self.index = index
        self.attempt = attempt

    async def progress(self, message: str, available_replica: int | None = None) -> None:
        await self._run.progress(self.index, message, available_replica)


class _Run:
    """One runner's execution of one job (under its lease token)."""

    def __init__(self, runner: "JobRunner", job: dict, token: str) -> None:
        self.runner = runner
        self.ctx = runner.ctx
        self.job = job
        self.job_id = job["_id"]
        self.token = token
        self.seq = int(job.get("seq", 0))
        self.available = int(job.get("available", 0))

    # --- fenced transactions ---------------------------------------------------------------------
    async def _tx(self, build):
        """Run ``build(session)`` -> (job $set changes, events, instance writer) fenced by the lease."""
        async def write(session):
            changes, events, after = await build(session)
            if not await store.update_job(self.ctx.db, self.job_id, self.token, changes, session):
                raise LeaseLost(self.job_id)
            if after is not None:
                await after(session)
            return None, events

        await self.ctx.outbox.transaction(write)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def _set_instance_status(self, session, **fields) -> list:
        doc = await store.by_id(self.ctx.db, self.job["instance_id"], session=session)
        if doc is None or doc.get("active_job_id") != self.job_id:
            return []
        inst = store.instance(doc)
        detail = inst.status_detail.model_copy(update=fields)
        inst = inst.model_copy(update={"status_detail": detail})
        await store.save(self.ctx.db, inst, self.job_id, release=False, session=session)
        return [instance_event(inst, "status_changed")]

    # --- steps -----------------------------------------------------------------------------------
    async def started(self, extra: dict | None = None) -> None:
        now = clock.millis()

        async def build(session):
            seq = self._next_seq()
            events = [job_event(self.job, "running", "RUNNING", seq, now)]
            events += await self._set_instance_status(session, last_job_status="RUNNING")
            return {"status": "RUNNING", "seq": seq, "started_at": now, **(extra or {})}, events, None

        await self._tx(build)
        self.job["status"] = "RUNNING"

    async def task_running(self, index: int, message: str) -> None:
        now = clock.millis()

        current = await store.job(self.ctx.db, self.job_id)
        if current and current.get("cancel_requested"):
            raise _Cancelled()

        async def build(session):
            seq = self._next_seq()
            event = task_event(self.job, index, "running", "RUNNING", message, seq, now)
            return ({f"tasks.t{index}.status": "RUNNING", f"tasks.t{index}.messages": message, "seq": seq},
                    [event], None)

        await self._tx(build)

    async def progress(self, index: int, message: str, available: int | None) -> None:
        now = clock.millis()

        async def build(session):
            seq = self._next_seq()
            events = [task_event(self.job, index, "progress", "RUNNING", message, seq, now)]
            changes = {f"tasks.t{index}.messages": message, "seq": seq}
            if available is not None and available != self.available:
                changes["available"] = available
                events += await self._set_instance_status(session, available_replica=available)
            return changes, events, None

        await self._tx(build)
        if available is not None:
            self.available = available

    async def task_succeeded(self, index: int, message: str, available: int | None) -> None:
        now = clock.millis()

        async def build(session):
            seq = self._next_seq()
            events = [task_event(self.job, index, "succeeded", "SUCCEEDED", message, seq, now)]
            changes = {f"tasks.t{index}.status": "SUCCEEDED", f"tasks.t{index}.messages": message,
                       "next_task": index + 1, "seq": seq}
            if available is not None and available != self.available:
                changes["available"] = available
                events += await self._set_instance_status(session, available_replica=available)
            return changes, events, None

        await self._tx(build)
        if available is not None:
            self.available = available

    async def finish(self, status: str, failed_index: int | None = None, message: str | None = None) -> None:
        """End the job (SUCCEEDED, FAILED or CANCELLED): close its tasks, move the instance to
        where the operation leaves it, release (or hand over) the instance's lock."""
        now = clock.millis()
        job = self.job
        operation = job["operation"]
        before = Instance.model_validate(job["before"])
        target = Instance.model_validate(job["target"])

        async def build(session):
            current = await store.job(self.ctx.db, self.job_id, session=session) or job
            handoff = current.get("handoff_to")
            tasks = [(current.get("tasks") or job["tasks"]).get(f"t{i}", {}) for i in range(len(job["plan"]))]
            seq = self._next_seq()
            closing = []
            changes: dict = {"status": status, "seq": seq, "finished_at": now, "runner": None,
                             "message": message}
            events = []
            if failed_index is not None:
                events.append(task_event(job, failed_index, "failed", "FAILED", message, seq, now))
                changes[f"tasks.t{failed_index}.status"] = "FAILED"
                changes[f"tasks.t{failed_index}.messages"] = message
            rest = "SKIPPED" if status == "FAILED" else "CANCELLED"
            for i, t in enumerate(tasks):
                if i == failed_index or t.get("status") in ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"):
                    continue
                note = "skipped: an earlier task failed" if status == "FAILED" else "cancelled: the instance is being deleted"
                changes[f"tasks.t{i}.status"] = rest
                changes[f"tasks.t{i}.messages"] = note
                closing.append(task_data(job, i, rest, note, seq))
            verb = status.lower()
            events.append(job_event(job, verb, status, seq, now, tasks=closing, message=message))

            async def after(session):
                events.extend(await self._leave_instance(session, status, operation, before, target, handoff, now))

            return changes, events, after

        await self._tx(build)
        self.job["status"] = status

    async def _leave_instance(self, session, status: str, operation: str, before: Instance, target: Instance,
                              handoff: str | None, now: int) -> list:
        db = self.ctx.db
        doc = await store.by_id(db, self.job["instance_id"], session=session)
        if doc is None or doc.get("active_job_id") != self.job_id:
            return []
        current = store.instance(doc)
        detail = current.status_detail
        if status == "SUCCEEDED" and operation == "delete":
            await store.remove(db, current.id, self.job_id, session)
            gone = current.model_copy(update={"status_detail": detail.model_copy(update={
                "status": InstanceStatus.DELETED, "available_replica": 0, "last_job_status": "SUCCEEDED"})})
            return [instance_event(gone, "deleted")]
        if status == "SUCCEEDED":
            final = {"deploy": target, "upgrade": target, "rollback": target}.get(operation, current)
            success_status = rules.OPERATIONS[operation][1]
            replica = detail.replica
            available = 0 if success_status == InstanceStatus.STOPPED else replica
            final = final.model_copy(update={
                "update_time": now if operation in ("upgrade", "rollback") else final.update_time,
                "status_detail": StatusDetail(
                    status=success_status, replica=replica, available_replica=available,
                    last_job_id=self.job_id, last_job_status="SUCCEEDED",
                    enterprise_project_id=detail.enterprise_project_id),
            })
            events = []
            if operation in ("deploy", "upgrade"):
                snap = rules.snapshot_of(final, self.job_id, now)
                await store.add_snapshot(db, snap, session)
            verb = "updated" if operation in ("upgrade", "rollback") else "status_changed"
        else:
            final = current.model_copy(update={"status_detail": detail.model_copy(update={
                "status": rules.status_after_failure(detail.replica, self.available) if status == "FAILED"
                else detail.status,
                "available_replica": self.available,
                "last_job_status": status,
            })})
            events = []
            verb = "status_changed"
        if handoff:
            await store.save(db, final, self.job_id, release=True, session=session)
            next_detail = final.status_detail.model_copy(update={
                "status": InstanceStatus.DELETING, "last_job_id": handoff, "last_job_status": "SUBMITTED"})
            await store.lock(db, final.id, handoff, next_detail.model_dump(mode="json"), session)
            final = final.model_copy(update={"status_detail": next_detail})
        else:
            await store.save(db, final, self.job_id, release=True, session=session)
        return [*events, instance_event(final, verb)]


class JobRunner:
    def __init__(self, ctx: WorkerContext, driver: Driver | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.driver = driver or get_driver(ctx.settings)
        self.lease_ms = int(self.settings.job_lease_seconds * 1000)
        self._loop_task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._sub = None

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.settings.job_lease_seconds,
            max_deliver=-1,
            max_ack_pending=10_000,
            filter_subject=f"{subjects.WORK_PREFIX}.*.{LIFECYCLE}.job",
        )
        self._sub = await self.ctx.js.pull_subscribe(
            config.filter_subject, durable=CONSUMER, stream=subjects.JOBS_WORK_STREAM, config=config)
        self._loop_task = asyncio.create_task(self._loop(), name="job-runner")

    async def stop(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
        for t in list(self._running):
            t.cancel()
        for t in [self._loop_task, *self._running]:
            if t is None:
                continue
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass

    async def _loop(self) -> None:
        slots = asyncio.Semaphore(self.settings.job_concurrency)
        while True:
            await slots.acquire()
            try:
                msgs = await self._sub.fetch(1, timeout=1.0)
            except (NatsTimeout, asyncio.TimeoutError):
                slots.release()
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # bus reconnecting
                slots.release()
                log.warning("job queue fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if not msgs:
                slots.release()
                continue
            for msg in msgs:
                task = asyncio.create_task(self._handle(msg))
                self._running.add(task)

                def done(t, _slots=slots):
                    self._running.discard(t)
                    _slots.release()

                task.add_done_callback(done)

    async def _handle(self, msg) -> None:
        try:
            job_id = orjson.loads(msg.data)["data"]["job_id"]
        except Exception:
            log.warning("dropping malformed job work item")
            await msg.term()
            return
        try:
            outcome = await self.run(job_id, msg)
        except asyncio.CancelledError:
            await self._safe(msg.nak())
            raise
        except LeaseLost:
            log.warning("job %s: lease lost to another runner; leaving it", job_id)
            return
        except Exception:
            log.exception("job %s: runner step failed; it will be retried", job_id)
            await self._safe(msg.nak(delay=1.0))
            return
        if outcome == "wait":
            await self._safe(msg.nak(delay=0.3))
        elif outcome == "busy":
            await self._safe(msg.nak(delay=max(0.5, self.settings.job_lease_seconds / 2)))
        else:
            await self._safe(msg.ack())

    @staticmethod
    async def _safe(coro) -> None:
        try:
            await coro
        except Exception as exc:
            log.debug("ack/nak failed: %s", exc)

    async def _claim(self, job_id: str, token: str) -> dict | None:
        async def write(session):
            return await store.claim_job(self.ctx.db, job_id, token, clock.millis(), self.lease_ms, session), []

        return await self.ctx.outbox.transaction(write)

    async def run(self, job_id: str, msg=None) -> str:
        """Run (or resume) a job: "done" (finished, or nothing to do), "wait" (queued behind the
        job holding the instance) or "busy" (another runner holds its lease)."""
        db = self.ctx.db
        job = await store.job(db, job_id)
        if job is None or job.get("status") in store.TERMINAL:
            return "done"
        inst = await store.by_id(db, job["instance_id"])
        if inst is not None and inst.get("active_job_id") != job_id:
            holder = await store.job(db, inst["active_job_id"]) if inst.get("active_job_id") else None
            if holder is not None and holder.get("handoff_to") == job_id:
                return "wait"
        token = uuid.uuid4().hex
        claimed = await self._claim(job_id, token)
        if claimed is None:
            return "busy"
        heartbeat = asyncio.create_task(self._heartbeat(job_id, token, msg))
        try:
            await self._execute(claimed, token, inst)
        except asyncio.CancelledError:
            # graceful shutdown: give the lease back so another runner resumes at once
            async def release(session):
                await store.update_job(db, job_id, token, {"runner": None, "lease_until": 0}, session)
                return None, []

            try:
                await asyncio.shield(self.ctx.outbox.transaction(release))
            except Exception:
                pass
            raise
        finally:
            heartbeat.cancel()
        return "done"

    async def _heartbeat(self, job_id: str, token: str, msg) -> None:
        interval = max(0.2, self.settings.job_lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                if msg is not None:
                    await msg.in_progress()

                async def renew(session):
                    return await store.update_job(self.ctx.db, job_id, token,
                                                  {"lease_until": clock.millis() + self.lease_ms}, session), []

                await self.ctx.outbox.transaction(renew)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("job %s: heartbeat failed: %s", job_id, exc)

    async def _execute(self, job: dict, token: str, inst_doc: dict | None) -> None:
        run = _Run(self, job, token)
        if inst_doc is None or inst_doc.get("active_job_id") != job["_id"]:
            await run.finish("FAILED", message="the instance no longer exists or is held by another job")
            return
        attempts = int(job.get("attempts", 1))
        if attempts > MAX_ATTEMPTS:
            await run.finish("FAILED", failed_index=self._current(job),
                             message=f"the job was interrupted {attempts - 1} times (its worker stopped); giving up")
            return
        extra = None
        if job.get("waits_for") and job.get("status") == "SUBMITTED":
            # queued behind a cancelled job: act on the instance as that job left it
            current = store.instance(inst_doc).model_dump(mode="json")
            extra = {"before": current, "target": current,
                     "available": current["status_detail"]["available_replica"]}
            job.update(extra)
            run.job.update(extra)
            run.available = extra["available"]
        before = Instance.model_validate(job["before"])
        target = Instance.model_validate(job["target"])
        tasks = tasks_for(self.driver, job["operation"], before, target, job.get("replica"))
        if [t.key for t in tasks] != [p["key"] for p in job["plan"]]:
            await run.finish("FAILED", failed_index=self._current(job),
                             message="the deployment driver's plan changed since the job was submitted")
            return
        if job.get("cancel_requested"):
            await run.finish("CANCELLED", message="cancelled: the instance is being deleted")
            return
        if job.get("status") == "SUBMITTED":
            await run.started(extra)
        start = int(job.get("next_task", 0))
        for index in range(start, len(tasks)):
            task = tasks[index]
            resumed = attempts > 1 and index == start and job["tasks"].get(f"t{index}", {}).get("status") == "RUNNING"
            note = f"resumed after the job's worker stopped (attempt {attempts})" if resumed else "started"
            try:
                await run.task_running(index, note)
            except _Cancelled:
                await run.finish("CANCELLED", message="cancelled: the instance is being deleted")
                return
            try:
                result = await task.run(_TaskContext(run, index, attempts if index == start else 1))
            except TaskFailed as exc:
                if exc.available_replica is not None:
                    run.available = exc.available_replica
                await run.finish("FAILED", failed_index=index, message=exc.message)
                return
            except (LeaseLost, asyncio.CancelledError):
                raise
            except Exception as exc:
                log.exception("job %s: driver task %s raised", job["_id"], task.key)
                await run.finish("FAILED", failed_index=index, message=f"{task.name} failed: internal driver error ({type(exc).__name__})")
                return
            await run.task_succeeded(index, result.message, result.available_replica)
        await run.finish("SUCCEEDED")

    @staticmethod
    def _current(job: dict) -> int | None:
        index = int(job.get("next_task", 0))
        return index if index < len(job.get("plan", [])) else None
