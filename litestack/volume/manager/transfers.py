"""Volume transfers: a volume offered by its project (``awaiting-transfer``) is taken by whoever
presents the auth key; it and (unless ``no_snapshots``) its snapshots then belong to the taker's
project, within the taker's quotas. The key is kept only as a salted hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from litestack.common import errors
from litestack.common.db import Database
from litestack.volume.manager import Caller, new_id, now
from litestack.volume.manager.quotas import Quotas
from litestack.volume.manager.volumes import InvalidStatus, VolumeNotFound
from litestack.volume.models import Snapshot, Transfer, Volume

KEY_LENGTH = 16


@dataclass(frozen=True)
class Offered:
    transfer: Transfer
    auth_key: str


def _hash(salt: str, key: str) -> str:
    return hashlib.sha256((salt + key).encode()).hexdigest()


class Transfers:
    def __init__(self, db: Database, quotas: Quotas) -> None:
        self.db, self.quotas = db, quotas

    def create(self, caller: Caller, volume_id: str, name: str | None, no_snapshots: bool) -> Offered:
        key = secrets.token_hex(KEY_LENGTH // 2)
        salt = secrets.token_hex(8)
        with self.db.writer() as s:
            vol = s.get(Volume, volume_id) if len(volume_id) <= 36 else None
            if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
                raise VolumeNotFound(f"Volume {volume_id} could not be found.")
            if vol.status != "available":
                raise InvalidStatus(f"Invalid volume: Status of volume must be available, but current status "
                                    f"is: {vol.status}.")
            if not no_snapshots and any(x.status != "available" for x in
                                        s.scalars(select(Snapshot).where(Snapshot.volume_id == vol.id))):
                raise InvalidStatus("Invalid snapshot: a snapshot of the volume is not available.")
            t = Transfer(id=new_id(), volume_id=vol.id, project_id=vol.project_id, name=name, salt=salt,
                         crypt_hash=_hash(salt, key), no_snapshots=no_snapshots, created_at=now())
            s.add(t)
            vol.status, vol.updated_at = "awaiting-transfer", now()
        return Offered(t, key)

    def get(self, transfer_id: str, caller: Caller) -> Transfer:
        with self.db.reader() as s:
            t = s.get(Transfer, transfer_id) if len(transfer_id) <= 36 else None
        if t is None or not (caller.is_admin or t.project_id == caller.project_id):
            raise errors.NotFound(f"Transfer {transfer_id} could not be found.")
        return t

    def offered(self, caller: Caller, all_tenants: bool) -> list[Transfer]:
        stmt = select(Transfer).order_by(Transfer.created_at, Transfer.id)
        if not (caller.is_admin and all_tenants):
            stmt = stmt.where(Transfer.project_id == caller.project_id)
        with self.db.reader() as s:
            return list(s.scalars(stmt))

    def delete(self, transfer_id: str, caller: Caller) -> None:
        with self.db.writer() as s:
            t = s.get(Transfer, transfer_id)
            if t is None or not (caller.is_admin or t.project_id == caller.project_id):
                raise errors.NotFound(f"Transfer {transfer_id} could not be found.")
            vol = s.get(Volume, t.volume_id)
            if vol is not None and vol.status == "awaiting-transfer":
                vol.status, vol.updated_at = "available", now()
            s.delete(t)

    def accept(self, transfer_id: str, auth_key: str, caller: Caller, type_names: dict[str, str]) -> Transfer:
        """Any project may accept with the right key (the transfer's id alone is not enough)."""
        assert caller.project_id is not None
        with self.db.writer() as s:
            t = s.get(Transfer, transfer_id) if len(transfer_id) <= 36 else None
            if t is None:
                raise errors.NotFound(f"Transfer {transfer_id} could not be found.")
            if not hmac.compare_digest(t.crypt_hash, _hash(t.salt, auth_key)):
                raise errors.BadRequest(f"Invalid auth key: Attempt to transfer {t.volume_id} with invalid auth key.")
            vol = s.get(Volume, t.volume_id)
            if vol is None:
                raise errors.NotFound(f"Volume {t.volume_id} could not be found.")
            snaps = [] if t.no_snapshots else list(s.scalars(select(Snapshot).where(Snapshot.volume_id == vol.id)))
            type_name = type_names.get(vol.volume_type_id, "")
            self.quotas.check(s, caller.project_id, type_names, type_name, "volumes", vol.size)
            for snap in snaps:
                self.quotas.check(s, caller.project_id, type_names, type_name, "snapshots", snap.size)
            vol.project_id, vol.user_id, vol.status, vol.updated_at = caller.project_id, caller.user_id, \
                "available", now()
            for snap in snaps:
                snap.project_id, snap.user_id = caller.project_id, caller.user_id
            s.delete(t)
        return t
