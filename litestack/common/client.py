"""The one internal REST client every service uses to call another service.

Services talk to each other over REST only (ARCHITECTURE.md §2): the image service reads its
quotas from identity, compute will create ports through the network API. They all go through
``ServiceClient``:

- **Who calls.** The service user (``glance``, ``nova``, …; password in ``secrets.json``) holds a
  token scoped to the ``service`` project, renewed a minute before it expires and once more on
  a 401. A call made for a user carries the user's token in ``X-Auth-Token`` and the service
  token in ``X-Service-Token``, as keystoneauth's service-token plugin sends them; a call the
  service makes for itself carries only the service token.
- **Where to.** The endpoint of a catalog type is looked up in the service token's catalog
  (interface ``internal`` by default, the configured region), once per token.
- **Retries.** Only when the connection could not be made (refused, reset before anything was
  sent, DNS, connect timeout): three more tries, 0.2 s, 0.5 s and 1 s apart. A request that
  reached the server is never repeated, because it may have done something: the caller
  reconciles instead.
- **Tracing.** The current request's global request ID (or its own ID, when it started here) goes
  out as ``X-OpenStack-Request-ID``; the callee's middleware takes it as its global request ID,
  so one user action can be followed through every service's log.

The identity service's token validator (``common/auth.py``) uses the same ``ServiceUserSession``
for its service token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from litestack.common import errors
from litestack.common.context import get_current

if TYPE_CHECKING:  # httpx is imported on first use (start-up time of services that never call out)
    import httpx

#: Pauses before the retries of a request whose connection could not be made.
RETRY_PAUSES = (0.2, 0.5, 1.0)
#: A token is renewed this long before it expires.
RENEW_BEFORE = 60.0


def _connection_errors() -> tuple[type[BaseException], ...]:
    import httpx

    # Raised before a byte of the request reached the server: safe to try again.
    return (httpx.ConnectError, httpx.ConnectTimeout)


class ServiceUserSession:
    """The service user's project-scoped token and the catalog that came with it."""

    def __init__(self, identity_url: str, username: str, password: str | Callable[[], str],
                 http: httpx.AsyncClient, project: str = "service", domain_id: str = "default",
                 catalog: bool = True) -> None:
        self.identity_url = identity_url.rstrip("/")
        self.username, self._password = username, password
        self.project, self.domain_id = project, domain_id
        self.http = http
        self._with_catalog = catalog
        self._token: str | None = None
        self._expires = 0.0
        self._catalog: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    def _body(self) -> dict[str, Any]:
        password = self._password() if callable(self._password) else self._password
        domain = {"id": self.domain_id}
        return {"auth": {
            "identity": {"methods": ["password"],
                         "password": {"user": {"name": self.username, "password": password, "domain": domain}}},
            "scope": {"project": {"name": self.project, "domain": domain}}}}

    async def token(self) -> str:
        if self._token is not None and time.time() < self._expires - RENEW_BEFORE:
            return self._token
        async with self._lock:  # one login when many requests find the token stale at once
            if self._token is None or time.time() >= self._expires - RENEW_BEFORE:
                await self._login()
            assert self._token is not None
            return self._token

    async def _login(self) -> None:
        url = f"{self.identity_url}/v3/auth/tokens" + ("" if self._with_catalog else "?nocatalog")
        r = await send(self.http, "POST", url, json=self._body())
        if r.status_code != 201:
            raise errors.ServiceUnavailable(
                f"The service user {self.username} could not authenticate to identity ({r.status_code}).")
        token = r.json()["token"]
        self._token = r.headers["x-subject-token"]
        self._expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00")).timestamp()
        self._catalog = token.get("catalog", [])

    def invalidate(self) -> None:
        """Forget the token (identity answered 401 to it): the next call logs in again."""
        self._token = None

    async def catalog(self) -> list[dict[str, Any]]:
        await self.token()
        return self._catalog


#: Methods HTTP defines as idempotent: sent again when a kept-alive connection was closed under them.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


