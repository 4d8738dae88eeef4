"""The service contract and the service registry.

Every litestack service (identity, image, compute, …) describes itself once, with a
``ServiceSpec`` in its own ``service.py``. The registry (``litestack/registry.py`` lists the
built-in ones, one line each; ``[DEFAULT] service_plugins`` adds more) is the only list of
services: ``litestack up``, ``serve``, ``status``, ``policy dump``, ``config sample``,
``verify`` and the bootstrap of the catalog all loop over it. Neither ``common`` nor ``cli``
imports a service package except through it.

A spec is plain data plus dotted references (``"package.module:attribute"``) that are imported
only when used, so listing the services, dumping a policy or printing the sample configuration
never loads a service's database code or API.

The running part of a service is a ``ServiceRuntime``, built by the spec's ``factory`` from a
``ServiceContext``; see ``ServiceRuntime`` for the hooks the cloud calls and when.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestack.common.errors import ConfigError

if TYPE_CHECKING:
    import argparse
    import configparser

    from starlette.types import ASGIApp

    from litestack.common.auth import TokenCache
    from litestack.common.client import ServiceClient
    from litestack.common.config import Config
    from litestack.common.db import Database
    from litestack.common.policy import RuleDefault
    from litestack.common.rpc import Transport


def resolve(ref: str) -> Any:
    """Import ``"package.module:attribute"`` (or a whole module, without ``:``)."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class CatalogEntry:
    """One service of the identity catalog, as DevStack registers it (``volume`` has two)."""

    type: str
    name: str
    description: str
    #: Appended to the endpoint URL; may name ``$(project_id)s`` as Swift's ``AUTH_%(project_id)s``.
    suffix: str = ""


@dataclass(frozen=True)
class LimitDefault:
    """A registered limit a service enforces (unified limits, as oslo.limit reads them): identity's
    bootstrap registers it once with this default, for the service's main catalog entry and the
    cloud's region; operators then change it, or set per-project limits, through ``/v3/limits``."""

    resource_name: str
    default_limit: int
    description: str = ""


@dataclass(frozen=True)
class TempestSettings:
    """How ``litestack verify`` configures tempest for a service.

    ``prefixes`` are the test ids that need this service; ``flags`` are the
    ``[service_available]`` options tempest reads for it; ``plugin`` is a pip requirement holding
    its tests, installed only when the service runs; ``configure`` (a dotted reference) is called
    as ``configure(conf, settings, cloud, state)`` to add the service's own sections to
    tempest.conf, where ``settings`` is what ``state`` (below) recorded when the cloud started.
    ``state`` is called as ``state(conf)`` by the cloud and its JSON-able result kept in
    state.json, so that verify describes the cloud as it runs, not as the defaults say.
    """

    prefixes: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    plugin: str | None = None
    configure: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class AgentSpec:
    """A per-host part of a service (a storage server, a compute or network agent), run on each
    host as ``litestack agent <kind> --host NAME``; kinds are unique across services."""

    #: The command's name (``object-storage``).
    kind: str
    description: str
    #: ``main(conf, data_dir, args) -> int``: run in the foreground until SIGINT or SIGTERM.
    main: str
    #: ``arguments(parser)`` adds the agent's own options (``--host``, ``--config`` and
    #: ``--data-dir`` are always there), or None.
    arguments: str | None = None


