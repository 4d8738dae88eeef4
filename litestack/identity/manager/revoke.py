"""Revocation events: tokens issued before an event and matching it are invalid."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from litestack.identity import models as m
from litestack.identity.manager.base import Part, Shared

LOG = logging.getLogger(__name__)
EVENT_FIELDS = ("user_id", "project_id", "domain_id", "role_id", "audit_id", "audit_chain_id", "app_cred_id",
                "trust_id", "access_token_id")


class RevokeManager(Part):
    """Revocation events: recorded, checked against tokens, pruned; ``on_revoke`` listeners (the
    auth middleware's caches, the bus) hear each one at once."""

    def __init__(self, shared: Shared) -> None:
        super().__init__(shared)
        self.on_revoke: list[Callable[[dict[str, Any]], object]] = []

    def revoke(self, **fields: Any) -> None:
        """Record a revocation event and tell listeners (auth middleware caches) at once."""
        now = self.now()
        event = {k: fields.get(k) for k in EVENT_FIELDS}
        with self.write() as s:
            s.add(m.RevocationEvent(issued_before=now, revoked_at=now, **event))
            # Events older than the longest-lived token (plus the allow-expired window) match nothing.
            horizon = now - timedelta(seconds=self.opt("token_expiration") + self.opt("allow_expired_window"))
            s.execute(delete(m.RevocationEvent).where(m.RevocationEvent.revoked_at < horizon))
        wire = {**event, "issued_before": now.isoformat() + "Z"}
        for cb in self.on_revoke:
            try:
                cb(wire)
            except Exception:
                LOG.exception("revocation listener failed")

    def revocation_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.memo(("revocations",), self._load_events)
        return events

    def _load_events(self) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return [{**{k: getattr(e, k) for k in EVENT_FIELDS}, "issued_before": e.issued_before}
                    for e in s.scalars(select(m.RevocationEvent))]

    def is_revoked(self, info: dict[str, Any]) -> bool:
        """``info`` holds user_id, project_id, domain_ids (scope and user's), role_ids, audit ids, issued_at.

        ``user_ids`` (when present) are every user the token acts for: a trust token's trustee and
        trustor, so revoking either one's tokens revokes it.
        """
        for ev in self.revocation_events():
            if info["issued_at"] > ev["issued_before"]:
                continue
            if ev["user_id"] and ev["user_id"] not in info.get("user_ids", (info["user_id"],)):
                continue
            if ev["project_id"] and ev["project_id"] != info.get("project_id"):
                continue
            if ev["domain_id"] and ev["domain_id"] not in info.get("domain_ids", ()):
                continue
            if ev["role_id"] and ev["role_id"] not in info.get("role_ids", ()):
                continue
            if ev["audit_id"] and ev["audit_id"] != info["audit_ids"][0]:
                continue
            if ev["audit_chain_id"] and ev["audit_chain_id"] != info["audit_ids"][-1]:
                continue
            if ev["app_cred_id"] and ev["app_cred_id"] != info.get("app_cred_id"):
                continue
            if ev["trust_id"] and ev["trust_id"] != info.get("trust_id"):
                continue
            if ev["access_token_id"] and ev["access_token_id"] != info.get("access_token_id"):
                continue
            return True
        return False
