"""Errors raised by the RPC bus.

Every error keeps its facts in ``data`` (see ``LitestackError``) as well as in
attributes, because ``data`` is what crosses the bus when a handler raises one
of these and the caller rebuilds it (a nested call that timed out inside a
handler reaches the original caller as ``RPCTimeout``).
"""

from __future__ import annotations

from litestack.common.errors import LitestackError


class RPCError(LitestackError):
    """Root of the RPC bus errors; raised as such when the bus itself fails (not started, broker gone)."""

    title = "RPC Error"


class RPCTimeout(RPCError):
    """Raised by ``call`` when no reply arrived within ``timeout`` seconds.

    The request may still run later or may have run already: recover by
    reconciling state, not by blindly calling again.
    """

    def __init__(self, topic: str, method: str, timeout: float) -> None:
        super().__init__(
            f"No reply to {topic}.{method} within {timeout:g}s", topic=topic, method=method, timeout=timeout
        )
        self.topic = topic
        self.method = method
        self.timeout = timeout


class RemoteError(RPCError):
    """Raised by ``call`` when the remote handler failed with an error the caller cannot rebuild.

    That is any exception that is not a ``LitestackError`` defined in a
    ``litestack.*`` module. ``exc_type`` is the remote class name and ``message``
    the remote ``str(exc)``. The remote traceback stays in the server's log.
    """

    def __init__(self, exc_type: str, message: str) -> None:
        super().__init__(message, exc_type=exc_type)
        self.exc_type = exc_type

    def __str__(self) -> str:
        return f"{self.exc_type}: {self.message}"


class UnknownMethod(RPCError):
    """Raised when a message names a method the endpoint does not export in ``rpc_methods``."""

    def __init__(self, topic: str, method: str) -> None:
        super().__init__(f"{topic} has no RPC method {method!r}", topic=topic, method=method)
        self.topic = topic
        self.method = method


class UnsupportedVersion(RPCError):
    """Raised when the caller's RPC API version is newer than (or a different major from) the endpoint's.

    ``version`` is what the caller asked for, ``supported`` the endpoint's ``rpc_version``.
    """

    def __init__(self, topic: str, version: str, supported: str) -> None:
        super().__init__(
            f"{topic} supports RPC API version {supported}, not {version}",
            topic=topic,
            version=version,
            supported=supported,
        )
        self.topic = topic
        self.version = version
        self.supported = supported
