"""The RPC bus used inside every service (api -> conductor -> agent...).

``get_transport(url)`` picks the implementation from the URL scheme:

- ``inproc://`` or an empty URL: the in-process bus (all-in-one);
  ``inproc://<name>`` selects a separate named bus.
- ``amqp://user:password@host:port/vhost`` (also ``rabbit://``, ``amqps://``): RabbitMQ.

The returned transport is not started: ``async with transport:`` or
``await transport.start()``. See ``base.Transport`` for the semantics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestack.common.errors import ConfigError
from litestack.common.rpc.base import Listener, Transport
from litestack.common.rpc.client import RPCClient
from litestack.common.rpc.exceptions import (
    RemoteError,
    RPCError,
    RPCTimeout,
    UnknownMethod,
    UnsupportedVersion,
)
from litestack.common.rpc.message import Notification

__all__ = [
    "Listener",
    "Notification",
    "RPCClient",
    "RPCError",
    "RPCTimeout",
    "RemoteError",
    "Transport",
    "UnknownMethod",
    "UnsupportedVersion",
    "get_transport",
    "register_transport",
]

TransportFactory = Callable[..., Transport]

_factories: dict[str, TransportFactory] = {}


def register_transport(scheme: str, factory: TransportFactory) -> None:
    """Make ``get_transport`` build ``factory(url, **options)`` for URLs of ``scheme``.

    Raises ``ValueError`` if the scheme is already registered.
    """
    scheme = scheme.lower()
    if scheme in _factories:
        raise ValueError(f"an RPC transport is already registered for {scheme}://")
    _factories[scheme] = factory


def get_transport(url: str | None, **options: Any) -> Transport:
    """A new, unstarted transport for ``url``; ``options`` go to its constructor.

    Raises ``ConfigError`` for a scheme no transport is registered for.
    """
    url = (url or "inproc://").strip()
    scheme, sep, _ = url.partition("://")
    factory = _factories.get(scheme.lower()) if sep else None
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(_factories))
        raise ConfigError(f"unsupported RPC transport URL scheme {scheme!r}; expected one of {known}")
    return factory(url, **options)


def _inproc(url: str, **options: Any) -> Transport:
    from litestack.common.rpc.inproc import InProcTransport

    name = url.partition("://")[2].strip("/")
    return InProcTransport(name or "default", **options)


def _amqp(url: str, **options: Any) -> Transport:
    """``amqp://user:password@host:port/vhost[?namespace=NAME]``: ``namespace`` (default
    ``litestack``) prefixes every exchange and queue, so that several clouds can share one broker
    and vhost without answering each other's calls (as separate vhosts would)."""
    # Imported on use, so that all-in-one start-up does not pay for aio-pika.
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    from litestack.common.rpc.amqp import AMQPTransport

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    named = [v for k, v in query if k == "namespace"]
    if named:
        options.setdefault("namespace", named[-1])
        url = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "namespace"])))
    return AMQPTransport(url, **options)


register_transport("inproc", _inproc)
for _scheme in ("amqp", "amqps", "rabbit"):
    register_transport(_scheme, _amqp)
