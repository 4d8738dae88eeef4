"""Cinder's list filters, in SQL: metadata and image metadata items (JSON columns), ``~`` like
filters (3.34) and ``created_at``/``updated_at`` comparisons (3.60: ``gte:2026-01-01T00:00:00``,
several joined by commas)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_

from litestack.common import errors
from litestack.common.api import pagination

TIME_OPERATORS = ("gt", "gte", "eq", "neq", "lt", "lte")


def dict_param(raw: str, name: str = "metadata") -> dict[str, str]:
    """A ``metadata`` / ``glance_metadata`` filter: a JSON or Python-literal dict in the query."""
    import ast
    import json

    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    raise errors.BadRequest(f"Invalid filter value for {name}: {raw[:64]}")


def json_items(stmt: Select[Any], column: Any, wanted: Mapping[str, str]) -> Select[Any]:
    """Rows whose JSON ``column`` holds every ``key: value`` of ``wanted``."""
    for key, value in wanted.items():
        stmt = stmt.where(column[key].as_string() == value)
    return stmt


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like(stmt: Select[Any], params: Mapping[str, str], columns: Mapping[str, Any]) -> Select[Any]:
    """``name~=abc``: the rows whose column contains ``abc`` (Cinder's inexact filters)."""
    for key, value in params.items():
        if key.endswith("~") and key[:-1] in columns:
            stmt = stmt.where(columns[key[:-1]].like(f"%{_escape(value)}%", escape="\\"))
    return stmt


def timestamp(raw: str) -> datetime:
    """An ISO 8601 time (``Z``, an offset or none: UTC) as the naive UTC the tables keep."""
    text = raw.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    t = datetime.fromisoformat(text)
    if t.tzinfo is not None:
        try:
            t = t.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(f"{raw[:64]} is out of range") from None
    return t


def time_compare(stmt: Select[Any], column: Any, raw: str, name: str) -> Select[Any]:
    """``created_at=gte:T1,lt:T2``: each part an operator and a time, all of them must hold."""
    clauses = []
    for part in raw.split(","):
        op, sep, _ = part.partition(":")
        if not sep or op not in TIME_OPERATORS:
            raise errors.BadRequest(f"Invalid filter value for {name}: {part[:64]} (expected one of "
                                    f"{', '.join(TIME_OPERATORS)}, a colon and a time).")
        try:
            clauses.append(pagination.compare(column, part, timestamp, TIME_OPERATORS))
        except errors.BadRequest:
            raise errors.BadRequest(f"Invalid filter value for {name}: {part[:64]} is not a time.") from None
    return stmt.where(and_(*clauses))
