"""How each identity resource is listed (``common.api.pagination.Listing``), and the one helper
the managers' ``list_*`` methods run their queries through.

Keystone's lists are not paged by the client (``limit`` and ``marker`` are ignored); the server's
``[identity] list_limit`` caps them, and a list that was cut says ``"truncated": true``. So a
``list_*`` method takes the filters and that ``limit``, and returns at most ``limit + 1`` rows in
the resource's default order: one more than the page, so the API knows whether it was cut.
"""

from __future__ import annotations

import collections
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Select, Text, select, type_coerce
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing, ListQuery, apply, boolean
from litestack.identity import models as m

DOMAINS = Listing(m.Domain, filters={"name": m.Domain.name, "enabled": m.Domain.enabled},
                  coerce={"enabled": boolean}, sort_keys={"name": m.Domain.name}, default_sort=[("name", False)])
PROJECTS = Listing(m.Project, filters={"name": m.Project.name, "domain_id": m.Project.domain_id,
                                       "parent_id": m.Project.parent_id, "enabled": m.Project.enabled},
                   coerce={"enabled": boolean}, sort_keys={"name": m.Project.name}, default_sort=[("name", False)])
USERS = Listing(m.User, filters={"name": m.User.name, "domain_id": m.User.domain_id, "enabled": m.User.enabled},
                coerce={"enabled": boolean}, sort_keys={"name": m.User.name}, default_sort=[("name", False)])
GROUPS = Listing(m.Group, filters={"name": m.Group.name, "domain_id": m.Group.domain_id},
                 sort_keys={"name": m.Group.name}, default_sort=[("name", False)])
ROLES = Listing(m.Role, filters={"name": m.Role.name, "domain_id": m.Role.domain_id},
                sort_keys={"name": m.Role.name}, default_sort=[("name", False)])
REGIONS = Listing(m.Region, filters={"parent_region_id": m.Region.parent_region_id},
                  sort_keys={"id": m.Region.id}, default_sort=[("id", False)])
SERVICES = Listing(m.Service, filters={"type": m.Service.type}, sort_keys={"type": m.Service.type},
                   default_sort=[("type", False)])
ENDPOINTS = Listing(m.Endpoint, filters={"service_id": m.Endpoint.service_id, "interface": m.Endpoint.interface,
                                         "region_id": m.Endpoint.region_id},
                    sort_keys={"id": m.Endpoint.id}, default_sort=[("id", False)])
POLICIES = Listing(m.Policy, filters={"type": m.Policy.type}, sort_keys={"id": m.Policy.id},
                   default_sort=[("id", False)])
CONSUMERS = Listing(m.OAuthConsumer, sort_keys={"id": m.OAuthConsumer.id}, default_sort=[("id", False)])
ENDPOINT_GROUPS = Listing(m.EndpointGroup, filters={"name": m.EndpointGroup.name},
                          sort_keys={"id": m.EndpointGroup.id}, default_sort=[("id", False)])
REGISTERED_LIMITS = Listing(m.RegisteredLimit, filters={
    "service_id": m.RegisteredLimit.service_id, "region_id": m.RegisteredLimit.region_id,
    "resource_name": m.RegisteredLimit.resource_name},
    sort_keys={"resource_name": m.RegisteredLimit.resource_name}, default_sort=[("resource_name", False)])
CREDENTIALS = Listing(m.Credential, filters={"user_id": m.Credential.user_id, "type": m.Credential.type},
                      sort_keys={"id": m.Credential.id}, default_sort=[("id", False)])
APP_CREDS = Listing(m.ApplicationCredential, filters={"user_id": m.ApplicationCredential.user_id,
                                                      "name": m.ApplicationCredential.name},
                    sort_keys={"name": m.ApplicationCredential.name}, default_sort=[("name", False)])
TRUSTS = Listing(m.Trust, filters={"trustor_user_id": m.Trust.trustor_user_id,
                                   "trustee_user_id": m.Trust.trustee_user_id},
                 sort_keys={"id": m.Trust.id}, default_sort=[("id", False)])
LIMITS = Listing(m.Limit, filters={
    "service_id": m.RegisteredLimit.service_id, "region_id": m.RegisteredLimit.region_id,
    "resource_name": m.RegisteredLimit.resource_name, "project_id": m.Limit.project_id,
    "domain_id": m.Limit.domain_id},
    sort_keys={"resource_name": m.RegisteredLimit.resource_name}, default_sort=[("resource_name", False)])