@dataclass(frozen=True)
class ServiceSpec:
    """What a service is, for the registry: the one place where a service is described."""

    #: The package name, which is also the config section, the database name and the CLI name.
    name: str
    #: The OpenStack project this mirrors, for help text (``Keystone``).
    code_name: str
    #: Its catalog entries; the first is the main one.
    catalog: tuple[CatalogEntry, ...]
    #: ``litestack serve <name>`` listens here.
    port: int
    #: The path under the all-in-one address (``/identity``).
    path: str
    #: Builds the running service: ``factory(ctx: ServiceContext) -> ServiceRuntime``.
    factory: str
    #: Its API's Op table, built without a running service (``ops()`` → list of ``Op``): the
    #: every-route-has-a-rule test and the published documentation walk it.
    ops: str | None = None
    #: A module that registers the service's config section(s) on import, or None.
    options: str | None = None
    #: The default policy: a dotted reference to a list of ``RuleDefault``.
    policy: str | None = None
    #: The Alembic migrations package and the declarative base its models share.
    migrations: str | None = None
    models: str | None = None
    #: A user in the ``service`` project, as DevStack names it (``glance``), for a service that
    #: calls other services; None for one that does not.
    service_user: str | None = None
    #: Other services that must run in the same cloud (identity is always needed).
    requires: tuple[str, ...] = ()
    tempest: TempestSettings = field(default_factory=TempestSettings)
    #: ``cli(subparsers, common)`` adds ``litestack <name> …`` subcommands; ``common(parser)``
    #: adds the shared ``--config``/``--data-dir`` options.
    cli: str | None = None
    #: The first service's bootstrap writes the catalog and service users of every service.
    description: str = ""
    #: The registered limits it enforces (Glance's ``image_size_total``, …), created at bootstrap.
    limits: tuple[LimitDefault, ...] = ()
    #: Its per-host agents (``litestack agent <kind>``).
    agents: tuple[AgentSpec, ...] = ()
    #: Roles its deployment defines beside admin, member, reader and service (Swift's
    #: ``ResellerAdmin``), created by identity's bootstrap as DevStack creates them.
    roles: tuple[str, ...] = ()

    def rules(self) -> list[RuleDefault]:
        if self.policy is None:
            return []
        rules: list[RuleDefault] = list(resolve(self.policy))
        return rules

    def add_cli(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                common: Callable[[argparse.ArgumentParser], None]) -> None:
        if self.cli is not None:
            resolve(self.cli)(subparsers, common)


@dataclass
class ServiceContext:
    """What the cloud gives a service when it builds it."""

    conf: Config
    data_dir: Path
    #: The cloud's public address (``http://127.0.0.1:8800``): where clients reach every API.
    public_url: str
    #: This service's own base URL (the public URL plus its path, or the root when standalone).
    service_url: str
    #: The identity API's base URL, for token validation and the catalog.
    auth_url: str
    #: True for ``litestack serve <name>`` (the service alone, at the root of its port).
    standalone: bool
    #: The token cache every non-identity service's auth middleware shares in this process.
    token_cache: TokenCache
    #: Every enabled service, in start order (bootstrap registers them all in the catalog).
    services: tuple[ServiceSpec, ...]
    #: True in the process that prepares the data directory (bootstrap, keys); False in the
    #: workers a multi-worker parent forks, which only open and serve.
    prepare: bool = True
    #: Called with a progress line for the console (``litestack: …``).
    say: Callable[[str], None] = print
    _clients: dict[str, ServiceClient] = field(default_factory=dict, repr=False)

    def auth_middleware(self, spec: ServiceSpec) -> Callable[[ASGIApp], ASGIApp]:
        """The auth middleware of a service other than identity: user tokens are validated by the
        identity API over REST, with the service user's own token, and cached in the token cache
        this process shares (evicted by revocation events on the bus)."""
        from litestack.common.auth import AuthMiddleware

        if spec.service_user is None:
            raise ValueError(f"service {spec.name}: validating tokens needs a service_user in its spec")
        validator = _ServiceUserValidator(self.auth_url, self.data_dir, spec.service_user)
        cache, identity = self.token_cache, self.auth_url
        service_type = spec.catalog[0].type if spec.catalog else None  # what access rules name
        return lambda app: AuthMiddleware(app, validator, cache, identity, service_type)


    def client(self, spec: ServiceSpec) -> ServiceClient:
        """The internal REST client of a service (``common/client.py``): it calls other services as
        the spec's service user, for itself or on behalf of a user. One per service and context."""
        from litestack.common.client import ServiceClient, ServiceUserSession, http_client

        if spec.service_user is None:
            raise ValueError(f"service {spec.name}: calling other services needs a service_user in its spec")
        made = self._clients.get(spec.name)
        if made is None:

            from litestack.common.secrets import service_password

            user, data_dir = spec.service_user, self.data_dir
            session = ServiceUserSession(self.auth_url, user, lambda: service_password(data_dir, user),
                                         http_client())
            region = self.conf.get("DEFAULT", "region")
            made = self._clients[spec.name] = ServiceClient(session, region=region,
                                                            endpoints={"identity": self.auth_url.rstrip("/")})
        return made

    async def aclose(self) -> None:
        """Close the connections of the internal REST clients ``client()`` made (at shutdown, in
        the loop that used them)."""
        clients, self._clients = list(self._clients.values()), {}
        for made in clients:
            await made.aclose()


