"""The image service's registry entry (``SERVICE``) and its runtime in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from litestack.common.service import (
    CatalogEntry,
    LimitDefault,
    ServiceContext,
    ServiceRuntime,
    ServiceSpec,
    TempestSettings,
    open_database,
    policy_file,
)

LOG = logging.getLogger(__name__)

SERVICE = ServiceSpec(
    name="image",
    code_name="Glance",
    description="Image service (Glance v2)",
    catalog=(CatalogEntry("image", "glance", "Image service"),),
    port=9292,
    path="/image",
    service_user="glance",
    factory="litestack.image.service:ImageService",
    ops="litestack.image.api:op_table",
    options="litestack.image.options",
    policy="litestack.image.policy:RULES",
    migrations="litestack.image.migrations",
    models="litestack.image.models:Base",
    tempest=TempestSettings(prefixes=("tempest.api.image.",), flags=("glance",),
                            configure="litestack.image.tempest:configure",
                            state="litestack.image.tempest:state"),
    cli="litestack.image.cli:register",
    # Glance's unified limits, registered by identity's bootstrap; sizes in MiB. Generous defaults
    # for a development cloud: operators lower them (`openstack registered limit set`) or give a
    # project its own (`openstack limit create`).
    limits=(LimitDefault("image_size_total", 1_000_000, "MiB of image data a project may keep."),
            LimitDefault("image_stage_total", 1_000_000, "MiB of staged image data a project may keep."),
            LimitDefault("image_count_total", 100_000, "Images a project may have."),
            LimitDefault("image_count_uploading", 100, "Images a project may upload or stage at once.")),
)


def build_stores(conf: Any, data_dir: Any, auth_url: str | None = None) -> tuple[dict[str, Any], str]:
    """The configured stores by name, and the default one's name (``ConfigError`` when wrong)."""
    from litestack.common.errors import ConfigError
    from litestack.image.drivers import make_store

    stores: dict[str, Any] = {}
    for entry in conf.get("image", "stores"):
        name, sep, kind = entry.partition(":")
        if not sep or not name or not kind:
            raise ConfigError(f'[image] stores: {entry!r} is not "name:kind"')
        if name in stores:
            raise ConfigError(f"[image] stores: {name!r} is named twice")
        options: dict[str, object] = {}
        if kind == "file":
            directory = data_dir / "image" / "stores" / name
            directory.mkdir(parents=True, exist_ok=True)
            options["directory"] = directory
        elif kind == "swift":
            from litestack.image.drivers.swift import service_user_options

            options.update(service_user_options(conf, data_dir, name, auth_url))
        try:
            stores[name] = make_store(kind, name, **options)
        except ValueError as exc:
            raise ConfigError(f"[image] stores: {exc}") from None
    if not stores:
        raise ConfigError("[image] stores: at least one store is needed")
    default = conf.get("image", "default_store") or next(iter(stores))
    if default not in stores:
        raise ConfigError(f"[image] default_store: {default!r} is not one of the stores")
    return stores, default


def staging_store(data_dir: Any) -> Any:
    """Where ``PUT .../stage`` keeps data until its import (Glance's ``os_glance_staging_store``)."""
    from litestack.image.drivers import make_store
    from litestack.image.manager.imports import STAGING

    directory = data_dir / "image" / "staging"
    directory.mkdir(parents=True, exist_ok=True)
    return make_store("file", STAGING, directory=directory)


