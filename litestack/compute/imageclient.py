"""The compute service's calls to the image service for snapshots (REST, as Nova's ``image.glance``).

The API creates the image record (``queued``) with the user's token, so that it belongs to the
user's project and the user's image quota applies; the agent uploads the driver's disk bytes with
the service token (``nova`` is an admin), and lists and deletes backups for their rotation.
"""

from __future__ import annotations

import logging
from typing import Any

from litestack.common import errors

LOG = logging.getLogger(__name__)

#: Image properties of the instance's own image that a snapshot inherits (Nova keeps the image's
#: properties in system metadata and copies them, minus these, to snapshots).
NOT_INHERITED = {"id", "name", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size",
                 "created_at", "updated_at", "file", "schema", "self", "locations", "direct_url", "owner",
                 "visibility", "protected", "tags", "os_hidden", "stores", "disk_format", "container_format",
                 "min_ram", "min_disk", "image_type", "instance_uuid", "base_image_ref", "image_location",
                 "user_id", "backup_type", "litestack_fake_fail"}


class Images:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def create(self, token: str, name: str, inst: Any, image_type: str,
                     extra: dict[str, str]) -> dict[str, Any]:
        """A queued image for a snapshot of ``inst`` (Nova's ``_create_image``): the instance's
        image properties, ``instance_uuid``, ``image_type``, ``base_image_ref``, ``user_id``,
        min_ram/min_disk of its flavor, and the caller's ``metadata``."""
        props = {k: v for k, v in ((inst.request or {}).get("image_properties") or {}).items()
                 if k not in NOT_INHERITED and isinstance(v, str)}
        body: dict[str, Any] = {**props, **extra, "name": name, "disk_format": "raw", "container_format": "bare",
                                "image_type": image_type, "instance_uuid": inst.id,
                                "base_image_ref": inst.image_id or "", "user_id": inst.user_id,
                                "min_ram": int(inst.flavor.get("ram", 0)), "min_disk": int(inst.flavor.get("disk", 0))}
        if image_type == "backup" and "backup_type" not in body:
            body["backup_type"] = extra.get("backup_type", "")
        r = await self.client.request("POST", "image", "/v2/images", user_token=token, json=body)
        if r.status_code == 413 or (r.status_code == 403 and "quota" in r.text.lower()):
            raise errors.Forbidden(f"Quota exceeded for images: {r.text[:200]}")
        if r.status_code == 400:
            raise errors.BadRequest(f"The image service refused the snapshot: {r.text[:200]}")
        if r.status_code != 201:
            raise errors.ServiceUnavailable(f"The image service answered {r.status_code}: {r.text[:200]}")
        return dict(r.json())

    async def upload(self, image_id: str, data: bytes) -> None:
        r = await self.client.request("PUT", "image", f"/v2/images/{image_id}/file", content=data,
                                      headers={"Content-Type": "application/octet-stream"})
        if r.status_code != 204:
            raise errors.ServiceUnavailable(f"Uploading the snapshot {image_id} failed ({r.status_code}): "
                                            f"{r.text[:200]}")

    async def download(self, image_id: str) -> bytes:
        r = await self.client.request("GET", "image", f"/v2/images/{image_id}/file")
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"Downloading image {image_id} failed ({r.status_code})")
        return bytes(r.content)

    async def delete(self, image_id: str) -> None:
        r = await self.client.request("DELETE", "image", f"/v2/images/{image_id}")
        if r.status_code not in (204, 404):
            LOG.warning("deleting image %s failed (%s): %s", image_id, r.status_code, r.text[:200])

    async def status(self, image_id: str) -> str | None:
        r = await self.client.request("GET", "image", f"/v2/images/{image_id}")
        return str(r.json().get("status")) if r.status_code == 200 else None

    async def rotate(self, instance_id: str, backup_type: str, rotation: int) -> list[str]:
        """Delete the oldest backups of the instance of ``backup_type`` beyond ``rotation``; the ids
        deleted (Nova's ``_rotate_backups``)."""
        r = await self.client.request("GET", "image", "/v2/images",
                                      params={"instance_uuid": instance_id, "image_type": "backup",
                                              "sort_key": "created_at", "sort_dir": "desc", "limit": "1000"})
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"Listing the backups of {instance_id} failed ({r.status_code})")
        backups = [i for i in r.json().get("images", []) if i.get("backup_type") == backup_type
                   and i.get("instance_uuid") == instance_id]
        # newest first as the image service sorts them (its timestamps are finer than the seconds shown)
        gone = [i["id"] for i in backups[rotation:]]
        for image_id in gone:
            await self.delete(image_id)
        return gone
