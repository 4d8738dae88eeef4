"""The two routes of the throw-away service: list and create notes of the caller's project."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from litestack.common import errors
from litestack.common.api.app import JSON, Op, build_app, ctx, json_body
from litestack.common.api.resource import ServiceAPI
from litestack.common.db import Database
from litestack.common.policy import Enforcer
from tests.functional.toyservice.models import Note

CREATE = {"type": "object", "required": ["note"], "properties": {"note": {
    "type": "object", "required": ["text"], "additionalProperties": False,
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 255}}}}}


class ToyAPI(ServiceAPI):
    prefix = "/v1"


def view(n: Note) -> dict[str, Any]:
    return {"id": n.id, "project_id": n.project_id, "text": n.text, "created_at": n.created_at.isoformat()}


def build(db: Database, enforcer: Enforcer, max_notes: int, auth: Callable[[ASGIApp], ASGIApp]) -> ASGIApp:
    api = ToyAPI(enforcer)

    def list_rows(project_id: str) -> list[Note]:
        with db.reader() as s:
            return list(s.scalars(select(Note).where(Note.project_id == project_id).order_by(Note.created_at)))

    def create_row(project_id: str, text: str) -> Note:
        with db.writer() as s:
            if s.scalar(select(func.count()).select_from(Note).where(Note.project_id == project_id)) >= max_notes:
                raise errors.Forbidden(f"Quota exceeded: at most {max_notes} notes.")
            note = Note(id=uuid.uuid4().hex, project_id=project_id, text=text,
                        created_at=datetime.now(UTC).replace(tzinfo=None))
            s.add(note)
            return note

    async def list_notes(request: Request) -> Response:
        project_id = ctx(request).project_id
        api.authorize(request, "toy:list_notes", project_id=project_id)
        rows = await api.run(list_rows, project_id)
        return JSON({"notes": [view(n) for n in rows], "links": api.links(request)})

    async def create_note(request: Request) -> Response:
        data = (await json_body(request, CREATE))["note"]
        project_id = ctx(request).project_id
        api.authorize(request, "toy:create_note", project_id=project_id)
        note = await api.run(create_row, project_id, data["text"])
        return JSON({"note": view(note)}, status_code=201)

    ops = [Op("GET", "/v1/notes", list_notes, "List the project's notes"),
           Op("POST", "/v1/notes", create_note, "Add a note", body=CREATE, status=201)]
    return build_app("toy", ops, error_style="identity", middleware=[auth])
