"""Tables of the identity service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from litestack.common.db import Timestamp

# Global roles have no domain; a sentinel keeps (name, domain_id) unique on every database.
NULL_DOMAIN = "<<null>>"


class Base(DeclarativeBase):
    pass


class Domain(Base):
    __tablename__ = "domain"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Project(Base):
    __tablename__ = "project"
    __table_args__ = (UniqueConstraint("domain_id", "name", name="uq_project_domain_name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(String(64), ForeignKey("domain.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("project.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(Base):
    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("domain_id", "name", name="uq_user_domain_name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(String(64), ForeignKey("domain.id"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    last_active_at: Mapped[datetime | None] = mapped_column(Timestamp)
    failed_auth_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_auth_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Password(Base):
    """Password history: the newest row is the current password."""

    __tablename__ = "password"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("user.id", ondelete="CASCADE"), index=True)
    hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    self_service: Mapped[bool] = mapped_column(Boolean, default=False)


class Group(Base):
    __tablename__ = "group"
    __table_args__ = (UniqueConstraint("domain_id", "name", name="uq_group_domain_name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(String(64), ForeignKey("domain.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Membership(Base):
    __tablename__ = "user_group_membership"
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("user.id", ondelete="CASCADE"),
                                         primary_key=True)
    group_id: Mapped[str] = mapped_column(String(64), ForeignKey("group.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)


class Role(Base):
    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("name", "domain_id", name="uq_role_name_domain"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(String(64), default=NULL_DOMAIN)
    description: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ImpliedRole(Base):
    __tablename__ = "implied_role"
    prior_role_id: Mapped[str] = mapped_column(String(64), ForeignKey("role.id", ondelete="CASCADE"),
                                               primary_key=True)
    implied_role_id: Mapped[str] = mapped_column(String(64), ForeignKey("role.id", ondelete="CASCADE"),
                                                 primary_key=True)


class Assignment(Base):
    """A role granted to an actor (user or group) on a target (project, domain or system)."""

    __tablename__ = "assignment"
    __table_args__ = (Index("ix_assignment_actor", "actor_id"), Index("ix_assignment_target", "target_id"))
    type: Mapped[str] = mapped_column(String(16), primary_key=True)  # UserProject, GroupDomain, ...
    actor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "system" for system
    role_id: Mapped[str] = mapped_column(String(64), ForeignKey("role.id", ondelete="CASCADE"),
                                         primary_key=True)
    inherited: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)


class Region(Base):
    __tablename__ = "region"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    parent_region_id: Mapped[str | None] = mapped_column(String(255))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Service(Base):
    __tablename__ = "service"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # name, description, ...


class Endpoint(Base):
    __tablename__ = "endpoint"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(64), ForeignKey("service.id"), index=True)
    interface: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    region_id: Mapped[str | None] = mapped_column(String(255), ForeignKey("region.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApplicationCredential(Base):
    __tablename__ = "application_credential"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_appcred_user_name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("user.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    unrestricted: Mapped[bool] = mapped_column(Boolean, default=False)
    role_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    access_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class AccessRule(Base):
    """A user's access rule; application credentials refer to it, and it outlives them."""

    __tablename__ = "access_rule"
    __table_args__ = (UniqueConstraint("user_id", "service", "path", "method", name="uq_access_rule"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("user.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(16))


class Credential(Base):
    """A stored credential (ec2, totp, cert); the blob is encrypted with the credential keys."""

    __tablename__ = "credential"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("user.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(255))
    encrypted_blob: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RevocationEvent(Base):
    """Tokens matching every non-null field and issued before ``issued_before`` are revoked."""

    __tablename__ = "revocation_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    domain_id: Mapped[str | None] = mapped_column(String(64))
    role_id: Mapped[str | None] = mapped_column(String(64))
    audit_id: Mapped[str | None] = mapped_column(String(32))
    audit_chain_id: Mapped[str | None] = mapped_column(String(32))
    app_cred_id: Mapped[str | None] = mapped_column(String(64))
    trust_id: Mapped[str | None] = mapped_column(String(64))
    access_token_id: Mapped[str | None] = mapped_column(String(64))
    issued_before: Mapped[datetime] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class Trust(Base):
    """A trustor's delegation of roles on a project to a trustee (OS-TRUST).

    Trusts are deleted outright (Keystone soft-deletes them; nothing reads a deleted trust).
    ``role_ids`` are the delegated roles as given, before implied roles are added.
    ``redelegation_count`` is how many more times the trust may be redelegated (0: never).
    """

    __tablename__ = "trust"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trustor_user_id: Mapped[str] = mapped_column(String(64), index=True)
    trustee_user_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), index=True)
    impersonation: Mapped[bool] = mapped_column(Boolean)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    remaining_uses: Mapped[int | None] = mapped_column(Integer)
    redelegated_trust_id: Mapped[str | None] = mapped_column(String(64), index=True)
    redelegation_count: Mapped[int] = mapped_column(Integer, default=0)
    role_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RegisteredLimit(Base):
    """A service's default limit of a resource (unified limits), per region or for all regions."""

    __tablename__ = "registered_limit"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    region_id: Mapped[str | None] = mapped_column(String(255))
    resource_name: Mapped[str] = mapped_column(String(255))
    default_limit: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class Limit(Base):
    """A project's or a domain's own limit of a registered resource (unified limits)."""

    __tablename__ = "limit"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registered_limit_id: Mapped[str] = mapped_column(String(64), ForeignKey("registered_limit.id"), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), index=True)
    domain_id: Mapped[str | None] = mapped_column(String(64), index=True)
    resource_limit: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class Generation(Base):
    """A counter bumped on every identity write, so other processes know when caches go stale."""

    __tablename__ = "generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class StoredKey(Base):
    """A key or secret shared by every identity host (``[identity] key_store = "database"``), encrypted
    under the master key each host is given. ``repo`` names the set: ``fernet-keys``,
    ``fernet-receipts``, ``credential-keys`` (index as in a key directory: 0 is staged), or ``secrets``
    (index 0: the cloud's generated passwords)."""

    __tablename__ = "stored_key"
    repo: Mapped[str] = mapped_column(String(32), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[str] = mapped_column(Text)


class Policy(Base):
    """A stored policy blob (``/v3/policies``): kept and served, never enforced."""

    __tablename__ = "policy"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    blob: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PolicyAssociation(Base):
    """A stored policy associated (OS-ENDPOINT-POLICY) with an endpoint, a service, or a service in a region.

    One policy per target: associating another policy with the same target replaces it (the manager
    keeps that; a unique constraint would not, as SQL counts NULLs as distinct).
    """

    __tablename__ = "policy_association"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64), ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("endpoint.id", ondelete="CASCADE"))
    service_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("service.id", ondelete="CASCADE"))
    region_id: Mapped[str | None] = mapped_column(String(255), ForeignKey("region.id", ondelete="CASCADE"))


