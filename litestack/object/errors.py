"""The object service's errors, with Swift's titles and texts (the HTML body comes from
``common/api/errors.py``'s ``object`` style)."""

from __future__ import annotations

from litestack.common import errors


class SwiftBadRequest(errors.BadRequest):
    """Raised when a name, header or parameter breaks Swift's constraints (the text says which)."""


class NotFound(errors.NotFound):
    """Raised when the account, container or object does not exist (Swift's text)."""

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "The resource could not be found.", **data)


class Forbidden(errors.Forbidden):
    """Raised when the caller may not use another project's account."""

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "Access was denied to this resource.", **data)


class Conflict(errors.Conflict):
    """Raised when a container to delete still holds objects, or a write is older than what is stored."""

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "There was a conflict when trying to complete your request.", **data)


class LengthRequired(errors.LitestackError):
    """Raised when an object PUT has neither Content-Length nor chunked transfer encoding."""

    status = 411
    title = "Length Required"


class PreconditionFailed(errors.LitestackError):
    """Raised when If-Match or If-Unmodified-Since does not hold."""

    status = 412
    title = "Precondition Failed"

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "A precondition for this request was not satisfied.", **data)


class TooLarge(errors.PayloadTooLarge):
    """Raised when an object is larger than ``max_file_size``."""

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "Your request is too large.", **data)


class RangeNotSatisfiable(errors.LitestackError):
    """Raised when no range of a Range header falls inside the object."""

    status = 416
    title = "Requested Range Not Satisfiable"

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "The Range requested is not available.", **data)


class Unprocessable(errors.LitestackError):
    """Raised when the data of a PUT does not match the ETag the client sent."""

    status = 422
    title = "Unprocessable Entity"

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "Unable to process the contained instructions", **data)


class Unavailable(errors.ServiceUnavailable):
    """Raised when too few storage servers answered to reach a quorum (or none to read from)."""

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "The server is currently unavailable. Please try again at a later time.",
                         **data)


class InsufficientStorage(errors.LitestackError):
    """Raised by a storage server whose device is missing (unmounted) or unusable."""

    status = 507
    title = "Insufficient Storage"

    def __init__(self, message: str | None = None, **data: object) -> None:
        super().__init__(message or "There was not enough space to save the resource.", **data)
