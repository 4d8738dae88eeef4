"""Backup records: ``GET /backups/{id}/export_record`` and ``POST /backups/import_record``, Cinder's
way back to a backup's data after the database lost its row (or into another project).

The record is the backup's row as base64-encoded JSON, under a ``backup_service`` that names where
the data is: ``cinder.backup.drivers.swift`` (object storage) or ``cinder.backup.drivers.posix``
(the agent host's directory store). An imported record gets its own row (with the record's id,
which must be free) pointing at the original's data; deleting either deletes that data, as in
Cinder. The data is not read at import: a restore of a record whose data is gone fails (the
volume goes to ``error_restoring``)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, validate
from litestack.common.api.policy import Target, body, loaded, policy_target, stash
from litestack.volume.api.base import VolumeAPI, isotime
from litestack.volume.manager import now
from litestack.volume.models import Backup

P = "/v3/{project_id}/backups"
SWIFT, POSIX = "cinder.backup.drivers.swift", "cinder.backup.drivers.posix"
IMPORT: dict[str, Any] = {"type": "object", "required": ["backup-record"], "properties": {"backup-record": {
    "type": "object", "required": ["backup_service", "backup_url"], "properties": {
        "backup_service": {"type": "string", "maxLength": 255},
        "backup_url": {"type": "string", "maxLength": 65536}}}}}
S255 = {"type": ["string", "null"], "maxLength": 255}
ID = {"type": ["string", "null"], "maxLength": 36}
STRINGS = {"type": ["object", "null"], "additionalProperties": {"type": "string", "maxLength": 255}}
#: What a record must look like (what ``export`` writes).
RECORD: dict[str, Any] = {"type": "object", "required": ["id", "volume_id", "host"], "properties": {
    "id": {"type": "string", "minLength": 1, "maxLength": 36}, "volume_id": {"type": "string", "maxLength": 36},
    "host": {"type": "string", "minLength": 1, "maxLength": 255}, "name": S255, "description": S255,
    "snapshot_id": ID, "parent_id": ID, "size": {"type": "integer", "minimum": 0, "maximum": (1 << 31) - 1},
    "is_incremental": {"type": ["boolean", "null"]}, "object_count": {"type": ["integer", "null"], "minimum": 0,
                                                                      "maximum": (1 << 31) - 1},
    "container": S255, "volume_metadata": STRINGS, "metadata": STRINGS, "key": ID, "account": {
        "type": ["string", "null"], "maxLength": 64}}}
#: The record's fields an import takes over.
FIELDS = ("name", "description", "volume_id", "snapshot_id", "size", "host", "parent_id", "is_incremental",
          "object_count", "container", "volume_metadata", "metadata")


def ops(api: VolumeAPI) -> list[Op]:
    async def one(request: Request) -> Target:
        b = await api.run(api.backups.get, api.param(request, "backup_id"), api.caller(request))
        stash(request, b)
        return Target(policy_target(None, project_id=b.project_id))

    async def export(request: Request) -> Response:
        b: Backup = loaded(request)
        if b.status != "available":
            raise errors.BadRequest(f"Invalid backup: Backup status must be available but is {b.status}.")
        meta = b.service_metadata or {}
        record = {"id": b.id, "project_id": b.project_id, "user_id": b.user_id, "status": "available",
                  "created_at": isotime(b.created_at), "key": meta.get("key") or b.id,
                  "account": meta.get("account") or b.project_id,
                  **{f: getattr(b, "metadata_" if f == "metadata" else f) for f in FIELDS}}
        url = base64.b64encode(json.dumps(record).encode()).decode()
        return JSON({"backup-record": {"backup_service": SWIFT if b.container else POSIX, "backup_url": url}})

    async def import_record(request: Request) -> Response:
        req = body(request)["backup-record"]
        try:
            record = json.loads(base64.b64decode(req["backup_url"], validate=True))
        except (binascii.Error, ValueError):
            raise errors.BadRequest("Invalid input received: backup_url is not a base64-encoded backup record.") \
                from None
        try:
            validate(RECORD, record)
        except errors.BadRequest as exc:
            raise errors.BadRequest(f"Invalid input received: not a backup record: {exc.message}") from None
        service = SWIFT if record.get("container") else POSIX
        if req["backup_service"] != service:
            raise errors.BadRequest(f"Invalid input received: the record is of {service}, not "
                                    f"{req['backup_service'][:64]}.")
        size = int(record.get("size") or 0)
        caller = api.caller(request)
        t = now()
        b = Backup(id=record["id"], project_id=caller.project_id, user_id=caller.user_id,
                   status="available", created_at=t, updated_at=t, size=size,
                   service_metadata={"key": str(record.get("key") or record["id"]),
                                     "account": str(record.get("account") or record.get("project_id") or "")})
        for f in FIELDS:
            if f in ("size",):
                continue
            setattr(b, "metadata_" if f == "metadata" else f, record.get(f))
        b.is_incremental, b.object_count = bool(b.is_incremental), int(b.object_count or 0)
        await api.run(api.backups.add_imported, b, caller)
        api.notifier.emit("backup.import.end", {"backup_id": b.id})
        return JSON({"backup": {"id": b.id, "name": b.name, "links": api.member_links(request, "backups", b.id)}},
                    status_code=201)

    return [
        Op("GET", f"{P}/{{backup_id}}/export_record", export, "Export a backup record", rule="backup:backup-export",
           target=one, tag="backups"),
        Op("POST", f"{P}/import_record", import_record, "Import a backup record", body=IMPORT, status=201,
           rule="backup:backup-import", target=api.own(), tag="backups", errors=(400, 401, 403, 413)),
    ]
