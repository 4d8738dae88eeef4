"""The volume part of a server create: ``block_device_mapping_v2`` with volumes (boot from
volume, data volumes at boot).

The API checks every mapping with the user's token before anything is made (images, volumes and
snapshots must be visible to the user; 400 otherwise, as Nova), then, once the instance rows
exist, asks block storage as the user: an existing volume is reserved for its instance (an
attachment without a connector, the volume ``reserved``), other volumes are created from the
image, the snapshot or empty (their host's agent waits until they are ``available``). The agent
connects them all before the spawn (task state ``block_device_mapping``) and completes the
attachments once the server runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from litestack.common import errors
from litestack.common.api.middleware import context_of
from litestack.compute.api.base import ComputeAPI
from litestack.compute.manager.block_devices import ATTACHING, CREATING, check_device

TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}

#: One item of ``block_device_mapping_v2`` (Nova's ``block_device_mapping_new_item``).
BDM_ITEM = {"type": "object", "additionalProperties": False, "properties": {
    "source_type": {"enum": ["image", "volume", "snapshot", "blank"]},
    "destination_type": {"enum": ["local", "volume"]},
    "uuid": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9._-]*$"},
    "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"},
    "volume_size": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
    "delete_on_termination": {"type": ["boolean", "string"]},
    "device_name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9._/-]*$"},
    "device_type": {"type": "string", "maxLength": 255}, "disk_bus": {"type": "string", "maxLength": 255},
    "guest_format": {"type": "string", "maxLength": 255}, "no_device": {"type": ["boolean", "null"]},
    "tag": TAG, "volume_type": {"type": ["string", "null"], "maxLength": 255}}}


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes", "on")


# --- boot from volume ------------------------------------------------------------------------------


@dataclass
class Boot:
    """What a server create's block device mappings ask for, checked with the user's token."""

    #: The image of the root disk ("" for a volume-backed server).
    image_id: str
    #: The properties the scheduler and driver see (the image's, or the boot volume's image metadata).
    image_properties: dict[str, str] | None = None
    #: Volume mappings: the fields of their rows plus ``create`` (the volume to create) when needed.
    volumes: list[dict[str, Any]] = field(default_factory=list)
    #: The image of ``imageRef`` (or of the root image mapping) as the user sees it; None: none.
    image: dict[str, Any] | None = None

    @property
    def volume_backed(self) -> bool:
        return any(v.get("boot_index") == 0 for v in self.volumes)


def image_mappings(image: dict[str, Any]) -> list[dict[str, Any]]:
    """The block device mappings an image carries (``bdm_v2`` and ``block_device_mapping``, as
    ``volume_backed_image_properties`` writes them for a snapshot of a volume-backed server), as
    ``block_device_mapping_v2`` items."""
    raw = image.get("block_device_mapping")
    if not raw or str(image.get("bdm_v2", "")).lower() != "true":
        return []
    try:
        found = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    items = []
    for m in found if isinstance(found, list) else []:
        if not isinstance(m, dict) or m.get("no_device"):
            continue
        uuid = m.get("snapshot_id") or m.get("volume_id") or m.get("image_id") or m.get("uuid")
        item = {k: m[k] for k in ("source_type", "destination_type", "boot_index", "volume_size", "device_name",
                                  "delete_on_termination", "volume_type", "tag") if m.get(k) is not None}
        items.append({**item, "uuid": uuid})
    return items


def volume_backed_image_properties(snapshots: list[tuple[Any, dict[str, Any]]]) -> dict[str, str]:
    """The image properties of a snapshot (``createImage``) of a volume-backed server, as Nova's
    ``snapshot_volume_backed`` writes them: ``bdm_v2``, ``root_device_name`` and the mappings of the
    volume snapshots (``block_device_mapping``, JSON), from (mapping row, snapshot) pairs. A boot
    from that image makes the volumes again from the snapshots (``image_mappings``)."""
    mappings = [{"source_type": "snapshot", "destination_type": "volume", "snapshot_id": snap["id"],
                 "volume_size": snap.get("size") or bdm.volume_size, "device_name": bdm.device_name,
                 "boot_index": bdm.boot_index, "delete_on_termination": bool(bdm.delete_on_termination),
                 "tag": bdm.tag, "volume_type": bdm.volume_type, "no_device": None}
                for bdm, snap in snapshots]
    root = next((m["device_name"] for m in mappings if m["boot_index"] == 0), "/dev/vda")
    return {"bdm_v2": "True", "root_device_name": str(root), "block_device_mapping": json.dumps(mappings)}


async def snapshot_volumes(api: ComputeAPI, request: Request, inst: Any, name: str,
                           timeout: float = 120) -> dict[str, str] | None:
    """The volume half of ``createImage`` for a volume-backed server (the hook the snapshot action
    calls): every volume of the server snapshotted in block storage as the user (``force``: they
    are in use), waited for, and the image properties that describe them returned. None for a
    server that boots from an image (its driver snapshots the root disk instead)."""
    bdms = [b for b in getattr(inst, "block_devices", None) or [] if b.volume_id]
    if not any(b.boot_index == 0 for b in bdms):
        return None
    token = context_of(request).auth_token or ""
    pairs = []
    for bdm in bdms:
        snap = await api.p.volumes.create_snapshot(bdm.volume_id, token, f"snapshot for {name}")
        pairs.append((bdm, await api.p.volumes.wait_snapshot(snap["id"], token, timeout)))
    return volume_backed_image_properties(pairs)


def _boot_index(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        n = int(raw)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid input for field/attribute boot_index. Value: {raw}.") from None
    return n if n >= 0 else None


def _invalid(message: str) -> errors.BadRequest:
    return errors.BadRequest(f"Block Device Mapping is Invalid: {message}")


async def plan_boot(api: ComputeAPI, request: Request, srv: dict[str, Any], max_count: int) -> Boot:
    """Check ``imageRef`` and ``block_device_mapping_v2`` as Nova does before anything is made:
    one boot device (boot indexes 0, 1, … unique), images, volumes and snapshots visible to the
    user, sizes given where a volume is created. 400 otherwise."""
    token = context_of(request).auth_token or ""
    image_id = str(srv.get("imageRef") or "").rstrip("/").rsplit("/", 1)[-1]
    items = list(srv.get("block_device_mapping_v2", []))
    image = await api.p.image(image_id, token) if image_id else None
    defined = image_mappings(image) if image is not None else []
    if defined and not any(_boot_index(i.get("boot_index")) == 0 for i in items):
        # A snapshot of a volume-backed server: its volumes come back from their snapshots.
        items, image_id = defined + items, ""
    boot = Boot(image_id, image=image)
    indexes = [0] if image_id else []
    for item in items:
        if item.get("no_device"):
            continue
        source, dest = item.get("source_type"), item.get("destination_type", "local")
        index = _boot_index(item.get("boot_index"))
        if index is None and dest == "local" and source == "image" and item.get("boot_index") is None:
            index = 0  # the image of the root disk, as the mapping's default
        if index is not None:
            indexes.append(index)
        uuid = str(item.get("uuid") or "")
        if dest == "local":
            # An image copied to a local disk is what imageRef means; ephemeral and swap disks are not built.
            if source != "image" or index != 0:
                raise _invalid("local disks other than the root disk from an image (ephemeral, swap) are not "
                               "supported.")
            if not boot.image_id:
                boot.image_id = uuid
            continue
        if source in ("image", "volume", "snapshot") and not uuid:
            raise _invalid(f"a {source} block device needs its uuid.")
        size = int(item["volume_size"]) if item.get("volume_size") not in (None, "") else None
        row: dict[str, Any] = {"source_type": source, "destination_type": "volume", "boot_index": index,
                               "delete_on_termination": _truthy(item.get("delete_on_termination", False)),
                               "tag": item.get("tag"), "volume_type": item.get("volume_type"),
                               "device": check_device(item.get("device_name"))}
        if source == "volume":
            if max_count > 1:
                raise _invalid("a volume cannot be attached to more than one of the instances (max_count).")
            try:
                vol = await api.p.volumes.volume(uuid, token)
            except errors.NotFound:
                raise _invalid(f"failed to get volume {uuid}.") from None
            if vol.get("status") != "available" and not vol.get("multiattach"):
                raise errors.BadRequest(f"Invalid volume: volume '{uuid}' status must be 'available'. "
                                        f"Currently in '{vol.get('status')}'")
            row.update(volume_id=uuid, volume_size=vol.get("size"))
            if index == 0:
                boot.image_properties = {k: str(v) for k, v in (vol.get("volume_image_metadata") or {}).items()}
        elif source == "snapshot":
            try:
                snap = await api.p.volumes.snapshot(uuid, token)
            except errors.NotFound:
                raise _invalid(f"failed to get snapshot {uuid}.") from None
            row.update(snapshot_id=uuid, volume_size=size or snap.get("size"))
            row["create"] = {"snapshot_id": uuid, "size": row["volume_size"]}
        elif source == "image":
            if not size:
                raise _invalid("Images with destination_type 'volume' need to have a non-zero size specified")
            image = await api.p.image(uuid, token)
            if int(image.get("min_disk") or 0) > size:
                raise errors.BadRequest("Volume is smaller than the minimum size specified in image metadata. "
                                        f"Volume size is {size * 2 ** 30} bytes, minimum size is "
                                        f"{int(image['min_disk']) * 2 ** 30} bytes.")
            row.update(image_id=uuid, volume_size=size)
            row["create"] = {"imageRef": uuid, "size": size}
            if index == 0:
                boot.image_properties = {k: v for k, v in image.items() if isinstance(v, str)}
        else:  # blank
            if not size:
                raise _invalid("Blank volumes need to have a non-zero volume_size specified.")
            row.update(volume_size=size)
            row["create"] = {"size": size}
        if "create" in row and row.get("volume_type"):
            row["create"]["volume_type"] = row["volume_type"]
        boot.volumes.append(row)
    if image_id and indexes.count(0) > 1:
        indexes.remove(0)  # imageRef is the root disk only when no mapping names one
    if sorted(indexes) != list(range(len(indexes))) or not indexes:
        raise _invalid("Boot sequence for the instance and image/block device mapping combination is not valid.")
    if boot.image_id and boot.image is None:
        boot.image = await api.p.image(boot.image_id, token)
    if boot.volume_backed:
        boot.image_id = ""
    boot.volumes.sort(key=lambda v: (v["boot_index"] is None, v["boot_index"] or 0))
    return boot


async def provision(api: ComputeAPI, request: Request, instances: list[Any], boot: Boot) -> None:
    """The volume rows of the new instances, with what block storage is asked at once, as the
    user: an existing volume is reserved for its instance (attachment without a connector),
    other volumes are created (their agent waits for them). On a refusal everything made here is
    undone and the instances are deleted: the error is the request's answer."""
    if not boot.volumes:
        return
    token = context_of(request).auth_token or ""
    made: list[Any] = []
    try:
        for inst in instances:
            for spec in boot.volumes:
                fields = {k: v for k, v in spec.items() if k not in ("create", "device")}
                if "create" in spec:
                    vol = await api.p.volumes.create_volume(token, {"name": "", **spec["create"]})
                    fields.update(volume_id=vol["id"], status=CREATING)
                    bdm = await api.run(api.p.block_devices.add, inst.id, fields, spec["device"])
                    made.append(bdm)
                else:
                    fields["status"] = ATTACHING
                    bdm = await api.run(api.p.block_devices.add, inst.id, fields, spec["device"])
                    made.append(bdm)
                    attachment = await api.p.volumes.reserve(spec["volume_id"], inst.id, token)
                    bdm = await api.run(lambda b=bdm, a=attachment: api.p.block_devices.save(b.id, attachment_id=a))
                    made[-1] = bdm
    except Exception:
        for bdm in made:
            await api.p.volumes.unreserve(bdm.attachment_id)
            if bdm.status == CREATING and bdm.volume_id:
                await api.p.volumes.delete_volume(bdm.volume_id)
        for inst in instances:
            await api.run(api.p.instances.mark_deleted, inst.id)
        raise


