"""Write docs/bus-reference.md from the bus's AsyncAPI document (``api_edge.asyncapi``).

    python -m openstage.busdoc            # (re)write docs/bus-reference.md
    python -m openstage.busdoc --check    # exit 1 when the committed file is out of date
    python -m openstage.busdoc --stdout   # print it

The reference lists every command subject (its handler as ``module:function``, payload fields, reply
model, HTTP equivalent), every declared event type and the ping subjects. It is generated: after adding a command, an event type or a
worker, rerun this script and commit the file (tests/unit/test_bus_reference.py checks it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "bus-reference.md"
REF_PREFIX = "#/components/schemas/"
MAX_DEPTH = 4
# CloudEvents attributes as openstage fills them (README, "The bus")
ENVELOPE_NOTES = {
    "specversion": "CloudEvents version",
    "id": "unique per event; also the JetStream `Nats-Msg-Id` (duplicates are dropped)",
    "source": "`/openstage/<domain>`",
    "type": "`io.openstage.<domain>.<entity>.<verb>`",
    "subject": "the resource's API path, e.g. `/v2/<project>/cas/environments/<id>`",
    "time": "when the change was made (UTC)",
    "openstageproject": "the project id",
    "data": "the resource's state (see the event types below)",
}


# --- JSON schema to table rows ---------------------------------------------------------------------
class Schemas:
    def __init__(self, doc: dict) -> None:
        self.schemas: dict[str, dict] = doc.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict) -> tuple[str | None, dict]:
        """(name, schema) following a $ref (and a single-entry allOf wrapping one)."""
        if "allOf" in schema and len(schema["allOf"]) == 1 and "$ref" in schema["allOf"][0]:
            schema = {**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            name = ref[len(REF_PREFIX) :]
            return name, self.schemas.get(name, {})
        return None, schema

    def variants(self, schema: dict) -> tuple[list[dict], bool]:
        """The non-null alternatives of a schema, and whether null is allowed."""
        options = schema.get("anyOf") or schema.get("oneOf")
        if not options:
            return [schema], schema.get("type") == "null"
        non_null = [o for o in options if o.get("type") != "null"]
        return non_null, len(non_null) != len(options)

    def type_of(self, schema: dict) -> str:
        variants, nullable = self.variants(schema)
        names = [self._type_one(v) for v in variants] or ["null"]
        text = " or ".join(dict.fromkeys(names))
        return f"{text} or null" if nullable and variants else text

    def _type_one(self, schema: dict) -> str:
        name, target = self.resolve(schema)
        if "const" in target:
            return f"`{target['const']!r}`".replace("'", '"')
        if "enum" in target:
            return "one of " + ", ".join(f"`{v}`" for v in target["enum"])
        kind = target.get("type")
        if kind == "array":
            return f"array of {self.type_of(target.get('items', {}))}"
        if name and (kind == "object" or "properties" in target):
            return name
        if kind == "object" and "additionalProperties" in target:
            extra = target["additionalProperties"]
            return "object" if extra is True or extra == {} else f"map of {self.type_of(extra)}"
        if kind:
            fmt = target.get("format")
            return f"{kind} ({fmt})" if fmt else str(kind)
        return name or "any"

    @staticmethod
    def notes(schema: dict, target: dict) -> str:
        parts = []
        for src in (schema, target):
            if src.get("description") and src["description"] not in parts:
                parts.append(" ".join(str(src["description"]).split()))
        constraints = [
            ("pattern", "pattern"),
            ("minLength", "min length"),
            ("maxLength", "max length"),
            ("minimum", "min"),
            ("maximum", "max"),
            ("exclusiveMinimum", ">"),
            ("exclusiveMaximum", "<"),
            ("minItems", "min items"),
            ("maxItems", "max items"),
        ]
        for key, label in constraints:
            for src in [target, *(schema.get("anyOf") or [])]:
                if key in src:
                    value = f"`{src[key]}`" if key == "pattern" else src[key]
                    parts.append(f"{label} {value}")
                    break
        if "default" in schema and schema["default"] not in (None, [], {}):
            parts.append(f"default `{schema['default']}`".replace("'", '"'))
        return "; ".join(parts)

    def rows(self, schema: dict, prefix: str = "", depth: int = 0, seen: tuple[str, ...] = ()) -> list[tuple]:
        """(field, type, required, notes) for every property, nested objects flattened with dots."""
        name, target = self.resolve(schema)
        if name in seen:
            return []
        seen = (*seen, name) if name else seen
        required = set(target.get("required", []))
        out = []
        for field, prop in target.get("properties", {}).items():
            path = f"{prefix}{field}"
            variants, _ = self.variants(prop)
            inner = variants[0] if len(variants) == 1 else {}
            inner_name, inner_target = self.resolve(inner) if inner else (None, {})
            out.append((path, self.type_of(prop), field in required, self.notes(prop, inner_target)))
            if depth >= MAX_DEPTH or inner_name in seen:
                continue
            if inner_target.get("properties"):
                out += self.rows(inner, f"{path}.", depth + 1, seen)
            elif inner_target.get("type") == "array":
                item_name, item = self.resolve(inner_target.get("items", {}))
                if item.get("properties") and item_name not in seen:
                    out += self.rows(inner_target["items"], f"{path}[].", depth + 1, seen)
        return out


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[tuple]) -> list[str]:
    if not rows:
        return ["No fields: send `{}` (the project comes from the subject).", ""]
    lines = ["| field | type | required | notes |", "| --- | --- | --- | --- |"]
    for path, kind, required, notes in rows:
        lines.append(f"| `{_cell(path)}` | {_cell(kind)} | {'yes' if required else ''} | {_cell(notes)} |")
    return [*lines, ""]


# --- the document --------------------------------------------------------------------------------
def _message_payload(doc: dict, channel: dict, key: str | None = None) -> tuple[str | None, dict]:
    messages = channel.get("messages", {})
    message = messages.get(key) if key else next(iter(messages.values()), None)
    if not message:
        return None, {}
    ref = message.get("$ref", "")
    if ref.startswith("#/components/messages/"):
        message = doc["components"]["messages"][ref.rsplit("/", 1)[-1]]
    payload = message.get("payload", {})
    ref = payload.get("$ref", "")
    return (ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else None), payload


def _channel(doc: dict, op: dict) -> dict:
    return doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]


def _reply_channel(doc: dict, op: dict) -> dict | None:
    reply = op.get("reply")
    return doc["channels"][reply["channel"]["$ref"].rsplit("/", 1)[-1]] if reply else None


def _handler(op: dict) -> str:
    handler = op.get("x-openstage-handler")
    return f"`{handler}`" if handler else "not found (no subscriber function)"


def render(doc: dict) -> str:
    s = Schemas(doc)
    ops = doc.get("operations", {})
    commands = sorted(
        (k for k, o in ops.items() if "x-openstage-command" in o),
        key=lambda k: (ops[k]["x-openstage-command"]["domain"], ops[k]["x-openstage-command"]["action"]),
    )
    events = sorted(k for k, o in ops.items() if "x-openstage-event" in o)
    pings = sorted(k for k, o in ops.items() if _channel(doc, o)["address"].startswith("openstage.ping."))

    out = [
        "# Bus reference",
        "",
        "<!-- Generated by `python -m openstage.busdoc` from the AsyncAPI document; do not edit by hand. -->",
        "",
        "Generated from the workers' FastStream routers and event declarations (the same document the edge",
        'serves at `/asyncapi.json` and renders at `/asyncapi`). Conventions: README, section "The bus";',
        "a ready-made event consumer: [examples/subscriber.py](../examples/subscriber.py).",
        "",
        "- Commands: NATS request-reply on the subject shown, with `<project>` replaced by the project id.",
        '  The request is the payload below as JSON; the reply is `{"status": 200, "result": ...}` or',
        '  `{"status": 4xx/5xx, "error": {"status", "error_code", "error_msg", "detail"}}`, with optional',
        "  `headers` the edge copies onto its HTTP response. The handler is the function that serves the subject",
        "  (`module:function`).",
        "- Events: CloudEvents on the JetStream stream `OPENSTAGE_EVENTS`, subject",
        "  `openstage.evt.<project>.<domain>.<entity>.<verb>`, `type` `io.openstage.<domain>.<entity>.<verb>`.",
        "",
        "## Contents",
        "",
    ]
    domains = list(dict.fromkeys(ops[k]["x-openstage-command"]["domain"] for k in commands))
    for domain in domains:
        out.append(f"- [Commands: {domain}](#commands-{domain})")
    out += ["- [Events](#events)", "- [Worker liveness](#worker-liveness)", ""]

    for domain in domains:
        out += [f"## Commands: {domain}", ""]
        for key in (k for k in commands if ops[k]["x-openstage-command"]["domain"] == domain):
            op = ops[key]
            channel = _channel(doc, op)
            subject = channel["address"].replace("{project}", "<project>")
            out += [f"### `{subject}`", ""]
            summary = op.get("summary") or channel.get("description") or ""
            http = op.get("x-openstage-http") or []
            line = summary.rstrip(".") + "." if summary else ""
            if http:
                line += " HTTP: " + ", ".join(f"`{h['method']} {h['path']}`" for h in http) + "."
            else:
                line += " Bus only (no HTTP route)."
            out += [line.strip(), "", f"**Handler** {_handler(op)} (queue group `{op['x-openstage-command']['queue']}`)."]
            name, payload = _message_payload(doc, channel)
            out += ["", f"**Payload** `{name or 'object'}`:", "", *_table(s.rows(payload))]
            reply_channel = _reply_channel(doc, op)
            if reply_channel:
                _, reply = _message_payload(doc, reply_channel)
                result = reply.get("properties", {}).get("result", {})
                statuses = "/".join(str(x) for x in reply.get("x-openstage-success-status", [200]))
                if result.get("type") == "null":
                    text = f"status {statuses}, no `result`."
                else:
                    kind = s.type_of(result)
                    text = f"status {statuses}, `result`: {'any JSON value' if kind == 'any' else kind}."
                out += [f"**Reply**: {text}", ""]

    out += ["## Events", "", "Every event is a CloudEvent (structured JSON) with these attributes; `data` depends on the type.", ""]
    envelope = [(f, t, r, n or ENVELOPE_NOTES.get(f, "")) for f, t, r, n in s.rows({"$ref": REF_PREFIX + "CloudEvent"})]
    out += _table([row if row[0] != "data" else ("data", "object", True, ENVELOPE_NOTES["data"]) for row in envelope])
    if events:
        out += ["| type | subject | data | worker |", "| --- | --- | --- | --- |"]
        for key in events:
            op = ops[key]
            channel = _channel(doc, op)
            name, payload = _message_payload(doc, channel)
            data = s.schemas.get(name or "", {}).get("properties", {}).get("data", {})
            data_type = s.type_of(data) if data else "object"
            worker = _cell(op["x-openstage-event"].get("worker") or "")
            subject = channel["address"].replace("{project}", "<project>")
            out.append(f"| `{key}` | `{subject}` | {_cell(data_type)} | {worker} |")
        out.append("")
    silent = [w["name"] for w in doc.get("x-openstage-workers", []) if not w.get("declares_events")]
    if silent:
        out += [
            f"Not listed yet: the event types of {', '.join(f'`{n}`' for n in silent)} (the worker module "
            "declares no `EVENTS`); they have the same form.",
            "",
        ]

    out += [
        "## Worker liveness",
        "",
        "Request-reply, answered by every process of the worker (the `ping` subscriber that",
        '`workers.runtime:build_worker` adds): `{"worker": "<name>", "ok": true}`.',
        "",
    ]
    for key in pings:
        out.append(f"- `{_channel(doc, ops[key])['address']}`")
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openstage.busdoc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is out of date")
    parser.add_argument("--stdout", action="store_true", help="print the reference instead of writing it")
    parser.add_argument("--output", type=Path, default=REFERENCE)
    args = parser.parse_args(argv)

    from api_edge.asyncapi import build_document

    text = render(build_document())
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `python -m openstage.busdoc` and commit it", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
