"""OpenStack error bodies, one style per service, as each service's API reference shows them.

This is the one place where exceptions become HTTP error responses.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from litestack.common.errors import LitestackError

ErrorFormatter = Callable[[LitestackError, str], tuple[int, dict[str, str], bytes]]

_NOVA_FAULTS = {
    400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
    409: "conflictingRequest", 413: "overLimit", 415: "badMediaType", 429: "overLimit",
    501: "notImplemented",
}


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def identity_error(exc: LitestackError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    return _json(exc.status, {"error": {"code": exc.status, "title": exc.title, "message": exc.message}})


def compute_error(exc: LitestackError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    fault = _NOVA_FAULTS.get(exc.status, "computeFault")
    return _json(exc.status, {fault: {"code": exc.status, "message": exc.message}})


def network_error(exc: LitestackError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    etype = exc.data.get("neutron_type") or type(exc).__name__
    return _json(exc.status, {"NeutronError": {"type": etype, "message": exc.message, "detail": ""}})


def placement_error(exc: LitestackError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    err = {"status": exc.status, "title": exc.title, "detail": exc.message, "request_id": request_id}
    if "code" in exc.data:
        err["code"] = exc.data["code"]
    return _json(exc.status, {"errors": [err]})


def image_error(exc: LitestackError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    return _json(exc.status, {"code": f"{exc.status} {exc.title}", "title": exc.title,
                              "message": exc.message})


def object_error(exc: LitestackError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    body = f"<html><h1>{html.escape(exc.title)}</h1><p>{html.escape(exc.message)}</p></html>"
    return exc.status, {"content-type": "text/html; charset=UTF-8"}, body.encode()


ERROR_STYLES: dict[str, ErrorFormatter] = {
    "identity": identity_error,
    "compute": compute_error,
    "volume": compute_error,
    "database": compute_error,
    "network": network_error,
    "placement": placement_error,
    "image": image_error,
    "object": object_error,
}
