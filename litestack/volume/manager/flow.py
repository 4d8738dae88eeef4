"""The operations that reach a volume agent: the API's side of the create path and of every
data operation (delete, extend, snapshot, revert, upload, connect), plus the manager endpoint
that records what agents report.

::

    API ──(db: quota + scheduler choose a backend, volume 'creating')──> AgentAPI.create_volume (cast)
        volume agent HOST@BACKEND: driver in a thread ──> ManagerAPI.volume_done (cast)
    manager endpoint (every API process): status 'available' / 'error' in the database
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from litestack.common import errors, log
from litestack.common.client import ServiceClient
from litestack.common.db import run_blocking
from litestack.common.notify import Notifier
from litestack.common.rpc import RPCError
from litestack.volume.manager import Caller
from litestack.volume.manager.backups import Backups
from litestack.volume.manager.groups import Groups
from litestack.volume.manager.messages import BACKUP, SNAPSHOT, VOLUME, Messages
from litestack.volume.manager.quotas import Quotas
from litestack.volume.manager.types import Types
from litestack.volume.manager.volumes import Volumes
from litestack.volume.models import Snapshot, Volume, VolumeType
from litestack.volume.rpc import AgentAPI, ManagerAPI

LOG = logging.getLogger(__name__)

#: Image properties Cinder does not copy into volume_image_metadata.
IMAGE_CORE = ("id", "name", "checksum", "container_format", "disk_format", "min_disk", "min_ram", "size")
IMAGE_SKIP = {"status", "visibility", "protected", "owner", "created_at", "updated_at", "tags", "file", "self",
              "schema", "virtual_size", "locations", "direct_url", "os_hidden", "os_hash_algo", "os_hash_value",
              "stores"}


@dataclass
class Settings:
    availability_zone: str = "nova"
    service_down_time: int = 60
    operation_timeout: int = 600
    scheduler_host: str = "localhost"
    backup_container: str = "volumebackups"
    message_ttl: int = 2592000


def server_of(vol: Volume | Snapshot) -> str:
    """The agent server of a volume's backend: ``host@backend`` of ``host@backend#pool``."""
    if not vol.host:
        raise errors.BadRequest(f"Invalid volume: {vol.id} has no backend (it was never scheduled).")
    return vol.host.partition("#")[0]


