#!/usr/bin/env python3
"""Follow a project's openstage events durably, as a tenant integration would.

Connects to NATS with a tenant's AK/SK (NATS user = AK, password = SK), creates (or reuses) a
durable push consumer on the JetStream stream OPENSTAGE_EVENTS filtered to the project (and,
optionally, to some event types), delivering to ``openstage.deliver.<project>.<durable>`` — the
only deliver subjects a tenant may read — and prints every CloudEvent as one JSON line
(``type``, ``subject``, ``id``, ``sequence``, ``time``), acknowledging it once printed. Stop it and
start it again with the same ``--durable``: it carries on after the last acknowledged event.

    python examples/subscriber.py --project my-project --durable my-integration
    python examples/subscriber.py --project p1 --durable audit --from-seq 1          # replay everything kept
    python examples/subscriber.py --project p1 --durable since --from-time 2026-01-01T00:00:00Z
    python examples/subscriber.py --project p1 --durable envs --type 'io.openstage.lifecycle.environment.*'

Connection: ``--server`` (or OPENSTAGE_NATS_URL; ``openstage up`` prints the NATS port), the AK/SK
from ``--ak/--sk``, or OPENSTAGE_AK/OPENSTAGE_SK, or the first credential of
``.openstage/credentials.json`` (``--credentials-file``). Needs only ``nats-py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

STREAM = "OPENSTAGE_EVENTS"
EVENT_SUBJECT_PREFIX = "openstage.evt"
EVENT_TYPE_PREFIX = "io.openstage."


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def event_filter(project: str, event_type: str) -> str:
    """The subject of an event type in a project: ``io.openstage.lifecycle.environment.created`` ->
    ``openstage.evt.<project>.lifecycle.environment.created`` ('*' and '>' keep their NATS meaning)."""
    if not event_type.startswith(EVENT_TYPE_PREFIX):
        raise SystemExit(f"--type {event_type!r}: event types start with {EVENT_TYPE_PREFIX}")
    return f"{EVENT_SUBJECT_PREFIX}.{project}.{event_type[len(EVENT_TYPE_PREFIX) :]}"


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching ('*' one token, '>' the rest)."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def load_credentials(args: argparse.Namespace) -> tuple[str, str]:
    ak = args.ak or os.environ.get("OPENSTAGE_AK")
    sk = args.sk or os.environ.get("OPENSTAGE_SK")
    if ak and sk:
        return ak, sk
    path = Path(args.credentials_file)
    if path.exists():
        creds = json.loads(path.read_text())
        if creds:
            return creds[0]["ak"], creds[0]["sk"]
    raise SystemExit("no credentials: give --ak/--sk, set OPENSTAGE_AK/OPENSTAGE_SK, or run next to .openstage/")


def consumer_config(args: argparse.Namespace, filters: list[str]) -> ConsumerConfig:
    # One filter is checked by the server (and by the tenant's NATS permissions, which only allow
    # consumers filtered to their projects); several types are filtered here, after a project filter.
    server_filter = filters[0] if len(filters) == 1 else f"{EVENT_SUBJECT_PREFIX}.{args.project}.>"
    config = ConsumerConfig(
        name=args.durable,
        durable_name=args.durable,
        filter_subject=server_filter,
        deliver_subject=f"openstage.deliver.{args.project}.{args.durable}",
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30,
        max_ack_pending=1,  # one event at a time: they are printed (and acked) in stream order
        deliver_policy=DeliverPolicy.NEW,
    )
    if args.from_seq is not None:
        config.deliver_policy, config.opt_start_seq = DeliverPolicy.BY_START_SEQUENCE, args.from_seq
    elif args.from_time is not None:
        config.deliver_policy, config.opt_start_time = DeliverPolicy.BY_START_TIME, args.from_time
    elif args.all:
        config.deliver_policy = DeliverPolicy.ALL
    return config


async def run(args: argparse.Namespace) -> int:
    ak, sk = load_credentials(args)
    filters = [event_filter(args.project, t) for t in args.type] or [f"{EVENT_SUBJECT_PREFIX}.{args.project}.>"]

    refused: list[str] = []
    refusal = asyncio.Event()

    async def on_error(exc: Exception) -> None:
        log(f"nats: {exc}")
        if "permissions violation" in str(exc).lower():
            refused.append(str(exc))
            refusal.set()

    nc = await nats.connect(
        args.server,
        user=ak,
        password=sk,
        name=f"openstage-subscriber-{args.durable}",
        inbox_prefix=f"_INBOX_{ak}".encode(),
        error_cb=on_error,
        max_reconnect_attempts=-1,
    )
    js = nc.jetstream()
    wanted = consumer_config(args, filters)
    try:
        info = await js.consumer_info(STREAM, args.durable)
        log(
            f"reusing durable consumer {args.durable} (next event: stream sequence "
            f"{info.delivered.stream_seq + 1 if info.delivered else '?'}, filter {info.config.filter_subject})"
        )
        if info.config.filter_subject != wanted.filter_subject:
            log(f"note: the existing consumer filters {info.config.filter_subject}; delete it to change that")
    except NotFoundError:
        # NATS refuses a consumer outside the credential's projects by a permissions error (the
        # request itself would only time out): whichever comes first decides.
        create = asyncio.ensure_future(js.add_consumer(STREAM, wanted))
        refused_wait = asyncio.ensure_future(refusal.wait())
        await asyncio.wait([create, refused_wait], return_when=asyncio.FIRST_COMPLETED)
        refused_wait.cancel()
        if refused:
            create.cancel()
            await nc.close()
            log(f"NATS refused the consumer: is {ak} granted project {args.project}? ({refused[0]})")
            return 2
        info = create.result()
        log(f"created durable consumer {args.durable} (filter {wanted.filter_subject}, deliver {wanted.deliver_policy.value})")

    sub = await js.subscribe_bind(STREAM, info.config, args.durable, manual_ack=True)
    log(f"consuming {STREAM} on {info.config.deliver_subject}; Ctrl-C to stop")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    printed = 0
    try:
        while not stop.is_set() and (args.count is None or printed < args.count):
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                continue
            if not any(subject_matches(f, msg.subject) for f in filters):
                await msg.ack()  # another type: skipped, but the consumer moves on
                continue
            event = json.loads(msg.data)
            line = {
                "type": event.get("type"),
                "subject": event.get("subject"),
                "id": event.get("id"),
                "sequence": msg.metadata.sequence.stream,
                "time": event.get("time"),
            }
            if args.data:
                line["data"] = event.get("data")
            print(json.dumps(line), flush=True)
            await msg.ack()
            printed += 1
    finally:
        await sub.unsubscribe()  # the durable consumer stays: the next run resumes from here
        await nc.drain()
    return 0


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get("OPENSTAGE_NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--ak", help="access key (NATS user); default OPENSTAGE_AK")
    parser.add_argument("--sk", help="secret key (NATS password); default OPENSTAGE_SK")
    parser.add_argument(
        "--credentials-file", default=".openstage/credentials.json", help="used when no AK/SK is given (written by `openstage up`)"
    )
    parser.add_argument("--project", required=True, help="project id whose events to follow")
    parser.add_argument("--durable", required=True, help="consumer name (letters, digits, '-', '_'): reuse it to resume")
    parser.add_argument(
        "--type",
        action="append",
        default=[],
        help="event type to keep, e.g. io.openstage.lifecycle.environment.created "
        "('*' and '>' allowed); repeatable; default: every event of the project",
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--from-seq", type=int, help="a new consumer starts at this stream sequence")
    start.add_argument("--from-time", type=parse_time, help="a new consumer starts at this time (ISO 8601)")
    start.add_argument("--all", action="store_true", help="a new consumer starts at the oldest kept event")
    parser.add_argument("--count", type=int, help="exit after printing this many events")
    parser.add_argument("--data", action="store_true", help="include each event's data in its line")
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
