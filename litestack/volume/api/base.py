"""What every block storage API handler shares: the managers, microversions, the caller, target
loaders and the views (volume, snapshot, type, attachment) as Cinder shows them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request

from litestack.common import errors
from litestack.common.api.app import ctx
from litestack.common.api.microversion import Range, Version, negotiation, requested
from litestack.common.api.policy import Target, TargetLoader, policy_target, stash
from litestack.common.api.resource import ServiceAPI
from litestack.common.notify import Notifier
from litestack.common.policy import Enforcer
from litestack.volume.manager import Caller
from litestack.volume.manager.backups import Backups
from litestack.volume.manager.flow import Flow
from litestack.volume.manager.groups import Groups
from litestack.volume.manager.messages import Messages
from litestack.volume.manager.qos import QosSpecs
from litestack.volume.manager.quotas import Quotas
from litestack.volume.manager.services import Services
from litestack.volume.manager.transfers import Transfers
from litestack.volume.manager.types import Types
from litestack.volume.manager.volumes import Volumes
from litestack.volume.models import Attachment, Snapshot, Volume, VolumeType

#: The microversions this API implements (see docs/volume.md for what each adds and what is missing).
VERSIONS = Range("volume", Version(3, 0), Version(3, 60))
V = Version


def isotime(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.%f")


#: ``OpenStack-API-Version: volume 3.x`` on ``/v3/...`` paths.
MicroversionMiddleware = negotiation(VERSIONS, "/v3/")


class VolumeAPI(ServiceAPI):
    prefix = "/v3"

    def __init__(self, enforcer: Enforcer, volumes: Volumes, types: Types, quotas: Quotas, flow: Flow,
                 notifier: Notifier | None = None, transfers: Transfers | None = None,
                 backups: Backups | None = None, qos: QosSpecs | None = None, groups: Groups | None = None) -> None:
        super().__init__(enforcer)
        self.volumes, self.types, self.quotas, self.flow = volumes, types, quotas, flow
        self.transfers = transfers if transfers is not None else Transfers(volumes.db, quotas)
        self.backups = backups if backups is not None else Backups(volumes.db, quotas)
        self.qos = qos if qos is not None else QosSpecs(volumes.db)
        self.groups = groups if groups is not None else Groups(volumes.db, quotas)
        self.notifier = notifier or Notifier("volume")
        self._services: Services | None = None

    @property
    def messages(self) -> Messages:
        return self.flow.messages

    def services_admin(self) -> Services:
        """Enable/disable, freeze/thaw, clusters and cleanup of the volume services."""
        if self._services is None:
            self._services = Services(self.volumes.db, self.flow.settings.service_down_time)
        return self._services

    # --- request parts -----------------------------------------------------------------------

    @staticmethod
    def version(request: Request) -> Version:
        return requested(request, VERSIONS)

    def caller(self, request: Request) -> Caller:
        c = ctx(request)
        return Caller(project_id=c.project_id, user_id=c.user_id, is_admin=self.allowed(request, "admin_api"))

    @staticmethod
    def token(request: Request) -> str | None:
        return ctx(request).auth_token

    def vhref(self, request: Request, path: str) -> str:
        return f"{self.base(request)}/v3/{self.param(request, 'project_id')}/{path}"

    def member_links(self, request: Request, kind: str, ident: str) -> list[dict[str, str]]:
        project = self.param(request, "project_id")
        return [{"href": f"{self.base(request)}/v3/{project}/{kind}/{ident}", "rel": "self"},
                {"href": f"{self.base(request)}/{project}/{kind}/{ident}", "rel": "bookmark"}]

    # --- target loaders ----------------------------------------------------------------------

    def own(self) -> TargetLoader:
        async def load(request: Request) -> Target:
            return Target(policy_target(None, project_id=ctx(request).project_id))
        return load

    def volume_loader(self, param: str = "volume_id",
                      pick: Callable[[Request], str | None] | None = None) -> TargetLoader:
        """Load the volume the path names (another project's is 404) and check against its project."""
        async def load(request: Request) -> Target:
            vol = await self.run(self.volumes.get, self.param(request, param), self.caller(request))
            stash(request, vol)
            return Target(policy_target(None, project_id=vol.project_id), rule=pick(request) if pick else None)
        return load

    def snapshot_loader(self) -> TargetLoader:
        async def load(request: Request) -> Target:
            snap = await self.run(self.volumes.snapshot, self.param(request, "snapshot_id"), self.caller(request))
            stash(request, snap)
            return Target(policy_target(None, project_id=snap.project_id))
        return load

    def attachment_loader(self) -> TargetLoader:
        async def load(request: Request) -> Target:
            a = await self.run(self.volumes.attachment, self.param(request, "attachment_id"),
                               self.caller(request))
            stash(request, a)
            return Target(policy_target(None, project_id=a.project_id))
        return load

    # --- views -------------------------------------------------------------------------------

    def attachment_summary(self, a: Attachment) -> dict[str, Any]:
        return {"server_id": a.instance_uuid, "attachment_id": a.id, "attached_at": isotime(a.attached_at),
                "host_name": a.attached_host, "volume_id": a.volume_id, "device": a.mountpoint, "id": a.volume_id}

    def volume_view(self, request: Request, vol: Volume, type_names: dict[str, str],
                    attachments: list[Attachment] | None = None, extended: bool = True) -> dict[str, Any]:
        """Cinder's volume; ``extended`` adds the extension attributes show and detail carry
        (tenant, migration, host for admins), which create and update answers leave out."""
        v = self.version(request)
        attached = [self.attachment_summary(a) for a in attachments or [] if a.attach_status == "attached"]
        out: dict[str, Any] = {
            "id": vol.id, "name": vol.name, "description": vol.description, "size": vol.size,
            "status": vol.status, "availability_zone": vol.availability_zone, "created_at": isotime(vol.created_at),
            "updated_at": isotime(vol.updated_at), "attachments": attached,
            "bootable": "true" if vol.bootable else "false", "encrypted": vol.encrypted,
            "links": self.member_links(request, "volumes", vol.id),
            "metadata": {**(vol.metadata_ or {}), **(vol.admin_metadata or {})},
            "multiattach": vol.multiattach, "replication_status": None, "snapshot_id": vol.snapshot_id,
            "source_volid": vol.source_volid, "user_id": vol.user_id,
            "volume_type": type_names.get(vol.volume_type_id, vol.volume_type_id), "consistencygroup_id": None,
            "migration_status": vol.migration_status}
        if extended:
            out.update({"os-vol-tenant-attr:tenant_id": vol.project_id,
                        "os-vol-mig-status-attr:migstat": vol.migration_status,
                        "os-vol-mig-status-attr:name_id": None})
            if self.allowed(request, "volume_extension:volume_host_attribute"):
                out["os-vol-host-attr:host"] = vol.host
        if extended and vol.image_metadata:  # show and detail only, as Cinder (not create answers)
            out["volume_image_metadata"] = dict(vol.image_metadata)
        if v >= V(3, 13):
            out["group_id"] = vol.group_id
        if v >= V(3, 21):
            out["provider_id"] = None
        if v >= V(3, 48):
            out["service_uuid"] = None
            out["shared_targets"] = False
        return out

    def snapshot_view(self, request: Request, snap: Snapshot, detail: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": snap.id, "name": snap.name, "description": snap.description, "volume_id": snap.volume_id,
            "size": snap.size, "status": snap.status, "created_at": isotime(snap.created_at),
            "updated_at": isotime(snap.updated_at), "metadata": dict(snap.metadata_ or {})}
        if self.version(request) >= V(3, 14):
            out["group_snapshot_id"] = snap.group_snapshot_id
        if detail:
            out["os-extended-snapshot-attributes:progress"] = snap.progress
            out["os-extended-snapshot-attributes:project_id"] = snap.project_id
        if self.version(request) >= V(3, 41):
            out["user_id"] = snap.user_id
        return out

    def type_view(self, request: Request, vt: VolumeType, kind: str = "show") -> dict[str, Any]:
        """Cinder's type: create answers carry no ``qos_specs_id``, update answers neither that
        nor the access alias; ``extra_specs`` and ``qos_specs_id`` are for admins."""
        out: dict[str, Any] = {"id": vt.id, "name": vt.name, "description": vt.description,
                               "is_public": vt.is_public}
        if kind != "update":
            out["os-volume-type-access:is_public"] = vt.is_public
        if kind == "show" and self.allowed(request, "volume_extension:access_types_qos_specs_id"):
            out["qos_specs_id"] = vt.qos_specs_id
        if self.allowed(request, "volume_extension:access_types_extra_specs"):
            out["extra_specs"] = dict(vt.extra_specs or {})
        return out

    def attachment_view(self, a: Attachment, detail: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": a.id, "status": a.attach_status, "instance": a.instance_uuid,
                               "volume_id": a.volume_id}
        if detail:
            out.update(attached_at=isotime(a.attached_at), detached_at=isotime(a.detached_at),
                       attach_mode=a.attach_mode, connection_info=a.connection_info or {})
        return out


def bad(message: str) -> errors.BadRequest:
    return errors.BadRequest(message)


def require(api: VolumeAPI, request: Request, minimum: Version) -> None:
    """Routes that appear with a microversion answer 404 below it, as Cinder's do."""
    if api.version(request) < minimum:
        raise errors.NotFound(f"The resource could not be found (it needs microversion {minimum} or later).")
