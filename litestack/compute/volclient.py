"""The compute service's calls to the block storage service (REST, as Nova's ``volume.cinder``).

The API checks what a user names (volumes, snapshots) and creates the volumes a boot asks for
with the user's own token, so that the user's visibility and the user's block-storage quota
apply; it reserves an existing volume for the server with a block-storage attachment (3.27+).
The compute agent then drives the attachment with the service token: update with its host's
connector (the connection info comes back), complete (3.44, the volume ``in-use``), and delete on
detach or server delete; volumes marked ``delete_on_termination`` are deleted with the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from litestack.common import errors
from litestack.compute.manager.quotas import OverQuota
from litestack.compute.netclient import segment

LOG = logging.getLogger(__name__)

#: Attachments with ``os-complete`` (3.44); extend of in-use volumes is 3.42.
HEADERS = {"OpenStack-API-Version": "volume 3.44"}


class NoBlockStorage(errors.BadRequest):
    """The cloud has no block storage service in its catalog (400: nothing the request names can be
    a volume here)."""


class VolumeError(errors.BadRequest):
    """Block storage refused what the request names (400, as Nova says ``Invalid volume: …``)."""


def _message(r: Any) -> str:
    try:
        body = r.json()
        return str(next(iter(body.values()))["message"])
    except Exception:  # not Cinder's error body
        return r.text[:200]


class BlockStorage:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def _call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        return await self.request(method, path, token, headers=HEADERS, **kw)

    async def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        """``method`` on ``path`` of the block storage API (the user's token when given)."""
        try:
            await self.client.endpoint("block-storage")
        except errors.ServiceUnavailable:
            raise NoBlockStorage("There is no block storage service in this cloud.") from None
        return await self.client.request(method, "block-storage", path, user_token=token, **kw)

    # --- the API: with the user's token -----------------------------------------------------

    async def volume(self, volume_id: str, token: str | None = None) -> dict[str, Any]:
        """The volume as the caller sees it; ``VolumeNotFound`` (404) when it does not."""
        r = await self._call("GET", f"/volumes/{segment(volume_id)}", token)
        if r.status_code == 404:
            raise errors.NotFound(f"Volume {volume_id} could not be found.")
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"The block storage service answered {r.status_code}.")
        vol: dict[str, Any] = r.json()["volume"]
        return vol

    async def snapshot(self, snapshot_id: str, token: str) -> dict[str, Any]:
        r = await self._call("GET", f"/snapshots/{segment(snapshot_id)}", token)
        if r.status_code == 404:
            raise errors.NotFound(f"Snapshot {snapshot_id} could not be found.")
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"The block storage service answered {r.status_code}.")
        snap: dict[str, Any] = r.json()["snapshot"]
        return snap

    async def create_volume(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """A new volume (``creating``) in the user's project, under the user's quota."""
        r = await self._call("POST", "/volumes", token, json={"volume": body})
        if r.status_code == 413:
            raise OverQuota(f"Volume quota exceeded: {_message(r)}")
        if r.status_code not in (200, 202):
            raise VolumeError(f"Block Device Mapping is Invalid: the volume could not be created: {_message(r)}")
        vol: dict[str, Any] = r.json()["volume"]
        return vol

    async def create_snapshot(self, volume_id: str, token: str, name: str) -> dict[str, Any]:
        """A snapshot of a volume (``force``: it may be in use), as the user."""
        r = await self._call("POST", "/snapshots", token, json={"snapshot": {
            "volume_id": volume_id, "force": True, "name": name}})
        if r.status_code == 413:
            raise OverQuota(f"Snapshot quota exceeded: {_message(r)}")
        if r.status_code not in (200, 202):
            raise VolumeError(f"Volume {volume_id} could not be snapshotted: {_message(r)}")
        snap: dict[str, Any] = r.json()["snapshot"]
        return snap

    async def wait_snapshot(self, snapshot_id: str, token: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            snap = await self.snapshot(snapshot_id, token)
            if snap["status"] == "available":
                return snap
            if snap["status"].startswith("error") or time.monotonic() > deadline:
                raise VolumeError(f"Snapshot {snapshot_id} did not become available (status {snap['status']})")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def reserve(self, volume_id: str, instance_id: str, token: str | None = None) -> str:
        """A block-storage attachment of the volume for the instance, without a connector (the
        volume ``reserved``); its id. 400 when the volume cannot be attached (in use, not
        available), 404 when the caller cannot see it."""
        r = await self._call("POST", "/attachments", token, json={"attachment": {
            "volume_uuid": volume_id, "instance_uuid": instance_id}})
        if r.status_code == 404:
            raise errors.NotFound(f"Volume {volume_id} could not be found.")
        if r.status_code not in (200, 202):
            raise VolumeError(_message(r))
        return str(r.json()["attachment"]["id"])

    # --- the agent: with the service token ----------------------------------------------------

    async def connect(self, attachment_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        """Update the attachment with this host's connector; the connection info."""
        r = await self._call("PUT", f"/attachments/{attachment_id}", json={"attachment": {"connector": connector}})
        if r.status_code != 200:
            raise VolumeError(f"Attachment {attachment_id} could not be connected: {_message(r)}")
        info: dict[str, Any] = r.json()["attachment"]["connection_info"]
        return info

    async def complete(self, attachment_id: str) -> None:
        r = await self._call("POST", f"/attachments/{attachment_id}/action", json={"os-complete": {}})
        if r.status_code not in (200, 202, 204):
            raise VolumeError(f"Attachment {attachment_id} could not be completed: {_message(r)}")

    async def unreserve(self, attachment_id: str | None) -> None:
        """Delete the attachment (idempotent): the volume is ``available`` once none is left."""
        if not attachment_id:
            return
        r = await self._call("DELETE", f"/attachments/{attachment_id}")
        if r.status_code not in (200, 202, 204, 404):
            raise errors.ServiceUnavailable(f"Deleting attachment {attachment_id} failed ({r.status_code}).")

    async def delete_volume(self, volume_id: str) -> None:
        """Delete the volume (idempotent); one still detaching is waited for a little."""
        for _ in range(50):
            r = await self._call("DELETE", f"/volumes/{volume_id}")
            if r.status_code in (202, 204, 404):
                return
            if r.status_code != 400:
                break
            await asyncio.sleep(0.2)
        LOG.warning("volume %s was not deleted: %s %s", volume_id, r.status_code, _message(r))

    async def wait_available(self, volume_id: str, timeout: float) -> dict[str, Any]:
        """Poll the volume until it is ``available`` (a volume the API created for a boot);
        ``VolumeError`` when it fails or the deadline passes."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            vol = await self.volume(volume_id)
            if vol["status"] in ("available", "reserved"):
                return vol
            if vol["status"].startswith("error"):
                raise VolumeError(f"Volume {volume_id} did not finish being created: status {vol['status']}")
            if time.monotonic() > deadline:
                raise VolumeError(f"Volume {volume_id} did not finish being created within {timeout:g} s "
                                  f"(status {vol['status']})")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
