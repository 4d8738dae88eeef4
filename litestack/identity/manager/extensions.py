"""Keystone's smaller extensions: policies, OAuth1 consumers, endpoint groups, domain configs.

- Policies (``/v3/policies``) are opaque blobs that are stored and served; litestack never
  enforces them (its own RBAC rules live in ``litestack.identity.policy``).
- OAuth1 consumers are stored with their secret encrypted by the credential keys (an OAuth1
  signature check needs the secret itself, so it cannot be a one-way hash). The OAuth1
  token flow (request tokens, authorization, access tokens) is in ``manager/oauth.py``.
- Endpoint groups (OS-EP-FILTER) select endpoints by service, region and interface; a
  project associated with groups gets a token catalog filtered to their endpoints.
- Domain configurations are stored per option and served back; litestack has only the SQL
  identity driver and does not act on them.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from cryptography.fernet import InvalidToken
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.api.pagination import Listing
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import Part, Shared, announces, get_or_404, new_id

if TYPE_CHECKING:
    from litestack.identity.manager.appcreds import CredentialManager
    from litestack.identity.manager.catalog import CatalogManager
    from litestack.identity.manager.oauth import OAuthManager
    from litestack.identity.manager.resource import ResourceManager

#: The endpoint attributes an endpoint group may filter on.
EP_FILTER_KEYS = ("service_id", "region_id", "interface")

#: Options a domain configuration may set, with the defaults ``/v3/domains/config/default``
#: reports (Keystone's ``[identity]`` and ``[ldap]`` defaults). litestack does not use them.
DOMAIN_CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost", "user": None, "suffix": "cn=example,cn=com", "query_scope": "one",
        "page_size": 0, "alias_dereferencing": "default", "debug_level": None, "chase_referrals": None,
        "user_tree_dn": None, "user_filter": None, "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn", "user_name_attribute": "sn", "user_mail_attribute": "mail",
        "user_description_attribute": "description", "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled", "user_enabled_invert": False, "user_enabled_mask": 0,
        "user_enabled_default": "True", "user_attribute_ignore": ["default_project_id"],
        "user_default_project_id_attribute": None, "user_enabled_emulation": False,
        "user_enabled_emulation_dn": None, "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [], "group_tree_dn": None, "group_filter": None,
        "group_objectclass": "groupOfNames", "group_id_attribute": "cn", "group_name_attribute": "ou",
        "group_members_are_ids": False, "group_member_attribute": "member",
        "group_desc_attribute": "description", "group_attribute_ignore": [],
        "group_additional_attribute_mapping": [], "tls_cacertfile": None, "tls_cacertdir": None,
        "use_tls": False, "tls_req_cert": "demand", "use_pool": True, "pool_size": 10, "pool_retry_max": 3,
        "pool_retry_delay": 0.1, "pool_connection_timeout": -1, "pool_connection_lifetime": 600,
        "use_auth_pool": True, "auth_pool_size": 100, "auth_pool_connection_lifetime": 60,
    },
}
#: Options that may be set but are never returned by the API (stored encrypted).
SENSITIVE_OPTIONS: dict[str, tuple[str, ...]] = {"identity": (), "ldap": ("password",)}


def _config_forbidden(reason: str) -> errors.Forbidden:
    # Keystone answers an unsupported group or option with 403 (its InvalidDomainConfig).
    return errors.Forbidden(f"Invalid domain specific configuration: {reason}.")


def check_config_group(group: str) -> None:
    if group not in DOMAIN_CONFIG_DEFAULTS:
        raise _config_forbidden(f"Group {group} is not supported for domain specific configurations")


def check_config_option(group: str, option: str) -> None:
    check_config_group(group)
    if option not in DOMAIN_CONFIG_DEFAULTS[group] and option not in SENSITIVE_OPTIONS[group]:
        raise _config_forbidden(f"Option {option} in group {group} is not supported for domain specific "
                                f"configurations")


def _check_where(group: str | None, option: str | None) -> None:
    if group is not None and option is not None:
        check_config_option(group, option)
    elif group is not None:
        check_config_group(group)


def endpoint_matches(filters: dict[str, Any], ep: m.Endpoint) -> bool:
    return all(getattr(ep, key) == value for key, value in filters.items())


class ExtensionsManager(Part):
    """Policies and their endpoint associations, OAuth1 consumers, endpoint groups and project-endpoint
    associations, domain configurations, and the project-filtered catalog."""

    def __init__(self, shared: Shared, resources: ResourceManager, catalog: CatalogManager,
                 credentials: CredentialManager, oauth: OAuthManager) -> None:
        super().__init__(shared)
        self.resources = resources
        self.catalog = catalog
        self.credentials = credentials
        self.oauth = oauth

    # --- policies ------------------------------------------------------------------------

    @announces("policy", "created")
    def create_policy(self, data: dict[str, Any]) -> m.Policy:
        with self.write() as s:
            policy = m.Policy(id=new_id(), type=data["type"], blob=data["blob"],
                              extra=_extra(data, ("id", "type", "blob")))
            s.add(policy)
            return policy

    def get_policy(self, policy_id: str) -> m.Policy:
        with self.db.reader() as s:
            p: m.Policy = get_or_404(s, m.Policy, policy_id, "policy")
            return p

    def list_policies(self, type_: str | None = None, limit: int | None = None) -> list[m.Policy]:
        """Policies by id; at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            return listing.rows(s, listing.POLICIES, {} if type_ is None else {"type": type_}, limit)

    @announces("policy", "updated")
    def update_policy(self, policy_id: str, data: dict[str, Any]) -> m.Policy:
        with self.write() as s:
            p: m.Policy = get_or_404(s, m.Policy, policy_id, "policy")
            if "type" in data:
                p.type = data["type"]
            if "blob" in data:
                p.blob = data["blob"]
            p.extra = {**p.extra, **_extra(data, ("id", "type", "blob"))}
            return p

    @announces("policy", "deleted")
    def delete_policy(self, policy_id: str) -> None:
        with self.write() as s:
            s.delete(get_or_404(s, m.Policy, policy_id, "policy"))

    # --- policy associations (OS-ENDPOINT-POLICY) -----------------------------------------

    @staticmethod
    def _association(s: Session, policy_id: str, endpoint_id: str | None, service_id: str | None,
                     region_id: str | None) -> m.PolicyAssociation | None:
        """The association of this exact target (checking that policy and target exist: 404)."""
        get_or_404(s, m.Policy, policy_id, "policy")
        for ident, model, kind in ((endpoint_id, m.Endpoint, "endpoint"), (service_id, m.Service, "service"),
                                   (region_id, m.Region, "region")):
            if ident is not None:
                get_or_404(s, model, ident, kind)
        q = select(m.PolicyAssociation)
        for col, value in (("endpoint_id", endpoint_id), ("service_id", service_id), ("region_id", region_id)):
            column = getattr(m.PolicyAssociation, col)
            q = q.where(column.is_(None) if value is None else column == value)
        return s.scalar(q.limit(1))

    def associate_policy(self, policy_id: str, endpoint_id: str | None = None, service_id: str | None = None,
                         region_id: str | None = None) -> None:
        """Associate a policy with an endpoint, a service, or a service in a region (replacing any other)."""
        with self.write() as s:
            row = self._association(s, policy_id, endpoint_id, service_id, region_id)
            if row is None:
                s.add(m.PolicyAssociation(id=new_id(), policy_id=policy_id, endpoint_id=endpoint_id,
                                          service_id=service_id, region_id=region_id))
            else:
                row.policy_id = policy_id

    def check_policy_association(self, policy_id: str, endpoint_id: str | None = None,
                                 service_id: str | None = None, region_id: str | None = None) -> None:
        with self.db.reader() as s:
            row = self._association(s, policy_id, endpoint_id, service_id, region_id)
            if row is None or row.policy_id != policy_id:
                raise errors.NotFound.of("policy association")

    def delete_policy_association(self, policy_id: str, endpoint_id: str | None = None,
                                  service_id: str | None = None, region_id: str | None = None) -> None:
        with self.write() as s:
            row = self._association(s, policy_id, endpoint_id, service_id, region_id)
            if row is None or row.policy_id != policy_id:
                raise errors.NotFound.of("policy association")
            s.delete(row)

    def list_endpoints_for_policy(self, policy_id: str, limit: int | None = None) -> list[m.Endpoint]:
        """Endpoints a policy covers: direct ones, a service's, a service's in a region and its
        sub-regions; by id, at most ``limit + 1``. Four queries: the policy, its associations, the
        regions (for sub-regions) and the endpoints."""
        with self.db.reader() as s:
            get_or_404(s, m.Policy, policy_id, "policy")
            rows = list(s.scalars(select(m.PolicyAssociation).where(m.PolicyAssociation.policy_id == policy_id)))
            children: dict[str | None, list[str]] = {}
            if any(row.region_id is not None for row in rows):
                for rid, parent in s.execute(select(m.Region.id, m.Region.parent_region_id)):
                    children.setdefault(parent, []).append(rid)
            covers: list[Any] = []
            for row in rows:
                if row.endpoint_id is not None:
                    covers.append(m.Endpoint.id == row.endpoint_id)
                elif row.region_id is None:
                    covers.append(m.Endpoint.service_id == row.service_id)
                else:
                    regions, todo = set(), [row.region_id]
                    while todo:  # the region and every region below it
                        rid = todo.pop()
                        if rid not in regions:
                            regions.add(rid)
                            todo.extend(children.get(rid, []))
                    covers.append((m.Endpoint.service_id == row.service_id) & m.Endpoint.region_id.in_(regions))
            if not covers:
                return []
            return listing.rows(s, listing.ENDPOINTS, {}, limit, select(m.Endpoint).where(or_(*covers)))

    def policy_for_endpoint(self, endpoint_id: str) -> m.Policy:
        """The policy of an endpoint: its own, else its service's in its region or a parent region,
        else its service's; 404 when there is none."""
        with self.db.reader() as s:
            ep: m.Endpoint = get_or_404(s, m.Endpoint, endpoint_id, "endpoint")
            assoc = select(m.PolicyAssociation.policy_id)
            policy_id = s.scalar(assoc.where(m.PolicyAssociation.endpoint_id == endpoint_id).limit(1))
            region_id, seen = ep.region_id, set()
            while policy_id is None and region_id is not None and region_id not in seen:
                seen.add(region_id)
                policy_id = s.scalar(assoc.where(m.PolicyAssociation.service_id == ep.service_id,
                                                 m.PolicyAssociation.region_id == region_id).limit(1))
                region = s.get(m.Region, region_id)
                region_id = region.parent_region_id if region is not None else None
            if policy_id is None:
                policy_id = s.scalar(assoc.where(m.PolicyAssociation.service_id == ep.service_id,
                                                 m.PolicyAssociation.region_id.is_(None),
                                                 m.PolicyAssociation.endpoint_id.is_(None)).limit(1))
            if policy_id is None:
                raise errors.NotFound(f"No policy is associated with endpoint {endpoint_id}.")
            policy: m.Policy = get_or_404(s, m.Policy, policy_id, "policy")
            return policy

    # --- secrets at rest ----------------------------------------------------------------

    def reencrypt_secrets(self) -> int:
        """Re-encrypt every stored secret (credential blobs, OAuth1 consumer secrets, sensitive domain
        configuration values) with the primary credential key; return how many were rewritten.

        Run right after a credential key rotation, while the previous primary is still in the
        repository, so that the next rotation can drop it.
        """
        crypto = self.credentials.credential_crypto
        assert crypto is not None
        count = 0
        with self.write() as s:
            for model, column in ((m.Credential, "encrypted_blob"), (m.OAuthConsumer, "encrypted_secret"),
                                  (m.DomainConfigOption, "encrypted_value")):
                for row in s.scalars(select(model)):
                    value = getattr(row, column)
                    if value is None:
                        continue
                    try:
                        setattr(row, column, crypto.rotate(value.encode()).decode())
                    except InvalidToken:
                        raise errors.LitestackError(f"A {model.__tablename__} secret could not be decrypted with "
                                                    f"the current credential keys; nothing was changed.") from None
                    count += 1
        return count

    # --- OAuth1 consumers ----------------------------------------------------------------

    @announces("OS-OAUTH1:consumer", "created")
    def create_consumer(self, data: dict[str, Any]) -> tuple[m.OAuthConsumer, str]:
        """A new consumer and its secret (returned this once; stored encrypted)."""
        secret = secrets.token_hex(16)
        with self.write() as s:
            consumer = m.OAuthConsumer(id=new_id(), description=data.get("description"),
                                       encrypted_secret=self.credentials._encrypt(secret),
                                       extra=_extra(data, ("id", "description", "secret")))
            s.add(consumer)
            return consumer, secret

    def consumer_secret(self, consumer: m.OAuthConsumer) -> str:
        """The consumer's secret in clear, for an OAuth1 signature check."""
        assert self.credentials.credential_crypto is not None
        try:
            return self.credentials.credential_crypto.decrypt(consumer.encrypted_secret.encode()).decode()
        except InvalidToken:
            raise errors.LitestackError("A consumer secret could not be decrypted with the current keys.") from None

    def get_consumer(self, consumer_id: str) -> m.OAuthConsumer:
        with self.db.reader() as s:
            c: m.OAuthConsumer = get_or_404(s, m.OAuthConsumer, consumer_id, "consumer")
            return c

    def list_consumers(self, limit: int | None = None) -> list[m.OAuthConsumer]:
        """OAuth1 consumers by id; at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            return listing.rows(s, listing.CONSUMERS, {}, limit)

    @announces("OS-OAUTH1:consumer", "updated")
    def update_consumer(self, consumer_id: str, data: dict[str, Any]) -> m.OAuthConsumer:
        if "secret" in data:
            raise errors.ValidationError("The secret of a consumer cannot be changed.")
        with self.write() as s:
            c: m.OAuthConsumer = get_or_404(s, m.OAuthConsumer, consumer_id, "consumer")
            if "description" in data:
                c.description = data["description"]
            c.extra = {**c.extra, **_extra(data, ("id", "description", "secret"))}
            return c

    @announces("OS-OAUTH1:consumer", "deleted")
    def delete_consumer(self, consumer_id: str) -> None:
        """Delete a consumer with its request and access tokens, revoking the tokens issued through them."""
        with self.db.reader() as s:
            get_or_404(s, m.OAuthConsumer, consumer_id, "consumer")
        self.oauth.revoke_consumer_tokens(consumer_id)
        with self.write() as s:
            s.delete(get_or_404(s, m.OAuthConsumer, consumer_id, "consumer"))

    # --- endpoint groups (OS-EP-FILTER) --------------------------------------------------

    @staticmethod
    def _check_filters(filters: dict[str, Any]) -> dict[str, Any]:
        for key, value in filters.items():
            if key not in EP_FILTER_KEYS:
                raise errors.ValidationError(f"{key} is not a valid endpoint group filter; use one of "
                                             f"{', '.join(EP_FILTER_KEYS)}.")
            if not isinstance(value, str) or not value:
                raise errors.ValidationError(f"Invalid input for field 'filters/{key}': a non-empty string "
                                             "is required.")
        if filters.get("interface", "public") not in ("public", "internal", "admin"):
            raise errors.ValidationError("Invalid input for field 'filters/interface': one of public, "
                                         "internal, admin is required.")
        return dict(filters)

    def create_endpoint_group(self, data: dict[str, Any]) -> m.EndpointGroup:
        filters = self._check_filters(data["filters"])
        with self.write() as s:
            group = m.EndpointGroup(id=new_id(), name=data["name"], description=data.get("description"),
                                    filters=filters)
            s.add(group)
            return group

    def get_endpoint_group(self, group_id: str) -> m.EndpointGroup:
        with self.db.reader() as s:
            g: m.EndpointGroup = get_or_404(s, m.EndpointGroup, group_id, "endpoint group")
            return g

    def list_endpoint_groups(self, name: str | None = None, limit: int | None = None) -> list[m.EndpointGroup]:
        """Endpoint groups by id; at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            return listing.rows(s, listing.ENDPOINT_GROUPS, {} if name is None else {"name": name}, limit)

    def update_endpoint_group(self, group_id: str, data: dict[str, Any]) -> m.EndpointGroup:
        filters = self._check_filters(data["filters"]) if "filters" in data else None
        with self.write() as s:
            g: m.EndpointGroup = get_or_404(s, m.EndpointGroup, group_id, "endpoint group")
            if "name" in data:
                g.name = data["name"]
            if "description" in data:
                g.description = data["description"]
            if filters is not None:
                g.filters = filters
            return g

    def delete_endpoint_group(self, group_id: str) -> None:
        with self.write() as s:
            g = get_or_404(s, m.EndpointGroup, group_id, "endpoint group")
            s.execute(delete(m.ProjectEndpointGroup).where(m.ProjectEndpointGroup.endpoint_group_id == group_id))
            s.delete(g)

    def list_endpoints_in_group(self, group_id: str, limit: int | None = None) -> list[m.Endpoint]:
        """The endpoints the group's filters match, by id; at most ``limit + 1``."""
        with self.db.reader() as s:
            g: m.EndpointGroup = get_or_404(s, m.EndpointGroup, group_id, "endpoint group")
            stmt = select(m.Endpoint).where(*(getattr(m.Endpoint, k) == v for k, v in g.filters.items()))
            return listing.rows(s, listing.ENDPOINTS, {}, limit, stmt)

    def add_endpoint_group_to_project(self, group_id: str, project_id: str) -> None:
        try:
            with self.write() as s:
                get_or_404(s, m.EndpointGroup, group_id, "endpoint group")
                get_or_404(s, m.Project, project_id, "project")
                if s.get(m.ProjectEndpointGroup, (group_id, project_id)) is not None:
                    raise self._dup_association(group_id, project_id)
                s.add(m.ProjectEndpointGroup(endpoint_group_id=group_id, project_id=project_id))
        except IntegrityError:  # a concurrent request added it first
            raise self._dup_association(group_id, project_id) from None

    @staticmethod
    def _dup_association(group_id: str, project_id: str) -> errors.Conflict:
        return errors.Conflict(f"Conflict occurred attempting to store project_endpoint_group - endpoint group "
                               f"{group_id} is already associated with project {project_id}.")

    def get_endpoint_group_in_project(self, group_id: str, project_id: str) -> m.Project:
        with self.db.reader() as s:
            get_or_404(s, m.EndpointGroup, group_id, "endpoint group")
            proj: m.Project = get_or_404(s, m.Project, project_id, "project")
            if s.get(m.ProjectEndpointGroup, (group_id, project_id)) is None:
                raise errors.NotFound("Endpoint Group Project Association not found.")
            return proj

    def remove_endpoint_group_from_project(self, group_id: str, project_id: str) -> None:
        with self.write() as s:
            row = s.get(m.ProjectEndpointGroup, (group_id, project_id))
            if row is None:
                raise errors.NotFound("Endpoint Group Project Association not found.")
            s.delete(row)

    def _linked(self, owner: Any, owner_id: str, kind: str, target: Listing, link: Any, owner_col: str,
                target_col: str, limit: int | None) -> list[Any]:
        """The rows of ``target`` that association table ``link`` ties to one ``owner`` row (404 if
        no owner), by id; at most ``limit + 1``."""
        with self.db.reader() as s:
            get_or_404(s, owner, owner_id, kind)
            model = target.model
            q = (select(model).join(link, getattr(link, target_col) == model.id)
                 .where(getattr(link, owner_col) == owner_id))
            return listing.rows(s, target, {}, limit, q)

    def list_projects_for_endpoint_group(self, group_id: str, limit: int | None = None) -> list[m.Project]:
        return self._linked(m.EndpointGroup, group_id, "endpoint group", listing.PROJECTS_BY_ID,
                            m.ProjectEndpointGroup, "endpoint_group_id", "project_id", limit)

    def list_endpoint_groups_for_project(self, project_id: str, limit: int | None = None
                                         ) -> list[m.EndpointGroup]:
        return self._linked(m.Project, project_id, "project", listing.ENDPOINT_GROUPS, m.ProjectEndpointGroup,
                            "project_id", "endpoint_group_id", limit)

    # --- direct project-endpoint associations -------------------------------------------

    def add_endpoint_to_project(self, project_id: str, endpoint_id: str) -> None:
        try:
            with self.write() as s:
                get_or_404(s, m.Project, project_id, "project")
                get_or_404(s, m.Endpoint, endpoint_id, "endpoint")
                if s.get(m.ProjectEndpoint, (endpoint_id, project_id)) is None:
                    s.add(m.ProjectEndpoint(endpoint_id=endpoint_id, project_id=project_id))
        except IntegrityError:  # a concurrent request added it first: PUT is idempotent
            pass

    def check_endpoint_in_project(self, project_id: str, endpoint_id: str) -> None:
        with self.db.reader() as s:
            get_or_404(s, m.Project, project_id, "project")
            get_or_404(s, m.Endpoint, endpoint_id, "endpoint")
            if s.get(m.ProjectEndpoint, (endpoint_id, project_id)) is None:
                raise errors.NotFound(f"Could not find project endpoint: {endpoint_id} in project {project_id}.")

    def remove_endpoint_from_project(self, project_id: str, endpoint_id: str) -> None:
        with self.write() as s:
            row = s.get(m.ProjectEndpoint, (endpoint_id, project_id))
            if row is None:
                raise errors.NotFound(f"Could not find project endpoint: {endpoint_id} in project {project_id}.")
            s.delete(row)

    def list_endpoints_for_project(self, project_id: str, limit: int | None = None) -> list[m.Endpoint]:
        return self._linked(m.Project, project_id, "project", listing.ENDPOINTS, m.ProjectEndpoint, "project_id",
                            "endpoint_id", limit)

    def list_projects_for_endpoint(self, endpoint_id: str, limit: int | None = None) -> list[m.Project]:
        return self._linked(m.Endpoint, endpoint_id, "endpoint", listing.PROJECTS_BY_ID, m.ProjectEndpoint,
                            "endpoint_id", "project_id", limit)

    def project_catalog(self, project_id: str | None) -> list[dict[str, Any]]:
        """The token catalog, filtered by the project's endpoints and endpoint groups (as Keystone does).

        A project with no endpoint association, direct or through a group, or whose associations
        name no enabled endpoint, gets the whole catalog; otherwise only those endpoints, and
        services left without an endpoint are dropped.
        """
        full = self.catalog.catalog(project_id)
        if not project_id:
            return full
        allowed: frozenset[str] | None = self.memo(("ep-filter", project_id),
                                                   lambda: self._filtered_endpoint_ids(project_id))
        if allowed is None:
            return full
        out = []
        for svc in full:
            eps = [ep for ep in svc["endpoints"] if ep["id"] in allowed]
            if eps:
                out.append({**svc, "endpoints": eps})
        return out

    def _filtered_endpoint_ids(self, project_id: str) -> frozenset[str] | None:
        with self.db.reader() as s:
            groups = list(s.scalars(
                select(m.EndpointGroup)
                .join(m.ProjectEndpointGroup, m.ProjectEndpointGroup.endpoint_group_id == m.EndpointGroup.id)
                .where(m.ProjectEndpointGroup.project_id == project_id)))
            direct = set(s.scalars(select(m.ProjectEndpoint.endpoint_id)
                                   .where(m.ProjectEndpoint.project_id == project_id)))
            if not groups and not direct:
                return None
            endpoints = list(s.scalars(select(m.Endpoint).where(m.Endpoint.enabled.is_(True))))
        ids = frozenset(ep.id for ep in endpoints
                        if ep.id in direct or any(endpoint_matches(g.filters, ep) for g in groups))
        return ids or None

    # --- domain configurations -----------------------------------------------------------

    def _config_rows(self, s: Session, domain_id: str) -> list[m.DomainConfigOption]:
        return list(s.scalars(select(m.DomainConfigOption).where(m.DomainConfigOption.domain_id == domain_id)
                              .order_by(m.DomainConfigOption.group_name, m.DomainConfigOption.option_name)))

    @staticmethod
    def _visible(rows: list[m.DomainConfigOption]) -> dict[str, dict[str, Any]]:
        """The configuration as the API shows it: sensitive options left out."""
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r.option_name not in SENSITIVE_OPTIONS.get(r.group_name, ()):
                out.setdefault(r.group_name, {})[r.option_name] = r.value
        return out

    @staticmethod
    def _check_config(config: dict[str, Any]) -> None:
        if not config:
            raise errors.ValidationError("Invalid input for field 'config': no options specified.")
        for group, options in config.items():
            check_config_group(group)
            if not isinstance(options, dict) or not options:
                raise errors.ValidationError(f"Invalid input for field 'config/{group}': the group must be a "
                                             "non-empty object of options.")
            for option in options:
                check_config_option(group, option)

    def _put_options(self, s: Session, domain_id: str, config: dict[str, dict[str, Any]]) -> None:
        for group, options in config.items():
            for option, value in options.items():
                row = s.get(m.DomainConfigOption, (domain_id, group, option))
                if row is None:
                    row = m.DomainConfigOption(domain_id=domain_id, group_name=group, option_name=option)
                    s.add(row)
                if option in SENSITIVE_OPTIONS[group]:
                    row.value = None
                    row.encrypted_value = self.credentials._encrypt(json.dumps(value))
                else:
                    row.value = value
                    row.encrypted_value = None

    def create_domain_config(self, domain_id: str, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Replace the domain's configuration; returns it and whether there was none before."""
        with self.write() as s:
            get_or_404(s, m.Domain, domain_id, "domain")
            self._check_config(config)
            existed = bool(self._config_rows(s, domain_id))
            s.execute(delete(m.DomainConfigOption).where(m.DomainConfigOption.domain_id == domain_id))
            s.flush()
            self._put_options(s, domain_id, config)
            s.flush()
            return self._visible(self._config_rows(s, domain_id)), not existed

    def get_domain_config(self, domain_id: str, group: str | None = None,
                          option: str | None = None) -> dict[str, Any]:
        """The configuration, one group of it, or one option (``{option: value}``)."""
        with self.db.reader() as s:
            get_or_404(s, m.Domain, domain_id, "domain")
            _check_where(group, option)
            config = self._visible(self._config_rows(s, domain_id))
        if group is None:
            if not config:
                raise errors.NotFound(f"Could not find any options in the configuration of domain {domain_id}.")
            return config
        if group not in config:
            raise errors.NotFound(f"Could not find group {group} in the configuration of domain {domain_id}.")
        if option is None:
            return {group: config[group]}
        if option not in config[group]:
            raise errors.NotFound(f"Could not find option {option} in group {group} in the configuration of "
                                  f"domain {domain_id}.")
        return {option: config[group][option]}

    def update_domain_config(self, domain_id: str, config: dict[str, Any], group: str | None = None,
                             option: str | None = None) -> dict[str, Any]:
        """Merge options into the configuration; returns the whole (visible) configuration.

        Updating one group or option requires it to exist already, and the body to name it
        and nothing else.
        """
        self.resources.get_domain(domain_id)
        _check_where(group, option)
        if group is not None and option is not None:
            if list(config) != [option]:
                raise errors.ValidationError(f"Trying to update option {option} in group {group}, so that, and "
                                             "only that, option must be specified in the config.")
            config = {group: config}
        elif group is not None:
            if list(config) != [group]:
                raise errors.ValidationError(f"Trying to update group {group}, so that, and only that, group "
                                             "must be specified in the config.")
        self._check_config(config)
        with self.write() as s:
            get_or_404(s, m.Domain, domain_id, "domain")
            rows = self._config_rows(s, domain_id)
            if group is not None:
                present = {(r.group_name, r.option_name) for r in rows}
                if option is not None and (group, option) not in present:
                    raise errors.NotFound(f"Could not find option {option} in group {group} in the "
                                          f"configuration of domain {domain_id}.")
                if not any(g == group for g, _ in present):
                    raise errors.NotFound(f"Could not find group {group} in the configuration of domain "
                                          f"{domain_id}.")
            self._put_options(s, domain_id, config)
            s.flush()
            return self._visible(self._config_rows(s, domain_id))

    def delete_domain_config(self, domain_id: str, group: str | None = None, option: str | None = None) -> None:
        with self.write() as s:
            get_or_404(s, m.Domain, domain_id, "domain")
            _check_where(group, option)
            rows = self._config_rows(s, domain_id)
            if group is not None:
                rows = [r for r in rows if r.group_name == group]
                if not rows:
                    raise errors.NotFound(f"Could not find group {group} in the configuration of domain "
                                          f"{domain_id}.")
            if option is not None:
                rows = [r for r in rows if r.option_name == option]
                if not rows:
                    raise errors.NotFound(f"Could not find option {option} in group {group} in the "
                                          f"configuration of domain {domain_id}.")
            if not rows:
                raise errors.NotFound(f"Could not find any options in the configuration of domain {domain_id}.")
            for r in rows:
                s.delete(r)

    def domain_config_secret(self, domain_id: str, group: str, option: str) -> Any:
        """A sensitive option's value in clear (never served by the API)."""
        with self.db.reader() as s:
            row = s.get(m.DomainConfigOption, (domain_id, group, option))
        if row is None or row.encrypted_value is None:
            return None
        assert self.credentials.credential_crypto is not None
        return json.loads(self.credentials.credential_crypto.decrypt(row.encrypted_value.encode()).decode())

    @staticmethod
    def default_domain_config(group: str | None = None, option: str | None = None) -> dict[str, Any]:
        """Keystone's defaults for the options a domain may override."""
        if group is None:
            return {g: dict(opts) for g, opts in DOMAIN_CONFIG_DEFAULTS.items()}
        check_config_group(group)
        if option is None:
            return {group: dict(DOMAIN_CONFIG_DEFAULTS[group])}
        check_config_option(group, option)
        if option in SENSITIVE_OPTIONS[group]:
            raise _config_forbidden(f"Reading the default for option {option} in group {group} is not supported")
        return {option: DOMAIN_CONFIG_DEFAULTS[group][option]}


def _extra(data: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in (*known, "links")}
