"""Exception root for litestack.

Business code raises these; the API toolkit translates them to each service's
OpenStack error body in exactly one place (``litestack.common.api.errors``).
Every exception carries an HTTP ``status`` and a ``title`` so that translation
needs no per-class special cases.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LitestackError(Exception):
    """Root of every litestack exception."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    #: Extra HTTP headers the error response carries (``WWW-Authenticate``, ``Retry-After``).
    headers: dict[str, str] | None = None

    def __init__(self, message: str | None = None, **data: Any) -> None:
        self.message = message or self.title
        self.data = data
        super().__init__(self.message)


class ConfigError(LitestackError, ValueError):
    """Raised when configuration is missing or invalid at start-up."""


class StartupError(LitestackError):
    """Raised when a process cannot start for a reason outside it: its database or message bus
    is unreachable, refuses the credentials, or a start-up lock is held too long. The message is
    one line that names what failed, without secrets."""


# --- API-facing errors -----------------------------------------------------


class BadRequest(LitestackError):
    """Raised when the request body, query or headers are malformed or fail validation."""

    status = 400
    title = "Bad Request"


class ValidationError(BadRequest):
    """Raised when a request body does not match the resource schema."""


class Unauthorized(LitestackError):
    """Raised when authentication is missing or fails (bad token, bad password)."""

    status = 401
    title = "Unauthorized"


class Forbidden(LitestackError):
    """Raised when the caller is authenticated but policy denies the action."""

    status = 403
    title = "Forbidden"


class NotFound(LitestackError):
    """Raised when the addressed resource does not exist or is not visible to the caller.

    ``NotFound.of(kind, ident)`` carries what was looked for (``data["kind"]``, ``data["id"]``)
    and builds the OpenStack text in this one place.
    """

    status = 404
    title = "Not Found"

    @classmethod
    def of(cls, kind: str, ident: object = None) -> NotFound:
        """``Could not find user: 8e1c….`` (Keystone's text; ``ident`` None: ``Could not find user.``)."""
        text = f"Could not find {kind}: {ident}." if ident is not None else f"Could not find {kind}."
        return cls(text, kind=kind, id=ident)


class MethodNotAllowed(LitestackError):
    """Raised when the HTTP method is not supported on a path."""

    status = 405
    title = "Method Not Allowed"


class NotAcceptable(LitestackError):
    """Raised when a requested microversion is out of the supported range."""

    status = 406
    title = "Not Acceptable"


class Conflict(LitestackError):
    """Raised when the request conflicts with existing state (duplicate name, in use).

    ``Conflict.duplicate(kind, field, value)`` carries what clashed (``data["kind"]``,
    ``data["field"]``, ``data["value"]``) and builds the OpenStack text in this one place.
    """

    status = 409
    title = "Conflict"

    @classmethod
    def duplicate(cls, kind: str, field: str | None = None, value: object = None, *, update: bool = False,
                  domain_id: str | None = None) -> Conflict:
        """Keystone's duplicate-entry text, e.g. ``Conflict occurred attempting to store user -
        Duplicate entry found with name alice at domain ID default.``; ``field="id"`` gives
        ``Duplicate ID, <value>.``; no field gives ``Duplicate entry.``"""
        if field == "id":
            detail = f"Duplicate ID, {value}."
        elif field is not None:
            where = f" at domain ID {domain_id}" if domain_id is not None else ""
            detail = f"Duplicate entry found with {field} {value}{where}."
        else:
            detail = "Duplicate entry."
        action = "update" if update else "store"
        return cls(f"Conflict occurred attempting to {action} {kind} - {detail}", kind=kind, field=field,
                   value=value)


class Gone(LitestackError):
    """Raised when a resource existed but is no longer available."""

    status = 410
    title = "Gone"


class PayloadTooLarge(LitestackError):
    """Raised when a request body is over the service's limit."""

    status = 413
    title = "Request Entity Too Large"


class TooManyRequests(LitestackError):
    """Raised when a client sends more than it may (failed logins, checks in flight); carries
    ``Retry-After`` in ``headers`` when the wait is known."""

    status = 429
    title = "Too Many Requests"


class UnsupportedMediaType(LitestackError):
    """Raised when the request Content-Type is not one the service accepts."""

    status = 415
    title = "Unsupported Media Type"


class NotImplementedYet(LitestackError):
    """Raised for a documented OpenStack feature litestack does not provide."""

    status = 501
    title = "Not Implemented"


class ServiceUnavailable(LitestackError):
    """Raised when a backend (database, bus, another service) cannot be reached."""

    status = 503
    title = "Service Unavailable"
