"""The compute agent's side of volumes: connect a host to block storage's volumes and hand them
to the virt driver, and undo it (Nova's ``driver_block_device`` with block storage's
attachments API).

Every mapping row (``BlockDeviceMapping``) carries its step, so that an agent restarted in the
middle finishes the flow: ``creating`` (the volume is being made: wait for it, reserve it),
``attaching`` (connect: update the attachment with this host's connector, hand the connection
info to the driver, complete the attachment), ``attached``, ``detaching`` (driver detach, delete
the attachment, remove the row). Each step is idempotent (the driver's attach of a device it
has, a second delete of an attachment, are no-ops).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestack.common.db import run_blocking
from litestack.compute.drivers.base import BlockDevice, DriverError, VirtDriver
from litestack.compute.manager.block_devices import ATTACHED, ATTACHING, CREATING, DETACHING, BlockDevices
from litestack.compute.manager.instances import Instances
from litestack.compute.volclient import BlockStorage

LOG = logging.getLogger(__name__)


class AgentVolumes:
    """The volumes of the instances of one host."""

    def __init__(self, host: str, driver: VirtDriver, bdms: BlockDevices, storage: BlockStorage,
                 instances: Instances, create_timeout: float) -> None:
        self.host, self.driver, self.bdms, self.storage = host, driver, bdms, storage
        self.instances = instances
        self.create_timeout = create_timeout

    async def _connect(self, bdm: Any) -> BlockDevice:
        """Bring one mapping to a usable connection: the volume made, reserved and connected to
        this host (its row ``attaching`` with the connection info)."""
        if bdm.status == CREATING:
            await self.storage.wait_available(bdm.volume_id, self.create_timeout)
            if not bdm.attachment_id:
                attachment = await self.storage.reserve(bdm.volume_id, bdm.instance_id)
                bdm = await run_blocking(lambda: self.bdms.save(bdm.id, attachment_id=attachment, status=ATTACHING))
        connector = await self.driver.volume_connector()
        connector["mountpoint"] = bdm.device_name
        info = await self.storage.connect(bdm.attachment_id, connector)
        bdm = await run_blocking(lambda: self.bdms.save(bdm.id, connection_info=info, status=ATTACHING))
        return BlockDevice(bdm.volume_id, bdm.device_name, info, bdm.boot_index, bdm.tag)

    # --- at build ------------------------------------------------------------------------------

    async def for_spawn(self, instance_id: str) -> list[BlockDevice]:
        """Every volume of a building instance connected to this host, for the driver's spawn."""
        return [await self._connect(b) for b in await run_blocking(self.bdms.of, instance_id)]

    async def spawned(self, instance_id: str) -> None:
        """The guest runs with its volumes: complete their attachments (volumes ``in-use``)."""
        for bdm in await run_blocking(self.bdms.of, instance_id):
            if bdm.status == ATTACHING:
                await self.storage.complete(str(bdm.attachment_id))
                await run_blocking(lambda b=bdm: self.bdms.save(b.id, status=ATTACHED))

    # --- attach and detach of a running instance -----------------------------------------------

    async def attach(self, instance_id: str, bdm_id: str, request_id: str | None) -> None:
        bdm = await run_blocking(self.bdms.by_id, bdm_id)
        if bdm is None or bdm.status != ATTACHING:
            return  # done already, or rolled back
        try:
            if not bdm.attachment_id:
                raise RuntimeError("the API did not reserve the volume")
            device = await self._connect(bdm)
            await self.driver.attach_volume(instance_id, device)
            await self.storage.complete(bdm.attachment_id)
        except Exception as exc:  # any failure: the volume is given back, the action says why
            LOG.warning("compute %s: attaching volume %s to %s failed: %s", self.host, bdm.volume_id, instance_id,
                        exc)
            await self.driver.detach_volume(instance_id, str(bdm.volume_id))
            await self.storage.unreserve(bdm.attachment_id)
            await run_blocking(self.bdms.remove, bdm.id)
            if request_id:
                await run_blocking(self.instances.finish_action, instance_id, request_id, "Error")
            return
        await run_blocking(lambda: self.bdms.save(bdm.id, status=ATTACHED))
        if request_id:
            await run_blocking(self.instances.finish_action, instance_id, request_id, None)

    async def detach(self, instance_id: str, volume_id: str, request_id: str | None) -> None:
        bdm = next((b for b in await run_blocking(self.bdms.of, instance_id) if b.volume_id == volume_id), None)
        if bdm is None:
            return
        await self.driver.detach_volume(instance_id, volume_id)
        await self.storage.unreserve(bdm.attachment_id)
        await run_blocking(self.bdms.remove, bdm.id)
        if request_id:
            await run_blocking(self.instances.finish_action, instance_id, request_id, None)

    async def extended(self, instance_id: str, volume_id: str) -> None:
        """Block storage grew an attached volume (``volume-extended``): the guest is shown its new
        size, recorded as Nova's ``extend_volume`` instance action."""
        bdm = next((b for b in await run_blocking(self.bdms.of, instance_id) if b.volume_id == volume_id), None)
        if bdm is None or bdm.status != ATTACHED:
            return
        vol = await self.storage.volume(volume_id)
        request_id = f"req-{uuid.uuid4()}"
        await run_blocking(self.instances.record_action, instance_id, "extend_volume", request_id, None, None)
        try:
            await self.driver.extend_volume(instance_id, volume_id, int(vol["size"]) * 2 ** 30)
        except DriverError as exc:
            LOG.warning("compute %s: extending volume %s of %s failed: %s", self.host, volume_id, instance_id, exc)
            await run_blocking(self.instances.finish_action, instance_id, request_id, "Error")
            return
        await run_blocking(lambda: self.bdms.save(bdm.id, volume_size=int(vol["size"])))
        await run_blocking(self.instances.finish_action, instance_id, request_id, None)

    # --- delete and recovery -----------------------------------------------------------------

    async def recover(self, instance_id: str) -> None:
        """After a restart, for a settled instance: attaches in flight finish, detaches too."""
        for bdm in await run_blocking(self.bdms.of, instance_id):
            if bdm.status == ATTACHING:
                if bdm.attachment_id:
                    LOG.warning("compute %s: finishing the attach of %s to %s", self.host, bdm.volume_id,
                                instance_id)
                    await self.attach(instance_id, bdm.id, None)
                else:  # the API stopped before block storage reserved it
                    await run_blocking(self.bdms.remove, bdm.id)
            elif bdm.status == DETACHING:
                LOG.warning("compute %s: finishing the detach of %s from %s", self.host, bdm.volume_id, instance_id)
                await self.detach(instance_id, str(bdm.volume_id), None)


def attached_devices(inst: Any) -> list[BlockDevice]:
    """The volumes an instance has connected (from its mapping rows), for a driver that builds the
    guest again (rebuild): same connections, no new attachment."""
    return [BlockDevice(str(b.volume_id), b.device_name, b.connection_info, b.boot_index, b.tag)
            for b in getattr(inst, "block_devices", None) or [] if b.connection_info and b.status == ATTACHED]


async def release_volumes(bdms: BlockDevices, storage: BlockStorage, instance_id: str) -> None:
    """A deleted server's volumes: attachments deleted (volumes ``available`` again), those with
    ``delete_on_termination`` deleted, rows removed. Used by the agent's delete and by the API's
    local delete (no host, or its host down)."""
    for bdm in await run_blocking(bdms.of, instance_id):
        try:
            await storage.unreserve(bdm.attachment_id)
            if bdm.delete_on_termination and bdm.volume_id:
                await storage.delete_volume(bdm.volume_id)
        except Exception as exc:  # as Nova: the server goes anyway; block storage keeps the volume
            LOG.warning("volume %s of deleted server %s not released: %s: %s", bdm.volume_id, instance_id,
                        type(exc).__name__, exc)
        await run_blocking(bdms.remove, bdm.id)