class OAuthConsumer(Base):
    """An OAuth1 consumer; its secret is encrypted with the credential keys."""

    __tablename__ = "oauth_consumer"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    encrypted_secret: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OAuthRequestToken(Base):
    """An OAuth1 request token: asked by a consumer for a project, then authorized by a user with roles."""

    __tablename__ = "oauth_request_token"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    consumer_id: Mapped[str] = mapped_column(String(64), ForeignKey("oauth_consumer.id", ondelete="CASCADE"),
                                             index=True)
    requested_project_id: Mapped[str] = mapped_column(String(64), ForeignKey("project.id", ondelete="CASCADE"))
    encrypted_secret: Mapped[str] = mapped_column(Text)
    authorizing_user_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("user.id", ondelete="CASCADE"))
    role_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    verifier: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)


class OAuthAccessToken(Base):
    """An OAuth1 access token: a consumer may act as the authorizing user on one project, with these roles."""

    __tablename__ = "oauth_access_token"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    consumer_id: Mapped[str] = mapped_column(String(64), ForeignKey("oauth_consumer.id", ondelete="CASCADE"),
                                             index=True)
    authorizing_user_id: Mapped[str] = mapped_column(String(64), ForeignKey("user.id", ondelete="CASCADE"),
                                                     index=True)
    project_id: Mapped[str] = mapped_column(String(64), ForeignKey("project.id", ondelete="CASCADE"))
    encrypted_secret: Mapped[str] = mapped_column(Text)
    role_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)


class EndpointGroup(Base):
    """OS-EP-FILTER: the endpoints matching ``filters`` (service_id, region_id, interface)."""

    __tablename__ = "endpoint_group"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ProjectEndpointGroup(Base):
    """An endpoint group associated with a project: its tokens' catalog is filtered to it."""

    __tablename__ = "project_endpoint_group"
    endpoint_group_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("endpoint_group.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), ForeignKey("project.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)


class ProjectEndpoint(Base):
    """An endpoint associated directly with a project (OS-EP-FILTER): its tokens' catalog is filtered to it."""

    __tablename__ = "project_endpoint"
    endpoint_id: Mapped[str] = mapped_column(String(64), ForeignKey("endpoint.id", ondelete="CASCADE"),
                                             primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), ForeignKey("project.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)


class DomainConfigOption(Base):
    """One option of a domain-specific configuration; sensitive values are stored encrypted."""

    __tablename__ = "domain_config_option"
    domain_id: Mapped[str] = mapped_column(String(64), ForeignKey("domain.id", ondelete="CASCADE"),
                                           primary_key=True)
    group_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    option_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    encrypted_value: Mapped[str | None] = mapped_column(Text)
