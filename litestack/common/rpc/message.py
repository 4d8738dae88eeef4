"""What travels on the bus: envelopes, their JSON encoding, and errors turned into data and back.

Every transport sends the same JSON bodies, so a message looks the same on
the in-process bus as on RabbitMQ (and the in-process bus catches arguments
that would not survive a real wire).

Request envelope (``call``, ``cast``, ``fanout``)::

    {"version": "1.0", "message_id": "<uuid>", "kind": "call", "topic": "conductor",
     "server": null, "method": "build", "args": {...}, "api_version": "1.2",
     "context": {...RequestContext.to_dict() without the token...} or null}

Reply envelope: ``{"version": "1.0", "ok": true, "result": ...}`` or
``{"version": "1.0", "ok": false, "failure": {"module", "type", "message", "data"}}``.

Notification envelope: ``version, message_id, event_type, payload, priority,
publisher_id, timestamp`` (ISO 8601, UTC) and ``context``.
"""

from __future__ import annotations

import datetime
import importlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from litestack.common.context import RequestContext, get_current
from litestack.common.errors import LitestackError
from litestack.common.rpc.exceptions import RemoteError

#: Version of the envelope layout. Receivers accept any 1.x envelope.
ENVELOPE_VERSION = "1.0"

#: Priorities a notification may carry (the oslo.messaging set); each is its own topic.
PRIORITIES = frozenset({"audit", "debug", "info", "warn", "warning", "error", "critical", "sample"})

# Topics and pools never contain dots, so "<topic>.<server>" is unambiguous even when a
# server is a dotted host name. Neither may contain AMQP wildcards.
_TOPIC_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,99}")
_SERVER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,99}")
_VERSION_RE = re.compile(r"(\d+)\.(\d+)")


class MalformedMessage(ValueError):
    """Raised by the decoders when a body is not a well-formed envelope."""


def check_topic(topic: str, what: str = "topic") -> str:
    if not isinstance(topic, str) or not _TOPIC_RE.fullmatch(topic):
        raise ValueError(f"invalid RPC {what} {topic!r}: use letters, digits, '_' and '-' (no dots)")
    return topic


def check_server(server: str | None) -> str | None:
    if server is not None and (not isinstance(server, str) or not _SERVER_RE.fullmatch(server)):
        raise ValueError(f"invalid RPC server {server!r}: use letters, digits and '_.:@-'")
    return server


def check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise ValueError(f"invalid notification priority {priority!r}; expected one of {sorted(PRIORITIES)}")
    return priority


def parse_version(version: str) -> tuple[int, int]:
    """``"1.2"`` -> ``(1, 2)``; raises ``ValueError`` for anything else."""
    match = _VERSION_RE.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise ValueError(f"invalid RPC API version {version!r}; expected 'MAJOR.MINOR'")
    return int(match.group(1)), int(match.group(2))


def encode(envelope: dict[str, Any]) -> bytes:
    """JSON-encode an envelope; raises ``TypeError``/``ValueError`` when it holds non-JSON values."""
    return json.dumps(envelope, separators=(",", ":"), allow_nan=False).encode()


