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
from litestack.common.api.app import JSON, Op, build_app, ctx
from litestack.common.api.policy import Target, body, target
from litestack.common.api.resource import ServiceAPI
from litestack.common.db import Database
from litestack.common.limits import ProjectOverLimit, UnifiedLimits, check
from litestack.common.policy import Enforcer
from tests.functional.toyservice.models import Note

CREATE = {"type": "object", "required": ["note"], "properties": {"note": {
    "type": "object", "required": ["text"], "additionalProperties": False,
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 255}}}}}


class ToyAPI(ServiceAPI):
    prefix = "/v1"


def view(n: Note) -> dict[str, Any]:
    return {"id": n.id, "project_id": n.project_id, "text": n.text, "created_at": n.created_at.isoformat()}


def build(db: Database, enforcer: Enforcer, max_text: int, limits: UnifiedLimits,
          auth: Callable[[ASGIApp], ASGIApp]) -> ASGIApp:
    api = ToyAPI(enforcer)

    def list_rows(project_id: str | None) -> list[Note]:
        with db.reader() as s:
            return list(s.scalars(select(Note).where(Note.project_id == project_id).order_by(Note.created_at)))

    def create_row(project_id: str, text: str, limit: dict[str, int]) -> Note:
        if len(text) > max_text:
            raise errors.BadRequest(f"A note holds at most {max_text} characters.")
        with db.writer() as s:  # counted in the transaction that adds: two requests cannot both pass
            count = s.scalar(select(func.count()).select_from(Note).where(Note.project_id == project_id)) or 0
            try:
                check(project_id, limit, {"notes": count}, {"notes": 1})
            except ProjectOverLimit as e:
                raise errors.Forbidden(str(e)) from None
            note = Note(id=uuid.uuid4().hex, project_id=project_id, text=text,
                        created_at=datetime.now(UTC).replace(tzinfo=None))
            s.add(note)
            return note

    async def own_project(request: Request) -> Target:
        """Notes belong to the caller's project: the rules check the caller against it."""
        return target(project_id=ctx(request).project_id)

    async def list_notes(request: Request) -> Response:
        rows = await api.run(list_rows, ctx(request).project_id)
        return JSON({"notes": [view(n) for n in rows], "links": api.links(request)})

    async def create_note(request: Request) -> Response:
        project_id = ctx(request).project_id
        if project_id is None:  # the rule requires a project scope; this is for the type checker
            raise errors.Forbidden("A project-scoped token is required.")
        limit = await limits.for_project(project_id, ["notes"])  # from identity, over REST
        note = await api.run(create_row, project_id, body(request)["note"]["text"], limit)
        return JSON({"note": view(note)}, status_code=201)

    # Each Op names its rule; the dispatcher enforces it before the handler runs.
    ops = [Op("GET", "/v1/notes", list_notes, "List the project's notes", rule="toy:list_notes",
              target=own_project),
           Op("POST", "/v1/notes", create_note, "Add a note", body=CREATE, status=201, rule="toy:create_note",
              target=own_project)]
    return build_app("toy", ops, error_style="identity", middleware=[auth], enforcer=enforcer)