class _ServiceUserValidator:
    """An ``HTTPTokenValidator`` made on first use: the service user's password is chosen by
    identity's bootstrap, which runs after every service is built."""

    def __init__(self, auth_url: str, data_dir: Path, user: str) -> None:
        self.auth_url, self.data_dir, self.user = auth_url, data_dir, user
        self._inner: Any = None

    async def validate(self, token: str, allow_expired: bool = False) -> dict[str, Any]:
        if self._inner is None:
            from litestack.common.auth import HTTPTokenValidator
            from litestack.common.secrets import service_password

            self._inner = HTTPTokenValidator(self.auth_url, self.user, service_password(self.data_dir, self.user))
        body: dict[str, Any] = await self._inner.validate(token, allow_expired)
        return body


class ServiceRuntime:
    """A running service in one process. Subclasses set ``app`` and override the hooks they need.

    The cloud calls, in order: the constructor (open the database, apply migrations, build the
    app); ``bootstrap()`` in the preparing process only; ``startup(bus)`` inside the event loop
    once the server runs; ``health()`` on every ``/healthcheck``; ``shutdown()`` in the event loop
    when the server stops; ``close()`` after the loop ended (release threads and connections).
    """

    app: ASGIApp

    def bootstrap(self) -> None:
        """Create what a fresh cloud needs; idempotent, runs on every start of the preparing process."""

    async def startup(self, bus: Transport) -> None:
        """Connect to the bus (subscribe, start periodic tasks)."""

    async def shutdown(self) -> None:
        """Stop what ``startup`` started."""

    def health(self) -> str:
        """``"ok"``, or raise: the exception's type is reported and the cloud is degraded."""
        return "ok"

    def share(self, counter: Any) -> None:
        """In a forked worker: share this cross-worker cache-generation counter (see ``cli.cloud``)."""

    def close(self) -> None:
        """Release what the constructor opened."""


def open_database(spec: ServiceSpec, conf: Config, data_dir: Path) -> Database:
    """The service's database (its own SQLite file by default), migrated to head."""
    from litestack.common import db as dbmod

    db = dbmod.Database(dbmod.service_url(conf.get("DEFAULT", "database_url"), spec.name, data_dir))
    if spec.migrations is not None:
        if spec.models is None:
            raise ValueError(f"service {spec.name}: migrations need models")
        dbmod.upgrade(db, spec.migrations, resolve(spec.models), spec.name)
    return db


def policy_file(conf: Config, service: str) -> Path | None:
    """The operator's policy override file of a service, ``<policy_dir>/<service>-policy.yaml``."""
    d = conf.get("DEFAULT", "policy_dir")
    if not d:
        return None
    p = Path(d) / f"{service}-policy.yaml"
    return p if p.exists() else None


