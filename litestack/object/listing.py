"""Account and container listings in Swift's three formats: plain text, JSON and XML."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from litestack.object import errors
from litestack.object.http import iso_date

_FORMATS = {"json": "application/json", "xml": "application/xml", "plain": "text/plain"}


def content_type(format_param: str | None, accept: str | None) -> str:
    """The listing's media type: ``?format=`` first, else the Accept header, else plain text."""
    if format_param:
        return _FORMATS.get(format_param.lower(), "text/plain")
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media == "application/json":
            return "application/json"
        if media in ("application/xml", "text/xml"):
            return media
        if media in ("text/plain", "*/*", "text/*"):
            return "text/plain"
    return "text/plain"


def parse_query(params: Any, max_limit: int) -> dict[str, Any]:
    """The backend listing parameters of a client's query, checked as Swift checks them (412)."""
    out: dict[str, Any] = {}
    for key in ("prefix", "delimiter", "marker", "end_marker"):
        if params.get(key):
            out[key] = params.get(key)
    delimiter = out.get("delimiter")
    if delimiter and (len(delimiter) > 1 or ord(delimiter) > 254):
        raise errors.PreconditionFailed("Bad delimiter")
    limit = params.get("limit")
    if limit is not None:
        try:
            n = int(limit)
        except ValueError:
            raise errors.PreconditionFailed("Value of limit must be a positive integer") from None
        if n < 0:
            raise errors.PreconditionFailed("Value of limit must be a positive integer")
        if n > max_limit:
            raise errors.PreconditionFailed(f"Maximum limit is {max_limit}")
        out["limit"] = str(n)
    else:
        out["limit"] = str(max_limit)
    if params.get("reverse", "").lower() in ("1", "true", "yes", "on", "t", "y"):
        out["reverse"] = "true"
    return out


def _container_item(row: dict[str, Any]) -> dict[str, Any]:
    if "subdir" in row:
        return row
    return {"name": row["name"], "hash": row["hash"], "bytes": row["bytes"], "content_type": row["content_type"],
            "last_modified": iso_date(row["created_at"])}


def _account_item(row: dict[str, Any]) -> dict[str, Any]:
    if "subdir" in row:
        return row
    return {"name": row["name"], "count": row["count"], "bytes": row["bytes"],
            "last_modified": iso_date(row["put_timestamp"])}


def render(kind: str, name: str, rows: list[dict[str, Any]], media: str) -> bytes:
    """The listing body (``kind`` is ``account`` or ``container``)."""
    items = [_container_item(r) if kind == "container" else _account_item(r) for r in rows]
    if media == "application/json":
        return json.dumps(items, ensure_ascii=False).encode()
    if media.endswith("xml"):
        tag = "object" if kind == "container" else "container"
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<{kind} name={quoteattr(name)}>"]
        for item in items:
            if "subdir" in item:
                sub = escape(item["subdir"])
                out.append(f"<subdir name={quoteattr(item['subdir'])}><name>{sub}</name></subdir>")
                continue
            fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in item.items())
            out.append(f"<{tag}>{fields}</{tag}>")
        out.append(f"</{kind}>")
        return "".join(out).encode()
    return "".join(f"{item.get('subdir', item.get('name'))}\n" for item in items).encode()
