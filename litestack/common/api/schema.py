"""JSON schema fragments every service's request and response schemas are built from.

OpenStack APIs wrap a resource in its key on the wire (``{"domain": {...}}``,
``{"domains": [...], "links": {...}}``); ``wrapped``, ``single`` and ``listing``
build those envelopes around the per-field schema of the resource.
"""

from __future__ import annotations

from typing import Any

NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"[\S]"}
NAME64: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"[\S]"}
ID: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 64}
OPT_ID: dict[str, Any] = {"type": ["string", "null"], "maxLength": 64}
DESC: dict[str, Any] = {"type": ["string", "null"], "maxLength": 10000}
BOOL: dict[str, Any] = {"type": "boolean"}

#: The ``links`` of a collection: this page, and the previous and next pages (null when none).
LIST_LINKS: dict[str, Any] = {"type": "object", "required": ["self"], "properties": {
    "self": {"type": "string"}, "previous": {"type": ["string", "null"]},
    "next": {"type": ["string", "null"]}}}


def wrapped(key: str, props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A request body ``{key: {...}}``, as OpenStack shapes every create and update."""
    inner: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        inner["required"] = required
    return {"type": "object", "properties": {key: inner}, "required": [key]}


def listing(key: str, item: dict[str, Any] | None = None) -> dict[str, Any]:
    """A collection response ``{key: [item, ...], "links": {...}}``."""
    return {"type": "object", "required": [key, "links"],
            "properties": {key: {"type": "array", "items": item or {"type": "object"}}, "links": LIST_LINKS}}


def single(key: str, item: dict[str, Any] | None = None) -> dict[str, Any]:
    """A member response ``{key: item}``."""
    return {"type": "object", "required": [key], "properties": {key: item or {"type": "object"}}}


# --- response fields ---------------------------------------------------------------------------

STR: dict[str, Any] = {"type": "string"}
NSTR: dict[str, Any] = {"type": ["string", "null"]}
INT: dict[str, Any] = {"type": "integer"}
NINT: dict[str, Any] = {"type": ["integer", "null"]}
OBJ: dict[str, Any] = {"type": "object"}
STRS: dict[str, Any] = {"type": "array", "items": STR}
#: The ``links`` of one member.
SELF_LINK: dict[str, Any] = {"type": "object", "required": ["self"], "properties": {"self": STR}}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response object with these fields (``required`` always present); other fields may appear
    (the extra attributes OpenStack APIs echo back)."""
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


def array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}