class Registry:
    """The known services by name, in registration order; a second spec of one name is an error
    (as Keystone's provider registry refuses a second provider)."""

    def __init__(self, specs: Iterable[ServiceSpec] = (), builtin: int | None = None) -> None:
        self._specs: dict[str, ServiceSpec] = {}
        self._ports: dict[int, str] = {}
        self._paths: dict[str, str] = {}
        self._agents: dict[str, str] = {}
        for spec in specs:
            self.add(spec)
        #: How many of the first specs are built in (``litestack/registry.py``); the rest are plugins.
        self.builtin = len(self._specs) if builtin is None else builtin

    def default_names(self) -> list[str]:
        """What ``litestack up`` runs when ``[DEFAULT] services`` is empty: every built-in service
        (a plugin runs only when named)."""
        return list(self._specs)[:self.builtin]

    def add(self, spec: ServiceSpec) -> None:
        if not isinstance(spec, ServiceSpec):
            raise ConfigError(f"not a ServiceSpec: {spec!r}")
        for taken, what in ((self._specs, spec.name), (self._ports, spec.port), (self._paths, spec.path)):
            if what in taken:
                other = what if taken is self._specs else taken[what]  # type: ignore[index]
                raise ConfigError(f"service {spec.name!r}: {what!r} is already taken by service {other!r}")
        if not spec.path.startswith("/") or spec.path.endswith("/"):
            raise ConfigError(f"service {spec.name!r}: path {spec.path!r} must start and not end with '/'")
        for agent in spec.agents:
            if agent.kind in self._agents:
                raise ConfigError(f"service {spec.name!r}: agent {agent.kind!r} is already taken by service "
                                  f"{self._agents[agent.kind]!r}")
        self._agents.update({a.kind: spec.name for a in spec.agents})
        self._specs[spec.name] = spec
        self._ports[spec.port] = spec.name
        self._paths[spec.path] = spec.name

    def __getitem__(self, name: str) -> ServiceSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ConfigError(f"unknown service {name!r}; known: {', '.join(self._specs)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Any:
        return iter(self._specs.values())

    def names(self) -> list[str]:
        return list(self._specs)

    def enabled(self, names: Iterable[str]) -> tuple[ServiceSpec, ...]:
        """The specs of these services in start order (each after those it requires), checked."""
        wanted = [self[n] for n in dict.fromkeys(names)]
        chosen = {s.name for s in wanted}
        for spec in wanted:
            for dep in spec.requires:
                if dep not in chosen:
                    raise ConfigError(f"service {spec.name!r} needs service {dep!r}; enable it too")
        ordered: list[ServiceSpec] = []

        def visit(spec: ServiceSpec, path: tuple[str, ...]) -> None:
            if spec in ordered:
                return
            if spec.name in path:
                raise ConfigError(f"services require each other in a cycle: {' -> '.join(path)}")
            for dep in spec.requires:
                visit(self[dep], (*path, spec.name))
            ordered.append(spec)

        for spec in wanted:
            visit(spec, ())
        return tuple(ordered)


_loaded: dict[tuple[str, ...], Registry] = {}


def registry(plugins: Iterable[str] = ()) -> Registry:
    """The built-in services (``litestack.registry.SERVICES``) plus these plugin specs."""
    key = tuple(plugins)
    reg = _loaded.get(key)
    if reg is None:
        builtin: list[str] = list(resolve("litestack.registry:SERVICES"))
        refs = [*builtin, *key]
        specs = []
        for ref in refs:
            try:
                specs.append(resolve(ref))
            except (ImportError, AttributeError) as exc:
                raise ConfigError(f"service {ref!r} cannot be loaded: {exc}") from exc
        reg = _loaded[key] = Registry(specs, builtin=len(builtin))
    return reg


def from_config(conf: Config) -> Registry:
    return registry(conf.get("DEFAULT", "service_plugins"))


def tempest_configure(spec: ServiceSpec, conf: configparser.ConfigParser, settings: Any,
                      cloud: Mapping[str, Any], state: Mapping[str, Any]) -> None:
    if spec.tempest.configure is not None:
        resolve(spec.tempest.configure)(conf, settings, cloud, state)