class Flow:
    def __init__(self, volumes: Volumes, types: Types, quotas: Quotas, settings: Settings, notifier: Notifier,
                 client: ServiceClient | None) -> None:
        self.volumes, self.types, self.quotas, self.settings = volumes, types, quotas, settings
        self.notifier, self.client = notifier, client
        self.messages = Messages(volumes.db, settings.message_ttl)
        self._agents: AgentAPI | None = None
        self._managers: ManagerAPI | None = None

    def bind(self, agents: AgentAPI, managers: ManagerAPI | None = None) -> None:
        self._agents = agents
        self._managers = managers

    @property
    def managers(self) -> ManagerAPI:
        """Every API process (fanout), for what each of them must apply (log levels)."""
        if self._managers is None:
            raise errors.ServiceUnavailable("The volume service is not connected to its message bus yet.")
        return self._managers

    @property
    def agents(self) -> AgentAPI:
        if self._agents is None:
            raise errors.ServiceUnavailable("The volume service is not connected to its message bus yet.")
        return self._agents

    async def _cast(self, coro: Any, on_fail: Any = None) -> None:
        """Send to an agent; a bus that refuses the message leaves the resource to the reaper's
        timeout, unless ``on_fail`` puts it back at once."""
        try:
            await coro
        except RPCError as exc:
            LOG.warning("volume agent unreachable: %s", exc)
            if on_fail is not None:
                await on_fail()

    # --- create --------------------------------------------------------------------------------

    async def image_source(self, image_id: str, user_token: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The image (as the user sees it) and the agent's download instructions."""
        if self.client is None or user_token is None:
            raise errors.BadRequest("Creating a volume from an image needs the image service.")
        r = await self.client.request("GET", "image", f"/v2/images/{image_id}", user_token=user_token)
        if r.status_code == 404:
            raise errors.BadRequest(f"Invalid image identifier or unable to access requested image {image_id}.")
        if r.status_code != 200:
            raise errors.BadRequest(f"Image {image_id} could not be read from the image service (HTTP "
                                    f"{r.status_code}).")
        image: dict[str, Any] = r.json()
        if image.get("status") != "active":
            raise errors.BadRequest(f"Image {image_id} is not active.")
        url = await self.client.endpoint("image") + f"/v2/images/{image_id}/file"
        headers = {"X-Auth-Token": user_token, "X-Service-Token": await self.client.session.token()}
        source = {"kind": "image", "image_id": image_id, "url": url, "headers": headers,
                  "disk_format": image.get("disk_format") or "raw"}
        return image, source

    @staticmethod
    def image_metadata(image: dict[str, Any]) -> dict[str, str]:
        meta = {("image_id" if k == "id" else "image_name" if k == "name" else k): image.get(k)
                for k in IMAGE_CORE}
        meta.update({k: v for k, v in image.items() if k not in IMAGE_CORE and k not in IMAGE_SKIP})
        return {k: "" if v is None else str(v) for k, v in meta.items()}

    async def create_volume(self, caller: Caller, fields: dict[str, Any], vtype: VolumeType,
                            source: dict[str, Any]) -> Volume:
        """Record, schedule and cast: the volume comes back ``creating`` (or ``error`` when no
        backend fits) and the agent's report finishes it."""
        names = await run_blocking(self.types.names)
        # data stays on its backend, as Cinder's scheduler keeps it; a group's volumes go to the group's
        backend = source.get("host")
        vol = await run_blocking(self.volumes.create, caller, fields, vtype, names,
                                 self.settings.service_down_time, backend)
        self.notifier.emit("volume.create.start", {"volume_id": vol.id, "size": vol.size})
        if vol.status == "error":
            LOG.warning("volume %s: %s (size %d GiB, type %s)", vol.id, vol.error, vol.size, vtype.name)
            await run_blocking(self.messages.create, vol.project_id, VOLUME, vol.id, "SCHEDULE_ALLOCATE_VOLUME",
                               "NO_BACKEND_AVAILABLE")
        if vol.status == "creating":
            agent_source = {k: v for k, v in source.items() if k != "host"}

            async def failed() -> None:
                await run_blocking(self.volumes.finish, vol.id, "error", {"error": "The volume agent is unreachable."})
            await self._cast(self.agents.create_volume(server_of(vol), vol.id, vol.size, agent_source), failed)
        return vol

    # --- other volume operations -------------------------------------------------------------

    async def delete_volume(self, vol: Volume) -> None:
        snaps = [s.id for s in await run_blocking(self.volumes.snapshots_of, vol.id)]
        if not vol.host:
            await run_blocking(self.volumes.finish, vol.id, "deleted", {})
            self.notifier.emit("volume.delete.end", {"volume_id": vol.id})
            return
        await self._cast(self.agents.delete_volume(server_of(vol), vol.id, snaps))

    async def extend(self, vol: Volume, size: int, back_to: str) -> None:
        await self._cast(self.agents.extend_volume(server_of(vol), vol.id, size, back_to))

    async def revert(self, vol: Volume, snapshot: Snapshot) -> None:
        await self._cast(self.agents.revert_to_snapshot(server_of(vol), vol.id, snapshot.id, vol.size))

    async def create_snapshot(self, snap: Snapshot, vol: Volume) -> None:
        await self._cast(self.agents.create_snapshot(server_of(vol), vol.id, snap.id))

    async def delete_snapshot(self, snap: Snapshot) -> None:
        await self._cast(self.agents.delete_snapshot(server_of(snap), snap.id))

    async def backup_target(self, project_id: str, container: str | None, user_token: str | None
                            ) -> dict[str, Any] | None:
        """Where a backup goes when object storage is in the catalog: the container's URL in the
        backup project's account and the headers that act for the user (their token and the
        service token), for the agent to use. None: the agent's directory store."""
        if self.client is None or user_token is None:
            return None
        try:
            endpoint = await self.client.endpoint("object-store")
        except errors.ServiceUnavailable:
            return None
        base = endpoint.rsplit("/", 1)[0] if "/AUTH_" in endpoint else endpoint
        url = f"{base}/AUTH_{project_id}/{quote(container or self.settings.backup_container, safe='')}"
        return {"url": url, "container": container or self.settings.backup_container,
                "headers": {"X-Auth-Token": user_token, "X-Service-Token": await self.client.session.token()}}

    async def create_backup(self, backup_id: str, vol: Volume, parent_id: str | None, back_to: str,
                            target: dict[str, Any] | None = None, snapshot_id: str | None = None) -> None:
        await self._cast(self.agents.create_backup(server_of(vol), backup_id, vol.id, parent_id, back_to, target,
                                                   snapshot_id))

    async def restore_backup(self, backup_id: str, vol: Volume, size: int, target: dict[str, Any] | None = None
                             ) -> None:
        await self._cast(self.agents.restore_backup(server_of(vol), backup_id, vol.id, size, target))

    async def delete_backup(self, backup_id: str, host: str, target: dict[str, Any] | None = None) -> None:
        await self._cast(self.agents.delete_backup(host.partition("#")[0], backup_id, target))

    async def remove_export(self, vol: Volume) -> None:
        """After the last attachment of a volume went: its NBD export (if any) stops."""
        if vol.host:
            await self._cast(self.agents.remove_export(server_of(vol), vol.id))

    async def connection_info(self, vol: Volume, connector: dict[str, Any] | None) -> dict[str, Any]:
        try:
            info = await self.agents.connection_info(server_of(vol), vol.id, connector)
        except errors.LitestackError as exc:
            await self._attach_failed(vol)
            raise errors.BadRequest(f"Unable to get connection info for volume {vol.id}: {exc.message}") from None
        except RPCError as exc:
            await self._attach_failed(vol)
            raise errors.ServiceUnavailable(f"The volume agent of {vol.host} did not answer: {exc}") from None
        info.setdefault("data", {})["access_mode"] = "ro" if vol.readonly else "rw"
        return info

    async def _attach_failed(self, vol: Volume) -> None:
        """Cinder's message when the backend could not give a connection (update attachment)."""
        try:
            await run_blocking(self.messages.create, vol.project_id, VOLUME, vol.id, "UPDATE_ATTACHMENT",
                               "ATTACH_ERROR")
        except Exception as exc:  # the answer to the caller matters more than the message
            LOG.warning("user message for volume %s not recorded: %s", vol.id, exc)

    async def upload_to_image(self, vol: Volume, back_to: str, body: dict[str, Any], user_token: str | None
                              ) -> dict[str, Any]:
        """Create the image (as the user) and have the agent upload the volume's data into it."""
        if self.client is None or user_token is None:
            raise errors.BadRequest("Uploading a volume to an image needs the image service.")
        disk_format = body.get("disk_format", "raw")
        image_body: dict[str, Any] = {"name": body["image_name"], "disk_format": disk_format,
                                      "container_format": body.get("container_format", "bare")}
        if "visibility" in body:
            image_body["visibility"] = body["visibility"]
        if "protected" in body:
            image_body["protected"] = body["protected"]
        for key, value in (vol.image_metadata or {}).items():
            if key not in ("image_id", "image_name", "checksum", "size", "container_format", "disk_format",
                           "min_disk", "min_ram") and not key.startswith("os_glance"):
                image_body.setdefault(key, value)
        r = await self.client.request("POST", "image", "/v2/images", json=image_body, user_token=user_token)
        if r.status_code != 201:
            await run_blocking(self.volumes.finish, vol.id, back_to, {})
            message = r.text[:300]
            raise errors.BadRequest(f"The image service refused the image: {message}")
        image = r.json()
        url = await self.client.endpoint("image") + f"/v2/images/{image['id']}/file"
        headers = {"X-Auth-Token": user_token, "X-Service-Token": await self.client.session.token()}
        upload = {"url": url, "headers": headers, "disk_format": disk_format, "image_id": image["id"]}
        await self._cast(self.agents.upload_to_image(server_of(vol), vol.id, back_to, upload))
        return image


class ManagerEndpoint:
    """What volume agents report (topic ``volume``), written to the database."""

    rpc_methods = ("report", "volume_done", "snapshot_done", "backup_done", "set_log_levels")
    rpc_version = "1.0"

    def __init__(self, volumes: Volumes, notifier: Notifier, backups: Backups, groups: Groups | None = None,
                 messages: Messages | None = None, client: ServiceClient | None = None) -> None:
        self.volumes, self.notifier, self.backups, self.groups = volumes, notifier, backups, groups
        self.messages = messages or Messages(volumes.db)
        #: To tell compute of an in-use volume that grew (Nova's ``volume-extended`` event).
        self.client = client

    async def _message(self, project_id: str | None, resource: str, ident: str, action: str, detail: str) -> None:
        try:
            await run_blocking(self.messages.create, project_id, resource, ident, action, detail)
        except Exception as exc:  # a message is no reason to lose the outcome
            LOG.warning("user message for %s %s not recorded: %s", resource, ident, exc)

    async def backup_done(self, backup_id: str, status: str, updates: dict[str, Any]) -> None:
        if status in ("error", "error_deleting"):
            before = await run_blocking(self.backups.find, backup_id)
            if before is not None:
                action, detail = (("BACKUP_CREATE", "BACKUP_CREATE_DRIVER_ERROR") if status == "error"
                                  else ("BACKUP_DELETE", "BACKUP_DELETE_DRIVER_ERROR"))
                await self._message(before.project_id, BACKUP, backup_id, action, detail)
        b = await run_blocking(self.backups.finish, backup_id, status, updates)
        if updates.get("error"):
            LOG.warning("backup %s: %s: %s", backup_id, status, updates["error"])
        if b is not None:
            event = "delete" if status == "deleted" else "create"
            self.notifier.emit(f"backup.{event}.end", {"backup_id": backup_id, "status": status})

    async def report(self, host: str, backend: str, availability_zone: str, total_capacity_gb: int,
                     cluster: str | None = None, backend_state: str | None = None, started_at: str | None = None
                     ) -> None:
        started = datetime.fromisoformat(started_at) if started_at else None
        await run_blocking(self.volumes.report, host, backend, availability_zone, total_capacity_gb, cluster,
                           backend_state, started)

    async def set_log_levels(self, prefix: str, level: str) -> None:
        log.set_levels(prefix, level)

    async def volume_done(self, volume_id: str, status: str, updates: dict[str, Any]) -> None:
        if updates.get("error"):
            before = await run_blocking(self.volumes.find, volume_id)
            failure = None if before is None else failure_event(before, status, updates)
            if before is not None and failure is not None:
                await self._message(before.project_id, VOLUME, volume_id, *failure)
        vol = await run_blocking(self.volumes.finish, volume_id, status, updates)
        if updates.get("error"):
            LOG.warning("volume %s: %s: %s", volume_id, status, updates["error"])
        if vol is not None:
            event = "delete" if status == "deleted" else "update"
            self.notifier.emit(f"volume.{event}.end", {"volume_id": volume_id, "status": status})
            if vol.group_id and self.groups is not None:
                outcome = await run_blocking(self.groups.settle_group, vol.group_id)
                if outcome is not None:
                    self.notifier.emit(f"group.{'delete' if 'delet' in outcome else 'create'}.end",
                                       {"group_id": vol.group_id, "status": outcome})
        if vol is not None and status == "in-use" and "size" in updates and self.client is not None:
            await self._extended(volume_id)

    async def _extended(self, volume_id: str) -> None:
        """An in-use volume grew: each server it is attached to hears of it (``volume-extended``,
        compute 2.51), so that its hypervisor shows the guest the new size."""
        from litestack.common.client import send_server_events

        assert self.client is not None
        attached = (await run_blocking(self.volumes.attachments, [volume_id]))[volume_id]
        servers = sorted({a.instance_uuid for a in attached if a.instance_uuid and a.attach_status == "attached"})
        if servers:
            await send_server_events(self.client, [{"name": "volume-extended", "server_uuid": s, "tag": volume_id}
                                                   for s in servers], "2.51", log=LOG)

    async def snapshot_done(self, snapshot_id: str, status: str, updates: dict[str, Any]) -> None:
        if status in ("error", "error_deleting"):
            before = await run_blocking(self.volumes.find_snapshot, snapshot_id)
            if before is not None:
                action, detail = (("SNAPSHOT_CREATE", "SNAPSHOT_CREATE_ERROR") if status == "error"
                                  else ("SNAPSHOT_DELETE", "SNAPSHOT_DELETE_ERROR"))
                await self._message(before.project_id, SNAPSHOT, snapshot_id, action, detail)
        snap = await run_blocking(self.volumes.snapshot_finish, snapshot_id, status, updates)
        if snap is not None:
            event = "delete" if status == "deleted" else "create"
            self.notifier.emit(f"snapshot.{event}.end", {"snapshot_id": snapshot_id, "status": status})
            if snap.group_snapshot_id and self.groups is not None:
                outcome = await run_blocking(self.groups.settle_snapshot, snap.group_snapshot_id)
                if outcome is not None:
                    self.notifier.emit(f"group_snapshot.{'delete' if 'delet' in outcome else 'create'}.end",
                                       {"group_snapshot_id": snap.group_snapshot_id, "status": outcome})


def failure_event(before: Volume, status: str, updates: dict[str, Any]) -> tuple[str, str] | None:
    """Cinder's action and detail of an agent's failure report on a volume (None: not a failure a
    user message is left for), from the status it leaves and the one it ends in."""
    kind = updates.get("exception")
    if before.status in ("creating", "downloading") and status == "error":
        if before.image_id:
            return "COPY_IMAGE_TO_VOLUME", "NOT_ENOUGH_SPACE_FOR_IMAGE" if kind == "ImageTooLarge" else "UNKNOWN_ERROR"
        return "CREATE_VOLUME_FROM_BACKEND", "DRIVER_FAILED_CREATE"
    if status == "error_extending":
        return "EXTEND_VOLUME", "DRIVER_FAILED_EXTEND"
    if before.status == "uploading":
        return "COPY_VOLUME_TO_IMAGE", "FAILED_TO_UPLOAD_VOLUME"
    if status == "error_restoring":
        return "BACKUP_RESTORE", "BACKUP_RESTORE_ERROR"
    return None
