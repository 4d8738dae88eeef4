"""Request context: who is calling, with which scope, under which request IDs.

The current context lives in a ``contextvars.ContextVar`` so that logging, the
RPC bus and internal REST clients pick it up without threading it through
every call. It crosses process boundaries as a plain dict (``to_dict`` /
``from_dict``) in RPC messages.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclass
class RequestContext:
    """Identity and tracing data of one API request (or of one RPC message handler)."""

    request_id: str = field(default_factory=new_request_id)
    global_request_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    system_scope: str | None = None
    roles: list[str] = field(default_factory=list)
    auth_token: str | None = field(default=None, repr=False)
    service_roles: list[str] = field(default_factory=list)
    service_user_id: str | None = None
    audit_ids: list[str] = field(default_factory=list)
    application_credential_id: str | None = None
    trust_id: str | None = None
    trustor_id: str | None = None
    trustee_id: str | None = None
    oauth_access_token_id: str | None = None
    is_admin: bool = False
    # The client's address (as a trusted proxy reports it): the "source" login throttling counts by.
    remote_addr: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_delegated_auth(self) -> bool:
        """Whether the token acts on someone's behalf (a trust or an OAuth1 access token), as oslo.context
        names it."""
        return self.trust_id is not None or self.oauth_access_token_id is not None

    def policy_creds(self) -> dict[str, Any]:
        """The credentials dict the policy engine checks rules against (oslo.policy shape)."""
        return {
            "user_id": self.user_id,
            "user_domain_id": self.user_domain_id,
            "project_id": self.project_id,
            "project_domain_id": self.project_domain_id,
            "domain_id": self.domain_id,
            "system_scope": self.system_scope,
            "roles": list(self.roles),
            "service_roles": list(self.service_roles),
            "is_admin": self.is_admin,
            "is_admin_project": True,
        }

    def to_dict(self, include_token: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not include_token:
            d.pop("auth_token", None)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestContext:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "litestack_request_context", default=None
)


def get_current() -> RequestContext | None:
    return _current.get()


def set_current(ctx: RequestContext | None) -> contextvars.Token[RequestContext | None]:
    return _current.set(ctx)


def reset_current(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)