def decode(body: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage(f"body is not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise MalformedMessage("body is not a JSON object")
    version = envelope.get("version")
    try:
        major, _ = parse_version(version)  # type: ignore[arg-type]
    except ValueError:
        raise MalformedMessage(f"envelope has no valid version: {version!r}") from None
    if major != 1:
        raise MalformedMessage(f"unsupported envelope version {version}")
    return envelope


def current_context_dict() -> dict[str, Any] | None:
    """The caller's context for the wire; the token never leaves the process."""
    ctx = get_current()
    return None if ctx is None else ctx.to_dict(include_token=False)


def context_from_dict(data: Any) -> RequestContext | None:
    return RequestContext.from_dict(data) if isinstance(data, dict) else None


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


# --- requests --------------------------------------------------------------


def make_request(
    kind: str,
    topic: str,
    method: str,
    args: dict[str, Any] | None,
    *,
    server: str | None = None,
    api_version: str | None = None,
) -> dict[str, Any]:
    check_topic(topic)
    check_server(server)
    if not isinstance(method, str) or not method:
        raise ValueError(f"invalid RPC method name {method!r}")
    if args is not None and not isinstance(args, dict):
        raise TypeError(f"RPC args must be a dict of keyword arguments, not {type(args).__name__}")
    if api_version is not None:
        parse_version(api_version)
    return {
        "version": ENVELOPE_VERSION,
        "message_id": str(uuid.uuid4()),
        "kind": kind,
        "topic": topic,
        "server": server,
        "method": method,
        "args": dict(args or {}),
        "api_version": api_version,
        "context": current_context_dict(),
    }


def decode_request(body: bytes) -> dict[str, Any]:
    envelope = decode(body)
    if not isinstance(envelope.get("method"), str) or not isinstance(envelope.get("args"), dict):
        raise MalformedMessage("request has no method name or no args object")
    if not all(isinstance(key, str) for key in envelope["args"]):
        raise MalformedMessage("request args keys must be strings")
    return envelope


# --- replies ---------------------------------------------------------------


def result_reply(result: Any) -> dict[str, Any]:
    return {"version": ENVELOPE_VERSION, "ok": True, "result": result}


def failure_reply(exc: BaseException) -> dict[str, Any]:
    return {"version": ENVELOPE_VERSION, "ok": False, "failure": failure_to_dict(exc)}


def result_from_reply(body: bytes) -> Any:
    """The call's return value, or raise what the remote handler raised."""
    envelope = decode(body)
    if envelope.get("ok") is True:
        return envelope.get("result")
    failure = envelope.get("failure")
    raise exception_from_dict(failure if isinstance(failure, dict) else {})


def failure_to_dict(exc: BaseException) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if isinstance(exc, LitestackError):
        message = exc.message
        # Only what survives JSON crosses the bus; the rest stays in the server log.
        for key, value in exc.data.items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                continue
            data[key] = value
    else:
        message = str(exc)
    return {
        "module": type(exc).__module__,
        "type": type(exc).__qualname__,
        "message": message,
        "data": data,
    }


def exception_from_dict(failure: dict[str, Any]) -> Exception:
    """Rebuild a remote ``LitestackError`` as its own class, anything else as ``RemoteError``.

    The class is looked up by module and name, only in ``litestack.*`` modules and
    only among ``LitestackError`` subclasses, so a message cannot make the caller
    import or build arbitrary objects. The instance is built without calling the
    subclass ``__init__`` (whose signature we do not know): it gets the remote
    message, and its ``data`` entries become attributes too.
    """
    module_name = failure.get("module")
    type_name = failure.get("type")
    message = str(failure.get("message", ""))
    data = failure.get("data")
    data = data if isinstance(data, dict) else {}
    cls = _find_error_class(module_name, type_name)
    if cls is None:
        return RemoteError(str(type_name or "Exception"), message)
    exc = cls.__new__(cls)
    LitestackError.__init__(exc, message, **data)
    for key, value in data.items():
        if isinstance(key, str) and key.isidentifier() and not key.startswith("_") and not hasattr(exc, key):
            setattr(exc, key, value)
    return exc


def _find_error_class(module_name: Any, type_name: Any) -> type[LitestackError] | None:
    if not isinstance(module_name, str) or not isinstance(type_name, str) or not type_name.isidentifier():
        return None
    if module_name != "litestack" and not module_name.startswith("litestack."):
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    cls = getattr(module, type_name, None)
    if isinstance(cls, type) and issubclass(cls, LitestackError):
        return cls
    return None


# --- notifications ---------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """One versioned event as a subscriber receives it."""

    message_id: str
    event_type: str
    payload: dict[str, Any]
    priority: str
    publisher_id: str
    timestamp: str
    context: dict[str, Any] | None = None


def make_notification(
    event_type: str, payload: dict[str, Any], priority: str, publisher_id: str
) -> dict[str, Any]:
    check_priority(priority)
    if not isinstance(event_type, str) or not event_type:
        raise ValueError(f"invalid event type {event_type!r}")
    if not isinstance(publisher_id, str) or not publisher_id:
        raise ValueError(f"invalid publisher_id {publisher_id!r}")
    if not isinstance(payload, dict):
        raise TypeError(f"notification payload must be a dict, not {type(payload).__name__}")
    return {
        "version": ENVELOPE_VERSION,
        "message_id": str(uuid.uuid4()),
        "event_type": event_type,
        "payload": payload,
        "priority": priority,
        "publisher_id": publisher_id,
        "timestamp": now_iso(),
        "context": current_context_dict(),
    }


def decode_notification(body: bytes) -> Notification:
    envelope = decode(body)
    try:
        notification = Notification(
            message_id=str(envelope["message_id"]),
            event_type=str(envelope["event_type"]),
            payload=envelope["payload"],
            priority=str(envelope["priority"]),
            publisher_id=str(envelope["publisher_id"]),
            timestamp=str(envelope["timestamp"]),
            context=envelope.get("context"),
        )
    except KeyError as exc:
        raise MalformedMessage(f"notification has no {exc.args[0]!r}") from None
    if not isinstance(notification.payload, dict):
        raise MalformedMessage("notification payload is not an object")
    return notification