class ImageService(ServiceRuntime):
    """The image service in one process: its database, stores, managers and ASGI app."""

    def __init__(self, ctx: ServiceContext) -> None:
        from litestack.common.policy import Enforcer
        from litestack.image import api
        from litestack.image.api.service import ImageAPI, Settings
        from litestack.image.manager.data import Data
        from litestack.image.manager.images import Images, Limits
        from litestack.image.manager.imports import Imports
        from litestack.image.manager.members import Members
        from litestack.image.policy import RULES

        conf = ctx.conf
        self.ctx = ctx
        self.db = open_database(SERVICE, conf, ctx.data_dir)
        stores, default = build_stores(conf, ctx.data_dir, ctx.auth_url)
        images = Images(self.db, Limits(conf.get("image", "image_property_quota"),
                                        conf.get("image", "image_tag_quota"),
                                        conf.get("image", "image_member_quota")))
        self.data = Data(self.db, images, stores, default)
        web = conf.get("image", "web_download_enabled")
        methods = [m for m in conf.get("image", "enabled_import_methods") if m in IMPLEMENTED_IMPORT_METHODS
                   and (m != "web-download" or web) and (m != "copy-image" or len(stores) > 1)]
        settings = Settings(
            disk_formats=list(conf.get("image", "disk_formats")),
            container_formats=list(conf.get("image", "container_formats")),
            show_multiple_locations=conf.get("image", "show_multiple_locations"),
            multiple_stores=len(stores) > 1,
            limit_default=conf.get("image", "limit_param_default"),
            limit_max=conf.get("image", "api_limit_max"),
            image_size_cap=conf.get("image", "image_size_cap"),
            member_quota=conf.get("image", "image_member_quota"),
            import_methods=methods,
            web_download=conf.get("image", "web_download_enabled"),
            web_download_hosts=list(conf.get("image", "web_download_allowed_hosts")))
        self.enforcer = Enforcer(RULES, policy_file(conf, SERVICE.name))
        self.imports = Imports(self.db, self.data, staging_store(ctx.data_dir),
                               list(conf.get("image", "web_download_allowed_hosts")),
                               conf.get("image", "image_size_cap"))
        limits = None
        if conf.get("image", "use_keystone_limits"):
            from litestack.common.limits import UnifiedLimits

            limits = UnifiedLimits(ctx.client(SERVICE), "image", conf.get("DEFAULT", "region"))
        self.api = ImageAPI(self.enforcer, images, Members(self.db, images), self.data, settings, self.imports,
                            limits=limits)
        self.app = api.build(self.api, ctx.auth_middleware(SERVICE))
        if ctx.prepare:
            # Transfers cut by a crash can never finish: their images go back to queued.
            restored = self.data.recover() + self.imports.recover()
            if restored:
                LOG.warning("image: %d upload(s) or import(s) interrupted by a restart; images restored", restored)
            # Nothing is being written before the server starts, so whatever a crash left (temporary
            # files, data committed but never recorded) can go now, whatever its age.
            swept = self.scrub(0)
            if swept.orphans or swept.temporary:
                LOG.warning("image: removed %d orphaned and %d temporary file(s) left by a crash",
                            len(swept.orphans), swept.temporary)
        self._scrubber: asyncio.Task[None] | None = None

    async def startup(self, bus: Any) -> None:
        self.api.notifier.bind(bus)
        interval = self.ctx.conf.get("image", "scrub_interval")
        if interval > 0 and self.ctx.prepare:
            self._scrubber = asyncio.create_task(self._scrub_every(interval))

    async def _scrub_every(self, interval: int) -> None:
        from litestack.common.db import run_blocking

        while True:
            try:
                result = await run_blocking(self.scrub, self.ctx.conf.get("image", "scrub_min_age"))
                if result.orphans or result.temporary:
                    LOG.info("image scrub: %d orphaned image file(s), %d temporary file(s) removed",
                             len(result.orphans), result.temporary)
            except Exception as exc:  # the next run tries again; the service keeps serving
                LOG.warning("image scrub failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(interval)

    def scrub(self, older_than: float) -> Any:
        from litestack.image.drivers import scrub

        return scrub([*self.data.stores.values(), self.imports.staging], self.data.known_locations(), older_than)

    async def shutdown(self) -> None:
        if self._scrubber is not None:
            self._scrubber.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._scrubber
        await self.api.notifier.drain()

    def close(self) -> None:
        self.db.dispose()


#: The import methods this service carries out (``[image] enabled_import_methods`` may name fewer).
IMPLEMENTED_IMPORT_METHODS: tuple[str, ...] = ("glance-direct", "copy-image", "web-download")
