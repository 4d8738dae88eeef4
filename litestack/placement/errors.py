"""Placement's errors: each carries placement's error ``code`` (shown from microversion 1.23)."""

from __future__ import annotations

from typing import Any

from litestack.common import errors

DEFAULT = "placement.undefined_code"
CONCURRENT_UPDATE = "placement.concurrent_update"
DUPLICATE_NAME = "placement.duplicate_name"
INVENTORY_INUSE = "placement.inventory.inuse"
PROVIDER_IN_USE = "placement.resource_provider.inuse"
PROVIDER_CANNOT_DELETE_PARENT = "placement.resource_provider.cannot_delete_parent"
PROVIDER_NOT_FOUND = "placement.resource_provider.not_found"
QUERY_DUPLICATE_KEY = "placement.query.duplicate_key"
QUERY_BAD_VALUE = "placement.query.bad_value"
QUERY_MISSING_VALUE = "placement.query.missing_value"


class BadRequest(errors.BadRequest):
    """A malformed request (body, query or path), placement's default code."""

    def __init__(self, message: str | None = None, code: str = DEFAULT, **data: Any) -> None:
        super().__init__(message, code=code, **data)


class NotFound(errors.NotFound):
    """What the path names does not exist."""

    def __init__(self, message: str | None = None, code: str = DEFAULT, **data: Any) -> None:
        super().__init__(message, code=code, **data)


class Conflict(errors.Conflict):
    """The request conflicts with stored state (capacity, constraints, names)."""

    def __init__(self, message: str | None = None, code: str = DEFAULT, **data: Any) -> None:
        super().__init__(message, code=code, **data)


class ConcurrentUpdate(Conflict):
    """A generation (of a provider or a consumer) the caller sent is not the stored one."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=CONCURRENT_UPDATE)


def provider_not_found(uuid: str) -> NotFound:
    return NotFound(f"No resource provider with uuid {uuid} found", code=PROVIDER_NOT_FOUND)


def generation_conflict(uuid: str) -> ConcurrentUpdate:
    return ConcurrentUpdate(f"resource provider generation conflict: resource provider {uuid} was updated "
                            "since its generation was read; read it again and retry.")


def bad_query(message: str, code: str = QUERY_BAD_VALUE) -> BadRequest:
    return BadRequest(message, code=code)
