"""Default policy of the identity service.

The shape follows Keystone's current defaults: an ``admin`` (in any scope) is
the cloud administrator, system readers can read everything, domain readers and
admins act within their domain, and users can act on themselves. The routes
that check each rule are not listed here: ``RULES`` takes them from the Op table.
"""

from __future__ import annotations

from litestack.common.api.policy import with_operations
from litestack.common.policy import RuleDefault
from litestack.identity.api import op_table

ALL = ["system", "domain", "project"]
SYS_PROJ = ["system", "project"]

ADMIN = "rule:admin_required"
SYS_READER = "(role:reader and system_scope:all)"


def dom_reader(path: str) -> str:
    return f"(role:reader and domain_id:%({path})s)"


def dom_admin(path: str) -> str:
    return f"(role:admin and domain_id:%({path})s)"


def _rule(name: str, check: str, desc: str, scope: list[str] | None = None) -> RuleDefault:
    return RuleDefault(f"identity:{name}", check, desc, scope_types=scope or ALL)


READ_ANY = f"{ADMIN} or {SYS_READER}"
TRUSTOR = "user_id:%(target.trust.trustor_user_id)s"
TRUSTEE = "user_id:%(target.trust.trustee_user_id)s"

_DEFAULTS: list[RuleDefault] = [
    RuleDefault("admin_required", "role:admin or is_admin:1", "Cloud administrator."),
    RuleDefault("service_role", "role:service", "A service user."),
    RuleDefault("service_or_admin", "rule:admin_required or rule:service_role", "Service or admin."),
    RuleDefault("owner", "user_id:%(user_id)s", "The user the request is about."),
    RuleDefault("admin_or_owner", "rule:admin_required or rule:owner", "Admin or the user itself."),
    RuleDefault("token_subject", "user_id:%(target.token.user_id)s", "The user a token belongs to."),
    # tokens
    _rule("validate_token", f"rule:service_or_admin or rule:token_subject or {SYS_READER}",
          "Validate a token."),
    _rule("check_token", f"rule:service_or_admin or rule:token_subject or {SYS_READER}",
          "Check a token."),
    _rule("revoke_token", "rule:service_or_admin or rule:token_subject", "Revoke a token."),
    _rule("get_auth_catalog", "", "Catalog of the caller's token."),
    _rule("get_auth_projects", "", "Projects the caller may scope to."),
    _rule("get_auth_domains", "", "Domains the caller may scope to."),
    _rule("get_auth_system", "", "System scopes the caller may use."),
    # domains
    _rule("get_domain", f"{READ_ANY} or token.domain.id:%(target.domain.id)s or "
          "token.project.domain.id:%(target.domain.id)s", "Show a domain."),
    _rule("list_domains", READ_ANY, "List domains."),
    _rule("create_domain", ADMIN, "Create a domain.", SYS_PROJ),
    _rule("update_domain", ADMIN, "Update a domain.", SYS_PROJ),
    _rule("delete_domain", ADMIN, "Delete a domain.", SYS_PROJ),
    # projects
    _rule("get_project", f"{READ_ANY} or {dom_reader('target.project.domain_id')} or "
          "project_id:%(target.project.id)s", "Show a project."),
    _rule("list_projects", f"{READ_ANY} or {dom_reader('target.domain_id')}", "List projects."),
    _rule("list_user_projects", f"rule:admin_or_owner or {SYS_READER} or "
          f"{dom_reader('target.user.domain_id')}", "List a user's projects."),
    _rule("create_project", f"{ADMIN} or {dom_admin('target.project.domain_id')}", "Create a project."),
    _rule("update_project", f"{ADMIN} or {dom_admin('target.project.domain_id')}", "Update a project."),
    _rule("delete_project", f"{ADMIN} or {dom_admin('target.project.domain_id')}", "Delete a project."),
    _rule("list_project_tags", f"{READ_ANY} or {dom_reader('target.project.domain_id')} or "
          "project_id:%(target.project.id)s", "List project tags."),
    _rule("update_project_tags", f"{ADMIN} or {dom_admin('target.project.domain_id')}",
          "Change project tags."),
    # users
    _rule("get_user", f"{READ_ANY} or {dom_reader('target.user.domain_id')} or user_id:%(target.user.id)s",
          "Show a user."),
    _rule("list_users", f"{READ_ANY} or {dom_reader('target.domain_id')}", "List users."),
    _rule("create_user", f"{ADMIN} or {dom_admin('target.user.domain_id')}", "Create a user."),
    _rule("update_user", f"{ADMIN} or {dom_admin('target.user.domain_id')}", "Update a user."),
    _rule("delete_user", f"{ADMIN} or {dom_admin('target.user.domain_id')}", "Delete a user."),
    # groups
    _rule("get_group", f"{READ_ANY} or {dom_reader('target.group.domain_id')}", "Show a group."),
    _rule("list_groups", f"{READ_ANY} or {dom_reader('target.domain_id')}", "List groups."),
    _rule("list_groups_for_user", f"rule:admin_or_owner or {SYS_READER} or "
          f"{dom_reader('target.user.domain_id')}", "List a user's groups."),
    _rule("create_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}", "Create a group."),
    _rule("update_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}", "Update a group."),
    _rule("delete_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}", "Delete a group."),
    _rule("list_users_in_group", f"{READ_ANY} or {dom_reader('target.group.domain_id')}",
          "List a group's members."),
    _rule("check_user_in_group", f"{READ_ANY} or {dom_reader('target.group.domain_id')}",
          "Check membership."),
    _rule("add_user_to_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}", "Add a member."),
    _rule("remove_user_from_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}",
          "Remove a member."),
    # roles
    _rule("get_role", f"{READ_ANY} or role:reader", "Show a role."),
    _rule("list_roles", f"{READ_ANY} or (role:reader and domain_id:%(target.domain_id)s)", "List roles."),
    _rule("create_role", ADMIN, "Create a role.", SYS_PROJ),
    _rule("update_role", ADMIN, "Update a role.", SYS_PROJ),
    _rule("delete_role", ADMIN, "Delete a role.", SYS_PROJ),
    _rule("list_implied_roles", READ_ANY, "List implied roles."),
    _rule("get_implied_role", READ_ANY, "Show an implied role."),
    _rule("create_implied_role", ADMIN, "Create an implied role.", SYS_PROJ),
    _rule("delete_implied_role", ADMIN, "Delete an implied role.", SYS_PROJ),
    _rule("list_role_inference_rules", READ_ANY, "List role inferences."),
    # grants and assignments
    _rule("check_grant", f"{READ_ANY} or {dom_reader('target.domain_id')}", "Check a grant."),
    _rule("list_grants", f"{READ_ANY} or {dom_reader('target.domain_id')}", "List grants."),
    _rule("create_grant", f"{ADMIN} or {dom_admin('target.domain_id')}", "Grant a role."),
    _rule("revoke_grant", f"{ADMIN} or {dom_admin('target.domain_id')}", "Revoke a role."),
    _rule("list_system_grants", f"{READ_ANY} or user_id:%(target.user.id)s", "List system grants."),
    _rule("check_system_grant", READ_ANY, "Check a system grant."),
    _rule("create_system_grant", ADMIN, "Grant a system role.", SYS_PROJ),
    _rule("revoke_system_grant", ADMIN, "Revoke a system role.", SYS_PROJ),
    _rule("list_role_assignments", f"{READ_ANY} or {dom_reader('target.domain_id')}",
          "List role assignments."),
    # catalog
    _rule("get_region", "", "Show a region."),
    _rule("list_regions", "", "List regions."),
    _rule("create_region", ADMIN, "Create a region.", SYS_PROJ),
    _rule("update_region", ADMIN, "Update a region.", SYS_PROJ),
    _rule("delete_region", ADMIN, "Delete a region.", SYS_PROJ),
    _rule("get_service", READ_ANY, "Show a service."),
    _rule("list_services", READ_ANY, "List services."),
    _rule("create_service", ADMIN, "Create a service.", SYS_PROJ),
    _rule("update_service", ADMIN, "Update a service.", SYS_PROJ),
    _rule("delete_service", ADMIN, "Delete a service.", SYS_PROJ),
    _rule("get_endpoint", READ_ANY, "Show an endpoint."),
    _rule("list_endpoints", READ_ANY, "List endpoints."),
    _rule("create_endpoint", ADMIN, "Create an endpoint.", SYS_PROJ),
    _rule("update_endpoint", ADMIN, "Update an endpoint.", SYS_PROJ),
    _rule("delete_endpoint", ADMIN, "Delete an endpoint.", SYS_PROJ),
    # application credentials and access rules: the owner only (and admins to read/delete)
    _rule("get_application_credential", f"{READ_ANY} or rule:owner", "Show an application credential."),
    _rule("list_application_credentials", f"{READ_ANY} or rule:owner", "List application credentials."),
    _rule("create_application_credential", "user_id:%(user_id)s", "Create an application credential.", ["project"]),
    _rule("delete_application_credential", f"{ADMIN} or rule:owner", "Delete an application credential."),
    # trusts (OS-TRUST): the trustor creates and deletes; trustor and trustee read
    _rule("create_trust", TRUSTOR, "Create a trust (the caller must be the trustor).", ["project"]),
    _rule("list_trusts", READ_ANY, "List every trust.", SYS_PROJ),
    _rule("list_trusts_for_trustor", f"{READ_ANY} or {TRUSTOR}", "List the trusts a user gave.", SYS_PROJ),
    _rule("list_trusts_for_trustee", f"{READ_ANY} or {TRUSTEE}", "List the trusts a user received.", SYS_PROJ),
    _rule("get_trust", f"{READ_ANY} or {TRUSTOR} or {TRUSTEE}", "Show a trust.", SYS_PROJ),
    _rule("list_roles_for_trust", f"{READ_ANY} or {TRUSTOR} or {TRUSTEE}", "List a trust's roles.",
          SYS_PROJ),
    _rule("get_role_for_trust", f"{READ_ANY} or {TRUSTOR} or {TRUSTEE}", "Show or check a role of a trust.", SYS_PROJ),
    _rule("delete_trust", f"{ADMIN} or {TRUSTOR}", "Delete a trust.", SYS_PROJ),
    # unified limits: anyone reads registered limits and the model; admins write; limits are read
    # by the system, admins, and the domain or project they belong to
    _rule("get_limit_model", "", "Show the limit enforcement model."),
    _rule("get_registered_limit", "", "Show a registered limit."),
    _rule("list_registered_limits", "", "List registered limits."),
    _rule("create_registered_limits", ADMIN, "Create registered limits.",
          SYS_PROJ),
    _rule("update_registered_limit", ADMIN, "Update a registered limit.", SYS_PROJ),
    _rule("delete_registered_limit", ADMIN, "Delete a registered limit.", SYS_PROJ),
    _rule("get_limit", f"{READ_ANY} or domain_id:%(target.limit.domain.id)s or "
          "domain_id:%(target.limit.project.domain_id)s or project_id:%(target.limit.project_id)s",
          "Show a limit."),
    _rule("list_limits", "", "List limits (each caller sees those of its scope)."),
    _rule("create_limits", ADMIN, "Create limits.", SYS_PROJ),
    _rule("update_limit", ADMIN, "Update a limit.", SYS_PROJ),
    _rule("delete_limit", ADMIN, "Delete a limit.", SYS_PROJ),
    # OAuth1 delegation: any project member authorizes a request token (with roles they hold);
    # access tokens are read and revoked by the user who authorized them
    _rule("authorize_request_token", "", "Authorize an OAuth1 request token.", ["project"]),
    _rule("list_access_tokens", f"{READ_ANY} or rule:owner", "List a user's OAuth1 access tokens."),
    _rule("get_access_token", f"{READ_ANY} or rule:owner", "Show an OAuth1 access token."),
    _rule("delete_access_token", f"{ADMIN} or rule:owner", "Revoke an OAuth1 access token."),
    _rule("list_access_token_roles", f"{READ_ANY} or rule:owner", "List an OAuth1 access token's roles."),
    _rule("get_access_token_role", f"{READ_ANY} or rule:owner", "Show a role of an OAuth1 access token."),
    _rule("get_access_rule", f"{READ_ANY} or rule:owner", "Show an access rule."),
    _rule("list_access_rules", f"{READ_ANY} or rule:owner", "List access rules."),
    _rule("delete_access_rule", f"{ADMIN} or rule:owner", "Delete an access rule."),
    # credentials
    _rule("get_credential", f"{READ_ANY} or user_id:%(target.credential.user_id)s", "Show a credential."),
    _rule("list_credentials", f"{READ_ANY} or user_id:%(target.credential.user_id)s",
          "List credentials."),
    _rule("create_credential", f"{ADMIN} or user_id:%(target.credential.user_id)s", "Create a credential."),
    _rule("update_credential", f"{ADMIN} or user_id:%(target.credential.user_id)s", "Update a credential."),
    _rule("delete_credential", f"{ADMIN} or user_id:%(target.credential.user_id)s", "Delete a credential."),
    _rule("ec2_get_credential", f"{READ_ANY} or user_id:%(target.credential.user_id)s",
          "Show an ec2 credential."),
    _rule("ec2_list_credentials", f"{READ_ANY} or rule:owner", "List ec2 credentials."),
    _rule("ec2_create_credential", f"{ADMIN} or rule:owner", "Create an ec2 credential."),
    _rule("ec2_delete_credential", f"{ADMIN} or user_id:%(target.credential.user_id)s",
          "Delete an ec2 credential."),
    # policies, OAuth1 consumers, endpoint groups (OS-EP-FILTER), domain configurations
    _rule("get_policy", READ_ANY, "Show a policy."),
    _rule("list_policies", READ_ANY, "List policies."),
    _rule("create_policy", ADMIN, "Create a policy.", SYS_PROJ),
    _rule("update_policy", ADMIN, "Update a policy.", SYS_PROJ),
    _rule("delete_policy", ADMIN, "Delete a policy.", SYS_PROJ),
    _rule("get_consumer", READ_ANY, "Show an OAuth1 consumer."),
    _rule("list_consumers", READ_ANY, "List OAuth1 consumers."),
    _rule("create_consumer", ADMIN, "Create an OAuth1 consumer.",
          SYS_PROJ),
    _rule("update_consumer", ADMIN, "Update an OAuth1 consumer.",
          SYS_PROJ),
    _rule("delete_consumer", ADMIN, "Delete an OAuth1 consumer.",
          SYS_PROJ),
    _rule("get_endpoint_group", READ_ANY, "Show or check an endpoint group."),
    _rule("list_endpoint_groups", READ_ANY, "List endpoint groups."),
    _rule("create_endpoint_group", ADMIN, "Create an endpoint group.", SYS_PROJ),
    _rule("update_endpoint_group", ADMIN, "Update an endpoint group.", SYS_PROJ),
    _rule("delete_endpoint_group", ADMIN, "Delete an endpoint group.", SYS_PROJ),
    _rule("list_endpoints_associated_with_endpoint_group", READ_ANY, "List an endpoint group's endpoints."),
    _rule("list_projects_associated_with_endpoint_group", READ_ANY, "List an endpoint group's projects."),
    _rule("get_endpoint_group_in_project", READ_ANY, "Show or check an endpoint group's project association."),
    _rule("list_endpoint_groups_for_project", READ_ANY, "List a project's endpoint groups."),
    _rule("add_endpoint_group_to_project", ADMIN, "Associate an endpoint group with a project.", SYS_PROJ),
    _rule("remove_endpoint_group_from_project", ADMIN, "Remove an endpoint group's project association.", SYS_PROJ),
    _rule("add_endpoint_to_project", ADMIN, "Associate an endpoint with a project.", SYS_PROJ),
    _rule("check_endpoint_in_project", READ_ANY, "Check an endpoint's project association."),
    _rule("remove_endpoint_from_project", ADMIN, "Remove an endpoint's project association.", SYS_PROJ),
    _rule("list_endpoints_for_project", READ_ANY, "List the endpoints associated with a project."),
    _rule("list_projects_for_endpoint", READ_ANY, "List the projects associated with an endpoint."),
    *[_rule(f"{verb}_policy_association_for_{kind}", check, f"{desc} a policy's association with {what}.",
            SYS_PROJ if check == ADMIN else None)
      for kind, path, what in (("endpoint", "/endpoints/{endpoint_id}", "an endpoint"),
                               ("service", "/services/{service_id}", "a service"),
                               ("region_and_service", "/services/{service_id}/regions/{region_id}",
                                "a service in a region"))
      for verb, check, desc, methods in (("create", ADMIN, "Create", ("PUT",)),
                                         ("check", READ_ANY, "Check", ("GET", "HEAD")),
                                         ("delete", ADMIN, "Delete", ("DELETE",)))],
    _rule("list_endpoints_for_policy", READ_ANY, "List the endpoints a policy is associated with."),
    _rule("get_policy_for_endpoint", READ_ANY, "Show the policy of an endpoint."),
    _rule("get_domain_config", READ_ANY, "Show a domain's configuration, a group or an option."),
    _rule("get_domain_config_default", READ_ANY, "Show the default domain configuration."),
    _rule("create_domain_config", ADMIN, "Create a domain's configuration.", SYS_PROJ),
    _rule("update_domain_config", ADMIN, "Update a domain's configuration, a group or an option.", SYS_PROJ),
    _rule("delete_domain_config", ADMIN, "Delete a domain's configuration, a group or an option.", SYS_PROJ),
]

#: The identity rules, each with the operations (method and path) of the routes that check it,
#: read from the API's Op table: a route names its rule once, there.
RULES: list[RuleDefault] = with_operations(_DEFAULTS, op_table())
