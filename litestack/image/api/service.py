"""What every image API handler shares: the managers, the caller, the image loader and the view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request

from litestack.common.api.app import ctx, validate
from litestack.common.api.policy import Target, TargetLoader, policy_target, stash
from litestack.common.api.resource import ServiceAPI
from litestack.common.limits import UnifiedLimits
from litestack.common.notify import Notifier
from litestack.common.policy import Enforcer
from litestack.image import schemas
from litestack.image.drivers.base import Store
from litestack.image.manager import Caller
from litestack.image.manager.data import Data
from litestack.image.manager.images import QUOTA_NAMES, Images
from litestack.image.manager.imports import STAGING, Imports
from litestack.image.manager.members import Members
from litestack.image.models import Image


@dataclass
class Settings:
    """The options the API reads on every request, taken once from ``[image]``."""

    disk_formats: list[str] = field(default_factory=lambda: ["raw", "qcow2"])
    container_formats: list[str] = field(default_factory=lambda: ["bare"])
    show_multiple_locations: bool = False
    multiple_stores: bool = False
    limit_default: int = 25
    limit_max: int = 1000
    image_size_cap: int = 1 << 40
    member_quota: int = 128
    import_methods: list[str] = field(default_factory=list)
    web_download: bool = False
    web_download_hosts: list[str] = field(default_factory=list)


def isotime(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ImageAPI(ServiceAPI):
    prefix = "/v2"

    def __init__(self, enforcer: Enforcer, images: Images, members: Members, data: Data, settings: Settings,
                 imports: Imports | None = None, notifier: Notifier | None = None,
                 limits: UnifiedLimits | None = None) -> None:
        super().__init__(enforcer)
        self.images, self.members, self.data, self.settings = images, members, data, settings
        self._imports = imports
        self.limits = limits
        self.notifier = notifier or Notifier("image")
        self.schemas = schemas.all_schemas(settings.disk_formats, settings.container_formats)

    def response_schema(self, name: str) -> dict[str, Any]:
        """A published schema as a response schema of the OpenAPI document (Glance's ``name`` and
        hypermedia ``links`` are no JSON-schema keywords)."""
        return {k: v for k, v in self.schemas[name].items() if k not in ("name", "links")}

    def collection_schema(self, key: str, item: str, links: bool = True) -> dict[str, Any]:
        props: dict[str, Any] = {key: {"type": "array", "items": self.response_schema(item)},
                                 "schema": {"type": "string"}}
        if links:
            props.update(first={"type": "string"}, next={"type": "string"})
        return {"type": "object", "required": [key], "properties": props}

    @property
    def imports(self) -> Imports:
        if self._imports is None:
            raise RuntimeError("this image API has no import manager")
        return self._imports

    async def quota_limits(self, owner: str | None) -> dict[str, int] | None:
        """The owner's image limits from identity (unified limits), or None when not enforced."""
        if self.limits is None or owner is None:
            return None
        return await self.limits.for_project(owner, QUOTA_NAMES)

    def store_named(self, name: str) -> Store | None:
        """A store of ``[image] stores``, or the staging area."""
        if name == STAGING and self._imports is not None:
            return self._imports.staging
        return self.data.stores.get(name)

    def validate_image(self, data: dict[str, Any]) -> None:
        """Against the published image schema, with Glance's message."""
        from litestack.common import errors

        try:
            validate(self.schemas["image"], data)
        except errors.ValidationError as exc:
            raise errors.BadRequest(f"Provided object does not match schema 'image': "
                                    f"{exc.message.removeprefix('Invalid input for field ')}") from None

    # --- the caller -------------------------------------------------------------------------

    def caller(self, request: Request) -> Caller:
        c = ctx(request)
        return Caller(project_id=c.project_id, user_id=c.user_id,
                      is_admin=self.allowed(request, "context_is_admin"))

    # --- target loaders ---------------------------------------------------------------------

    @staticmethod
    def image_target(image: Image, member_id: str | None) -> dict[str, Any]:
        """Glance's image target: ``project_id`` and ``owner`` are the owner."""
        return policy_target(None, project_id=image.owner, owner=image.owner, visibility=image.visibility,
                             member_id=member_id, image_id=image.id)

    def image_loader(self, member_param: str | None = None) -> TargetLoader:
        """Load the image the path names if the caller can see it (else 404, before the rule, as
        Glance's database layer hides it) and check the rule against it. ``member_id`` is the
        member the path names (member routes), else the caller's project when it is a member."""
        async def load(request: Request) -> Target:
            image, member = await self.run(self.images.get, self.param(request, "image_id"), self.caller(request))
            if member_param is not None:
                member = self.param(request, member_param)
            stash(request, image)
            return Target(self.image_target(image, member))
        return load

    def authorize(self, request: Request, rule: str, image: Image) -> None:
        """A second rule an operation needs (publicize_image when a PATCH makes an image public)."""
        from litestack.common.api.policy import enforce

        enforce(self.enforcer, request, rule, Target(self.image_target(image, None)))

    def authorize_new(self, request: Request, rule: str, body: dict[str, Any]) -> None:
        """A second rule for an image being created (its body is the target)."""
        from litestack.common.api.policy import enforce

        owner = body.get("owner")
        enforce(self.enforcer, request, rule, Target(policy_target(None, project_id=owner, owner=owner,
                                                                   visibility=body.get("visibility"))))

    # --- views ------------------------------------------------------------------------------

    def view(self, image: Image) -> dict[str, Any]:
        """An image as Glance shows it: custom properties at the top level beside the core ones."""
        v: dict[str, Any] = {p.name: p.value for p in image.properties}
        v.update(name=image.name, disk_format=image.disk_format, container_format=image.container_format,
                 visibility=image.visibility, size=image.size, virtual_size=image.virtual_size,
                 status=image.status, checksum=image.checksum, protected=image.protected,
                 min_ram=image.min_ram, min_disk=image.min_disk, owner=image.owner, os_hidden=image.os_hidden,
                 os_hash_algo=image.os_hash_algo, os_hash_value=image.os_hash_value, id=image.id,
                 created_at=isotime(image.created_at), updated_at=isotime(image.updated_at),
                 tags=sorted(t.value for t in image.tags), self=f"/v2/images/{image.id}",
                 file=f"/v2/images/{image.id}/file", schema="/v2/schemas/image")
        locations = self.images.locations(image)
        if self.settings.show_multiple_locations:
            v["locations"] = [{"url": loc.url, "metadata": dict(loc.meta or {})} for loc in locations]
        if self.settings.multiple_stores and locations:
            # Sorted, as tempest's import waiter compares them (Glance lists them in location order,
            # which is the sorted one when stores are named and imported in order).
            v["stores"] = ",".join(sorted({loc.store for loc in locations}))
        return v
