"""User messages (Cinder's ``/messages``, 3.3): what the service tells a project when an
asynchronous operation of its own failed (no backend found, a create from an image, an extend, a
backup that failed on the agent), with Cinder's event ids and texts.

An event id is ``VOLUME_<resource>_<action>_<detail>`` (``VOLUME_VOLUME_001_003``: scheduling a
volume found no backend); the text shown is ``"<action>: <detail>"``. Messages expire after
``[volume] message_ttl`` seconds; expired ones are neither shown nor kept (the reaper deletes them).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from litestack.common import errors
from litestack.common.api import pagination
from litestack.common.context import get_current, new_request_id
from litestack.common.db import Database
from litestack.volume.manager import Caller, new_id, now
from litestack.volume.models import Message

VOLUME, SNAPSHOT, BACKUP = "VOLUME", "VOLUME_SNAPSHOT", "VOLUME_BACKUP"

#: Cinder's actions (``message_field.Action``): id and text.
ACTIONS = {
    "SCHEDULE_ALLOCATE_VOLUME": ("001", "schedule allocate volume"),
    "ATTACH_VOLUME": ("002", "attach volume"),
    "COPY_VOLUME_TO_IMAGE": ("003", "copy volume to image"),
    "UPDATE_ATTACHMENT": ("004", "update attachment"),
    "COPY_IMAGE_TO_VOLUME": ("005", "copy image to volume"),
    "UNMANAGE_VOLUME": ("006", "unmanage volume"),
    "EXTEND_VOLUME": ("007", "extend volume"),
    "CREATE_VOLUME_FROM_BACKEND": ("008", "create volume from backend storage"),
    "SNAPSHOT_CREATE": ("009", "create snapshot"),
    "SNAPSHOT_DELETE": ("010", "delete snapshot"),
    "BACKUP_CREATE": ("013", "create backup"),
    "BACKUP_DELETE": ("014", "delete backup"),
    "BACKUP_RESTORE": ("015", "restore backup"),
}

#: Cinder's details (``message_field.Detail``): id and text.
DETAILS = {
    "UNKNOWN_ERROR": ("001", "An unknown error occurred."),
    "NO_BACKEND_AVAILABLE": ("003", "Could not find any available weighted backend."),
    "FAILED_TO_UPLOAD_VOLUME": ("004", "Failed to upload volume to image at backend."),
    "QUOTA_EXCEED": ("006", "Not enough quota resource for operation."),
    "NOT_ENOUGH_SPACE_FOR_IMAGE": ("007", "Image used for creating volume exceeds available space."),
    "DRIVER_FAILED_EXTEND": ("010", "Volume Driver failed to extend volume."),
    "DRIVER_FAILED_CREATE": ("012", "Driver failed to create the volume."),
    "SNAPSHOT_CREATE_ERROR": ("013", "Snapshot failed to create."),
    "SNAPSHOT_DELETE_ERROR": ("016", "Snapshot failed to delete."),
    "BACKUP_CREATE_DRIVER_ERROR": ("020", "Backup driver failed to create backup."),
    "BACKUP_DELETE_DRIVER_ERROR": ("025", "Backup driver failed to delete backup."),
    "BACKUP_RESTORE_ERROR": ("026", "Backup driver failed to restore backup."),
    "ATTACH_ERROR": ("021", "Failed to attach volume."),
}

_ACTION_TEXT = dict(ACTIONS.values())
_DETAIL_TEXT = dict(DETAILS.values())

MESSAGES = pagination.Listing(
    Message,
    filters={"resource_uuid": Message.resource_uuid, "resource_type": Message.resource_type,
             "event_id": Message.event_id, "request_id": Message.request_id,
             "message_level": Message.message_level},
    sort_keys={"created_at": Message.created_at, "id": Message.id, "event_id": Message.event_id,
               "resource_type": Message.resource_type, "resource_uuid": Message.resource_uuid,
               "message_level": Message.message_level, "request_id": Message.request_id},
    default_sort=[("created_at", True)])


def user_message(m: Message) -> str:
    """Cinder's text of a message: ``"<action>: <detail>"``."""
    action = _ACTION_TEXT.get(m.action_id or "", "unknown action")
    return f"{action}: {_DETAIL_TEXT.get(m.detail_id or '', DETAILS['UNKNOWN_ERROR'][1])}"


class Messages:
    def __init__(self, db: Database, ttl: int = 2592000) -> None:
        self.db, self.ttl = db, ttl

    def create(self, project_id: str | None, resource_type: str, resource_uuid: str | None, action: str,
               detail: str, request_id: str | None = None) -> Message | None:
        """Record one failure; the request id is the current context's (the one whose operation
        failed: the RPC context carries it from the API to the agent and back)."""
        if not project_id:
            return None
        if request_id is None:
            current = get_current()
            request_id = current.request_id if current else new_request_id()
        action_id, detail_id = ACTIONS[action][0], DETAILS[detail][0]
        t = now()
        m = Message(id=new_id(), project_id=project_id, request_id=request_id, resource_type=resource_type,
                    resource_uuid=resource_uuid, event_id=f"VOLUME_{resource_type}_{action_id}_{detail_id}",
                    action_id=action_id, detail_id=detail_id, message_level="ERROR", created_at=t,
                    expires_at=t + timedelta(seconds=self.ttl))
        with self.db.writer() as s:
            s.add(m)
        return m

    def get(self, message_id: str, caller: Caller) -> Message:
        with self.db.reader() as s:
            m = s.get(Message, message_id) if len(message_id) <= 36 else None
        if m is None or m.expires_at <= now() or not (caller.is_admin or m.project_id == caller.project_id):
            raise errors.NotFound(f"Message {message_id} could not be found.")
        return m

    def listed(self, caller: Caller, params: dict[str, str], paged: bool) -> tuple[list[Message], bool]:
        """The caller's unexpired messages (an admin's: everyone's), filtered; sorted and paged
        from 3.5 (``paged``), newest first otherwise."""
        if not paged:
            params = {k: v for k, v in params.items() if k not in ("limit", "marker", "sort", "sort_key",
                                                                  "sort_dir", "offset")}
        q = pagination.parse(params, MESSAGES, default_limit=1000, max_limit=1000)
        stmt = pagination.query(MESSAGES).where(Message.expires_at > now())
        if not caller.is_admin:
            stmt = stmt.where(Message.project_id == caller.project_id)
        with self.db.reader() as s:
            if q.marker is not None and (len(q.marker) > 36 or s.get(Message, q.marker) is None):
                raise errors.NotFound(f"Marker {q.marker[:64]} could not be found.")
            pg = pagination.fetch(s, stmt, MESSAGES, q)
        return pg.items, pg.more

    def delete(self, message_id: str, caller: Caller) -> None:
        m = self.get(message_id, caller)
        with self.db.writer() as s:
            s.execute(delete(Message).where(Message.id == m.id))

    def reap(self) -> int:
        """Delete the messages past their expiry."""
        with self.db.writer() as s:
            ids = list(s.scalars(select(Message.id).where(Message.expires_at <= now())))
            if ids:
                s.execute(delete(Message).where(Message.id.in_(ids)))
        return len(ids)