def list_query(listing: Listing, filters: Mapping[str, Any], limit: int | None) -> ListQuery:
    """The query of a manager's list: the filters this listing knows, its default order, ``limit``."""
    return ListQuery(filters={k: v for k, v in filters.items() if k in listing.filters},
                     sort=listing.default_sort, limit=limit)


# Lists of what is related to one resource (a group's users, a project's endpoint groups, ...):
# the same models as above, other default orders where Keystone's differ.
PROJECTS_BY_ID = Listing(m.Project, sort_keys={"id": m.Project.id}, default_sort=[("id", False)])
ACCESS_RULES = Listing(m.AccessRule, filters={"user_id": m.AccessRule.user_id},
                       sort_keys={"id": m.AccessRule.id}, default_sort=[("id", False)])
ACCESS_TOKENS = Listing(m.OAuthAccessToken, filters={"authorizing_user_id": m.OAuthAccessToken.authorizing_user_id},
                        sort_keys={"id": m.OAuthAccessToken.id}, default_sort=[("id", False)])
IMPLIED_ROLES = Listing(m.ImpliedRole, filters={"prior_role_id": m.ImpliedRole.prior_role_id},
                        sort_keys={"prior_role_id": m.ImpliedRole.prior_role_id,
                                   "implied_role_id": m.ImpliedRole.implied_role_id},
                        default_sort=[("prior_role_id", False), ("implied_role_id", False)],
                        id_key="implied_role_id")
ASSIGNMENTS = Listing(m.Assignment, filters={"role.id": m.Assignment.role_id},
                      sort_keys={"type": m.Assignment.type, "actor_id": m.Assignment.actor_id,
                                 "target_id": m.Assignment.target_id, "role_id": m.Assignment.role_id,
                                 "inherited": m.Assignment.inherited},
                      default_sort=[("type", False), ("actor_id", False), ("target_id", False),
                                    ("role_id", False), ("inherited", False)], id_key="role_id")


def subtree_ids(project_ids: Any) -> Select[Any]:
    """The ids of every project below ``project_ids`` (a list or a subquery of ids), at any depth:
    one recursive query (SQLite, PostgreSQL and MariaDB all have ``WITH RECURSIVE``)."""
    below = select(m.Project.id).where(m.Project.parent_id.in_(project_ids)).cte("below", recursive=True)
    below = below.union_all(select(m.Project.id).where(m.Project.parent_id == below.c.id))
    return select(below.c.id)


def rows(s: Session, listing: Listing, filters: Mapping[str, Any], limit: int | None,
         stmt: Select[Any] | None = None) -> list[Any]:
    """At most ``limit + 1`` rows of ``stmt`` (a select of the listing's model, with its joins and
    conditions; default: all of them) in one query.

    The rows are named tuples of the model's columns, not ORM objects: they have the same
    attribute names and values, but a list is only read, and building ORM instances, then reading
    their attributes in the views, was most of the CPU time of a list (issue 6 §8)."""
    columns, build = _shape(listing.model)
    base = stmt if stmt is not None else select(listing.model)
    q = apply(base.with_only_columns(*columns), listing, list_query(listing, filters, limit))
    # On the session's connection: the ORM's result layer has nothing to do for plain rows.
    return [build(r) for r in s.connection().execute(q).all()]


@functools.cache
def _shape(model: Any) -> tuple[tuple[Any, ...], Callable[[Sequence[Any]], Any]]:
    """What ``rows`` selects of ``model`` (its columns, each under its own name, JSON ones as their
    text: ``type_coerce`` emits no cast) and how it makes one listed row of a result row: a named
    tuple whose fields are the ORM object's attributes, with JSON decoded."""
    cols = list(model.__table__.columns)
    json_at = [i for i, c in enumerate(cols) if isinstance(c.type, JSON)]
    selected = tuple(type_coerce(c, Text).label(c.key) if i in json_at else c for i, c in enumerate(cols))
    row_type: Any = collections.namedtuple(f"{model.__name__}Row", [c.key for c in cols])  # type: ignore[misc]
    make = row_type._make

    def build(raw: Sequence[Any]) -> Any:
        values = list(raw)
        for i in json_at:
            # Most rows hold {} or [] (extra, options, tags), which need no parser. SQLite and
            # MariaDB return the JSON text (a driver may give bytes); PostgreSQL's driver returns
            # the value already decoded.
            value = values[i]
            if value == "{}":
                values[i] = {}
            elif value == "[]":
                values[i] = []
            elif isinstance(value, (str, bytes)):
                values[i] = json.loads(value)
        return make(values)
    return selected, build