async def send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP request, tried again when its connection could not be made, and (an idempotent
    method, once) when the server closed a kept-alive connection just as the request went out
    (its idle timeout raced our reuse: "Server disconnected without sending a response")."""
    import httpx

    stale_retried = False
    for pause in (*RETRY_PAUSES, None):
        try:
            return await http.request(method, url, **kwargs)
        except _connection_errors():
            if pause is None:
                raise
            await asyncio.sleep(pause)
        except httpx.RemoteProtocolError:
            if stale_retried or method.upper() not in IDEMPOTENT:
                raise
            stale_retried = True
    raise AssertionError("unreachable")


def http_client() -> httpx.AsyncClient:
    """The HTTP client of a service's calls to the others: idle connections are let go after 2 s,
    before the 5 s keep-alive of the servers (``[DEFAULT] keepalive_timeout``) closes them."""
    import httpx

    return httpx.AsyncClient(timeout=30, limits=httpx.Limits(keepalive_expiry=2.0))


def request_id_headers() -> dict[str, str]:
    """The global request ID of the current request, for the service being called."""
    ctx = get_current()
    if ctx is None:
        return {}
    return {"X-OpenStack-Request-ID": ctx.global_request_id or ctx.request_id}


class ServiceClient:
    """Calls other services' APIs as a service user (for itself, or on behalf of a user).

        client = ctx.client(SERVICE)                       # in a service's runtime
        r = await client.request("GET", "identity", "/v3/limits", params={"project_id": p})
        r = await client.request("POST", "network", "/v2.0/ports", json=..., user_token=token)
    """

    def __init__(self, session: ServiceUserSession, interface: str = "internal", region: str | None = None,
                 endpoints: Mapping[str, str] | None = None) -> None:
        self.session, self.interface, self.region = session, interface, region
        #: Fixed endpoints by catalog type (e.g. identity's own URL), consulted before the catalog.
        self.endpoints = dict(endpoints or {})

    async def endpoint(self, service_type: str) -> str:
        if service_type in self.endpoints:
            return self.endpoints[service_type]
        for service in await self.session.catalog():
            if service.get("type") != service_type:
                continue
            for ep in service.get("endpoints", []):
                if ep.get("interface") == self.interface and ep.get("url") and (
                        self.region is None or ep.get("region_id") == self.region):
                    return str(ep["url"]).rstrip("/")
        raise errors.ServiceUnavailable(f"No {self.interface} endpoint of type {service_type} in the catalog.")

    async def request(self, method: str, service_type: str, path: str, *, user_token: str | None = None,
                      headers: Mapping[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """``method`` on ``path`` (relative to the endpoint of ``service_type``); the response is
        returned whatever its status. A 401 to the service token logs in again once."""
        url = await self.endpoint(service_type) + path
        for attempt in (1, 2):
            service_token = await self.session.token()
            sent = {**request_id_headers(), **(headers or {})}
            if user_token is not None:
                sent.update({"X-Auth-Token": user_token, "X-Service-Token": service_token})
            else:
                sent["X-Auth-Token"] = service_token
            r = await send(self.session.http, method, url, headers=sent, **kwargs)
            if r.status_code == 401 and attempt == 1 and user_token is None:
                self.session.invalidate()
                continue
            return r
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.session.http.aclose()


async def send_server_events(client: ServiceClient, events: list[dict[str, Any]], microversion: str | None = None,
                             log: Any = None) -> bool:
    """Nova's ``os-server-external-events`` from another service (network-vif-plugged from the
    network service, volume-extended from block storage), with the service token. ``microversion``
    is asked first (``volume-extended`` is 2.51) and dropped when compute answers 406 (an older
    compute). Quietly False when compute is not in the catalog; failures are logged, never raised:
    the change that caused the event is made already."""
    import logging

    logger = log or logging.getLogger(__name__)
    try:
        await client.endpoint("compute")
    except errors.ServiceUnavailable:
        return False  # no compute service in this cloud
    except Exception as exc:
        logger.warning("compute events not sent (catalog unreachable): %s: %s", type(exc).__name__, exc)
        return False
    names = [e["name"] for e in events]
    for version in ([microversion] if microversion else []) + [None]:
        headers = {"OpenStack-API-Version": f"compute {version}"} if version else None
        try:
            r = await client.request("POST", "compute", "/os-server-external-events", json={"events": events},
                                     headers=headers)
        except Exception as exc:
            logger.warning("compute events not sent: %s: %s", type(exc).__name__, exc)
            return False
        if r.status_code == 406 and version:
            continue
        if r.status_code >= 400 and r.status_code != 404:
            logger.warning("compute refused events %s: %s %s", names, r.status_code, r.text[:200])
            return False
        return True
    return False
