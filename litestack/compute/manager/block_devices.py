"""Block device mappings in the database: the volumes of each instance, their device names and
where each one is in the attach and detach flows (``BlockDeviceMapping.status``)."""

from __future__ import annotations

import re
import string
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from litestack.common import errors
from litestack.compute.manager.flavors import now
from litestack.compute.models import BlockDeviceMapping, Instance

#: A device name Nova accepts: ``/dev/`` (optional) then ``[hsv]d`` or ``xvd`` and letters.
DEVICE = re.compile(r"^(/dev/)?(?P<prefix>(?:[hsv]|xv)d)(?P<letters>[a-z]+)$")
#: The root disk of a server booted from an image.
ROOT = "/dev/vda"

CREATING, ATTACHING, ATTACHED, DETACHING = "creating", "attaching", "attached", "detaching"


class VolumeNotAttached(errors.NotFound):
    """The volume is not attached to the instance (Nova's ``VolumeBDMNotFound``, 404)."""


class DeviceInUse(errors.BadRequest):
    """The requested device name is taken on the instance (Nova's ``DevicePathInUse``, 400)."""


def _letters(n: int) -> str:
    """0 → a, 25 → z, 26 → aa (the disk naming of Linux)."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = string.ascii_lowercase[r] + out
    return out


def check_device(name: str | None) -> str | None:
    """``name`` as a full device path, or None when not given; 400 when it is not one."""
    if name is None or name == "":
        return None
    m = DEVICE.match(name)
    if m is None:
        raise errors.BadRequest(f"The supplied device path ({name}) is invalid.")
    return f"/dev/{m['prefix']}{m['letters']}"


def next_device(taken: Iterable[str], wanted: str | None = None) -> str:
    """``wanted`` when free, else the first free ``/dev/vdX`` (``/dev/vda`` is the root disk)."""
    used = set(taken)
    if wanted is not None:
        if wanted in used:
            raise DeviceInUse(f"The supplied device path ({wanted}) is in use.")
        return wanted
    n = 0
    while f"/dev/vd{_letters(n)}" in used:
        n += 1
    return f"/dev/vd{_letters(n)}"


def volumes_attached(inst: Any, with_delete_flag: bool) -> list[dict[str, Any]]:
    """A server view's ``os-extended-volumes:volumes_attached`` (``delete_on_termination`` from 2.3)."""
    return [{"id": b.volume_id, **({"delete_on_termination": b.delete_on_termination} if with_delete_flag else {})}
            for b in getattr(inst, "block_devices", None) or [] if b.volume_id]


class BlockDevices:
    def __init__(self, db: Any) -> None:
        self.db = db

    def of(self, instance_id: str) -> list[BlockDeviceMapping]:
        with self.db.reader() as s:
            return list(s.scalars(select(BlockDeviceMapping).where(BlockDeviceMapping.instance_id == instance_id)
                                  .order_by(BlockDeviceMapping.device_name)))

    def get(self, instance_id: str, volume_id: str) -> BlockDeviceMapping:
        with self.db.reader() as s:
            bdm = s.scalar(select(BlockDeviceMapping).where(BlockDeviceMapping.instance_id == instance_id,
                                                            BlockDeviceMapping.volume_id == volume_id))
        if bdm is None:
            raise VolumeNotAttached(f"Volume {volume_id} is not attached to the instance {instance_id}")
        return bdm

    def by_id(self, bdm_id: str) -> BlockDeviceMapping | None:
        with self.db.reader() as s:
            return s.get(BlockDeviceMapping, bdm_id)

    def add(self, instance_id: str, fields: dict[str, Any], wanted_device: str | None = None) -> BlockDeviceMapping:
        """A new mapping of the instance, with a free device name (the root one, ``/dev/vda``,
        is taken by an image-backed server's local disk)."""
        with self.db.writer() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.deleted:
                raise errors.NotFound(f"Instance {instance_id} could not be found.")
            rows = list(s.scalars(select(BlockDeviceMapping).where(BlockDeviceMapping.instance_id == instance_id)))
            if fields.get("volume_id") and any(r.volume_id == fields["volume_id"] for r in rows):
                raise errors.BadRequest(f"Invalid volume: volume {fields['volume_id']} is already attached to "
                                        f"instance {instance_id}")
            taken = [r.device_name for r in rows]
            if inst.image_id:
                taken.append(ROOT)
            stamp = now()
            bdm = BlockDeviceMapping(id=str(uuid.uuid4()), instance_id=instance_id,
                                     device_name=next_device(taken, wanted_device), created_at=stamp,
                                     updated_at=stamp, **{"destination_type": "volume",
                                                          "delete_on_termination": False, **fields})
            s.add(bdm)
            s.flush()
            s.refresh(bdm)
            return bdm

    def save(self, bdm_id: str, **fields: Any) -> BlockDeviceMapping | None:
        with self.db.writer() as s:
            bdm = s.get(BlockDeviceMapping, bdm_id)
            if bdm is None:
                return None
            for k, v in fields.items():
                setattr(bdm, k, v)
            bdm.updated_at = now()
            return bdm

    def start_detach(self, instance_id: str, volume_id: str) -> BlockDeviceMapping:
        """Compare-and-set ``attached`` → ``detaching`` (a second detach loses with 400, as Nova's
        ``Invalid volume: volume is already detaching``)."""
        with self.db.writer() as s:
            bdm = s.scalar(select(BlockDeviceMapping).where(BlockDeviceMapping.instance_id == instance_id,
                                                            BlockDeviceMapping.volume_id == volume_id))
            if bdm is None:
                raise VolumeNotAttached(f"Volume {volume_id} is not attached to the instance {instance_id}")
            if bdm.status != ATTACHED:
                raise errors.BadRequest(f"Invalid volume: Unable to detach the volume {volume_id}: it is "
                                        f"{bdm.status}")
            if bdm.boot_index == 0:
                raise errors.BadRequest(f"Invalid volume: Can't detach root device volume {volume_id}")
            bdm.status, bdm.updated_at = DETACHING, now()
            return bdm

    def remove(self, bdm_id: str) -> None:
        with self.db.writer() as s:
            bdm = s.get(BlockDeviceMapping, bdm_id)
            if bdm is not None:
                s.delete(bdm)
