"""Default policy of the identity service.

The shape follows Keystone's current defaults: an ``admin`` (in any scope) is
the cloud administrator, system readers can read everything, domain readers and
admins act within their domain, and users can act on themselves.
"""

from __future__ import annotations

from litestack.common.policy import RuleDefault

ALL = ["system", "domain", "project"]
SYS_PROJ = ["system", "project"]

ADMIN = "rule:admin_required"
SYS_READER = "(role:reader and system_scope:all)"


def dom_reader(path: str) -> str:
    return f"(role:reader and domain_id:%({path})s)"


def dom_admin(path: str) -> str:
    return f"(role:admin and domain_id:%({path})s)"


def _rule(name: str, check: str, desc: str, ops: list[tuple[str, str]], scope: list[str] | None = None
          ) -> RuleDefault:
    return RuleDefault(f"identity:{name}", check, desc, scope_types=scope or ALL,
                       operations=[{"method": m, "path": p} for m, p in ops])


READ_ANY = f"{ADMIN} or {SYS_READER}"
TRUSTOR = "user_id:%(target.trust.trustor_user_id)s"
TRUSTEE = "user_id:%(target.trust.trustee_user_id)s"

RULES: list[RuleDefault] = [
    RuleDefault("admin_required", "role:admin or is_admin:1", "Cloud administrator."),
    RuleDefault("service_role", "role:service", "A service user."),
    RuleDefault("service_or_admin", "rule:admin_required or rule:service_role", "Service or admin."),
    RuleDefault("owner", "user_id:%(user_id)s", "The user the request is about."),
    RuleDefault("admin_or_owner", "rule:admin_required or rule:owner", "Admin or the user itself."),
    RuleDefault("token_subject", "user_id:%(target.token.user_id)s", "The user a token belongs to."),
    # tokens
    _rule("validate_token", f"rule:service_or_admin or rule:token_subject or {SYS_READER}",
          "Validate a token.", [("GET", "/v3/auth/tokens")]),
    _rule("check_token", f"rule:service_or_admin or rule:token_subject or {SYS_READER}",
          "Check a token.", [("HEAD", "/v3/auth/tokens")]),
    _rule("revoke_token", "rule:service_or_admin or rule:token_subject", "Revoke a token.",
          [("DELETE", "/v3/auth/tokens")]),
    _rule("get_auth_catalog", "", "Catalog of the caller's token.", [("GET", "/v3/auth/catalog")]),
    _rule("get_auth_projects", "", "Projects the caller may scope to.", [("GET", "/v3/auth/projects")]),
    _rule("get_auth_domains", "", "Domains the caller may scope to.", [("GET", "/v3/auth/domains")]),
    _rule("get_auth_system", "", "System scopes the caller may use.", [("GET", "/v3/auth/system")]),
    # domains
    _rule("get_domain", f"{READ_ANY} or token.domain.id:%(target.domain.id)s or "
          "token.project.domain.id:%(target.domain.id)s", "Show a domain.", [("GET", "/v3/domains/{id}")]),
    _rule("list_domains", READ_ANY, "List domains.", [("GET", "/v3/domains")]),
    _rule("create_domain", ADMIN, "Create a domain.", [("POST", "/v3/domains")], SYS_PROJ),
    _rule("update_domain", ADMIN, "Update a domain.", [("PATCH", "/v3/domains/{id}")], SYS_PROJ),
    _rule("delete_domain", ADMIN, "Delete a domain.", [("DELETE", "/v3/domains/{id}")], SYS_PROJ),
    # projects
    _rule("get_project", f"{READ_ANY} or {dom_reader('target.project.domain_id')} or "
          "project_id:%(target.project.id)s", "Show a project.", [("GET", "/v3/projects/{id}")]),
    _rule("list_projects", f"{READ_ANY} or {dom_reader('target.domain_id')}", "List projects.",
          [("GET", "/v3/projects")]),
    _rule("list_user_projects", f"rule:admin_or_owner or {SYS_READER} or "
          f"{dom_reader('target.user.domain_id')}", "List a user's projects.",
          [("GET", "/v3/users/{user_id}/projects")]),
    _rule("create_project", f"{ADMIN} or {dom_admin('target.project.domain_id')}", "Create a project.",
          [("POST", "/v3/projects")]),
    _rule("update_project", f"{ADMIN} or {dom_admin('target.project.domain_id')}", "Update a project.",
          [("PATCH", "/v3/projects/{id}")]),
    _rule("delete_project", f"{ADMIN} or {dom_admin('target.project.domain_id')}", "Delete a project.",
          [("DELETE", "/v3/projects/{id}")]),
    _rule("list_project_tags", f"{READ_ANY} or {dom_reader('target.project.domain_id')} or "
          "project_id:%(target.project.id)s", "List project tags.", [("GET", "/v3/projects/{id}/tags")]),
    _rule("update_project_tags", f"{ADMIN} or {dom_admin('target.project.domain_id')}",
          "Change project tags.", [("PUT", "/v3/projects/{id}/tags")]),
    # users
    _rule("get_user", f"{READ_ANY} or {dom_reader('target.user.domain_id')} or user_id:%(target.user.id)s",
          "Show a user.", [("GET", "/v3/users/{id}")]),
    _rule("list_users", f"{READ_ANY} or {dom_reader('target.domain_id')}", "List users.",
          [("GET", "/v3/users")]),
    _rule("create_user", f"{ADMIN} or {dom_admin('target.user.domain_id')}", "Create a user.",
          [("POST", "/v3/users")]),
    _rule("update_user", f"{ADMIN} or {dom_admin('target.user.domain_id')}", "Update a user.",
          [("PATCH", "/v3/users/{id}")]),
    _rule("delete_user", f"{ADMIN} or {dom_admin('target.user.domain_id')}", "Delete a user.",
          [("DELETE", "/v3/users/{id}")]),
    # groups
    _rule("get_group", f"{READ_ANY} or {dom_reader('target.group.domain_id')}", "Show a group.",
          [("GET", "/v3/groups/{id}")]),
    _rule("list_groups", f"{READ_ANY} or {dom_reader('target.domain_id')}", "List groups.",
          [("GET", "/v3/groups")]),
    _rule("list_groups_for_user", f"rule:admin_or_owner or {SYS_READER} or "
          f"{dom_reader('target.user.domain_id')}", "List a user's groups.",
          [("GET", "/v3/users/{user_id}/groups")]),
    _rule("create_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}", "Create a group.",
          [("POST", "/v3/groups")]),
    _rule("update_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}", "Update a group.",
          [("PATCH", "/v3/groups/{id}")]),
    _rule("delete_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}", "Delete a group.",
          [("DELETE", "/v3/groups/{id}")]),
    _rule("list_users_in_group", f"{READ_ANY} or {dom_reader('target.group.domain_id')}",
          "List a group's members.", [("GET", "/v3/groups/{id}/users")]),
    _rule("check_user_in_group", f"{READ_ANY} or {dom_reader('target.group.domain_id')}",
          "Check membership.", [("HEAD", "/v3/groups/{id}/users/{user_id}")]),
    _rule("add_user_to_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}", "Add a member.",
          [("PUT", "/v3/groups/{id}/users/{user_id}")]),
    _rule("remove_user_from_group", f"{ADMIN} or {dom_admin('target.group.domain_id')}",
          "Remove a member.", [("DELETE", "/v3/groups/{id}/users/{user_id}")]),
    # roles
    _rule("get_role", f"{READ_ANY} or role:reader", "Show a role.", [("GET", "/v3/roles/{id}")]),
    _rule("list_roles", f"{READ_ANY} or (role:reader and domain_id:%(target.domain_id)s)", "List roles.",
          [("GET", "/v3/roles")]),
    _rule("create_role", ADMIN, "Create a role.", [("POST", "/v3/roles")], SYS_PROJ),
    _rule("update_role", ADMIN, "Update a role.", [("PATCH", "/v3/roles/{id}")], SYS_PROJ),
    _rule("delete_role", ADMIN, "Delete a role.", [("DELETE", "/v3/roles/{id}")], SYS_PROJ),
    _rule("list_implied_roles", READ_ANY, "List implied roles.", [("GET", "/v3/roles/{id}/implies")]),
    _rule("get_implied_role", READ_ANY, "Show an implied role.",
          [("GET", "/v3/roles/{prior}/implies/{implied}")]),
    _rule("create_implied_role", ADMIN, "Create an implied role.",
          [("PUT", "/v3/roles/{prior}/implies/{implied}")], SYS_PROJ),
    _rule("delete_implied_role", ADMIN, "Delete an implied role.",
          [("DELETE", "/v3/roles/{prior}/implies/{implied}")], SYS_PROJ),
    _rule("list_role_inference_rules", READ_ANY, "List role inferences.", [("GET", "/v3/role_inferences")]),
    # grants and assignments
    _rule("check_grant", f"{READ_ANY} or {dom_reader('target.domain_id')}", "Check a grant.",
          [("HEAD", "/v3/projects/{p}/users/{u}/roles/{r}")]),
    _rule("list_grants", f"{READ_ANY} or {dom_reader('target.domain_id')}", "List grants.",
          [("GET", "/v3/projects/{p}/users/{u}/roles")]),
    _rule("create_grant", f"{ADMIN} or {dom_admin('target.domain_id')}", "Grant a role.",
          [("PUT", "/v3/projects/{p}/users/{u}/roles/{r}")]),
    _rule("revoke_grant", f"{ADMIN} or {dom_admin('target.domain_id')}", "Revoke a role.",
          [("DELETE", "/v3/projects/{p}/users/{u}/roles/{r}")]),
    _rule("list_system_grants", f"{READ_ANY} or user_id:%(target.user.id)s", "List system grants.",
          [("GET", "/v3/system/users/{u}/roles")]),
    _rule("check_system_grant", READ_ANY, "Check a system grant.",
          [("HEAD", "/v3/system/users/{u}/roles/{r}")]),
    _rule("create_system_grant", ADMIN, "Grant a system role.",
          [("PUT", "/v3/system/users/{u}/roles/{r}")], SYS_PROJ),
    _rule("revoke_system_grant", ADMIN, "Revoke a system role.",
          [("DELETE", "/v3/system/users/{u}/roles/{r}")], SYS_PROJ),
    _rule("list_role_assignments", f"{READ_ANY} or {dom_reader('target.domain_id')}",
          "List role assignments.", [("GET", "/v3/role_assignments")]),
    # catalog
    _rule("get_region", "", "Show a region.", [("GET", "/v3/regions/{id}")]),
    _rule("list_regions", "", "List regions.", [("GET", "/v3/regions")]),
    _rule("create_region", ADMIN, "Create a region.", [("POST", "/v3/regions")], SYS_PROJ),
    _rule("update_region", ADMIN, "Update a region.", [("PATCH", "/v3/regions/{id}")], SYS_PROJ),
    _rule("delete_region", ADMIN, "Delete a region.", [("DELETE", "/v3/regions/{id}")], SYS_PROJ),
    _rule("get_service", READ_ANY, "Show a service.", [("GET", "/v3/services/{id}")]),
    _rule("list_services", READ_ANY, "List services.", [("GET", "/v3/services")]),
    _rule("create_service", ADMIN, "Create a service.", [("POST", "/v3/services")], SYS_PROJ),
    _rule("update_service", ADMIN, "Update a service.", [("PATCH", "/v3/services/{id}")], SYS_PROJ),
    _rule("delete_service", ADMIN, "Delete a service.", [("DELETE", "/v3/services/{id}")], SYS_PROJ),
    _rule("get_endpoint", READ_ANY, "Show an endpoint.", [("GET", "/v3/endpoints/{id}")]),
    _rule("list_endpoints", READ_ANY, "List endpoints.", [("GET", "/v3/endpoints")]),
    _rule("create_endpoint", ADMIN, "Create an endpoint.", [("POST", "/v3/endpoints")], SYS_PROJ),
    _rule("update_endpoint", ADMIN, "Update an endpoint.", [("PATCH", "/v3/endpoints/{id}")], SYS_PROJ),
    _rule("delete_endpoint", ADMIN, "Delete an endpoint.", [("DELETE", "/v3/endpoints/{id}")], SYS_PROJ),
    # application credentials and access rules: the owner only (and admins to read/delete)
    _rule("get_application_credential", f"{READ_ANY} or rule:owner", "Show an application credential.",
          [("GET", "/v3/users/{user_id}/application_credentials/{id}")]),
    _rule("list_application_credentials", f"{READ_ANY} or rule:owner", "List application credentials.",
          [("GET", "/v3/users/{user_id}/application_credentials")]),
    _rule("create_application_credential", "user_id:%(user_id)s", "Create an application credential.",
          [("POST", "/v3/users/{user_id}/application_credentials")], ["project"]),
    _rule("delete_application_credential", f"{ADMIN} or rule:owner", "Delete an application credential.",
          [("DELETE", "/v3/users/{user_id}/application_credentials/{id}")]),
    # trusts (OS-TRUST): the trustor creates and deletes; trustor and trustee read
    _rule("create_trust", TRUSTOR, "Create a trust (the caller must be the trustor).",
          [("POST", "/v3/OS-TRUST/trusts")], ["project"]),
    _rule("list_trusts", READ_ANY, "List every trust.", [("GET", "/v3/OS-TRUST/trusts")], SYS_PROJ),
    _rule("list_trusts_for_trustor", f"{READ_ANY} or {TRUSTOR}", "List the trusts a user gave.",
          [("GET", "/v3/OS-TRUST/trusts?trustor_user_id={trustor_user_id}")], SYS_PROJ),
    _rule("list_trusts_for_trustee", f"{READ_ANY} or {TRUSTEE}", "List the trusts a user received.",
          [("GET", "/v3/OS-TRUST/trusts?trustee_user_id={trustee_user_id}")], SYS_PROJ),
    _rule("get_trust", f"{READ_ANY} or {TRUSTOR} or {TRUSTEE}", "Show a trust.",
          [("GET", "/v3/OS-TRUST/trusts/{trust_id}"), ("HEAD", "/v3/OS-TRUST/trusts/{trust_id}")], SYS_PROJ),
    _rule("list_roles_for_trust", f"{READ_ANY} or {TRUSTOR} or {TRUSTEE}", "List a trust's roles.",
          [("GET", "/v3/OS-TRUST/trusts/{trust_id}/roles"), ("HEAD", "/v3/OS-TRUST/trusts/{trust_id}/roles")],
          SYS_PROJ),
    _rule("get_role_for_trust", f"{READ_ANY} or {TRUSTOR} or {TRUSTEE}", "Show or check a role of a trust.",
          [("GET", "/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}"),
           ("HEAD", "/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}")], SYS_PROJ),
    _rule("delete_trust", f"{ADMIN} or {TRUSTOR}", "Delete a trust.",
          [("DELETE", "/v3/OS-TRUST/trusts/{trust_id}")], SYS_PROJ),
    # unified limits: anyone reads registered limits and the model; admins write; limits are read
    # by the system, admins, and the domain or project they belong to
    _rule("get_limit_model", "", "Show the limit enforcement model.", [("GET", "/v3/limits/model")]),
    _rule("get_registered_limit", "", "Show a registered limit.", [("GET", "/v3/registered_limits/{id}")]),
    _rule("list_registered_limits", "", "List registered limits.", [("GET", "/v3/registered_limits")]),
    _rule("create_registered_limits", ADMIN, "Create registered limits.", [("POST", "/v3/registered_limits")],
          SYS_PROJ),
    _rule("update_registered_limit", ADMIN, "Update a registered limit.",
          [("PATCH", "/v3/registered_limits/{id}")], SYS_PROJ),
    _rule("delete_registered_limit", ADMIN, "Delete a registered limit.",
          [("DELETE", "/v3/registered_limits/{id}")], SYS_PROJ),
    _rule("get_limit", f"{READ_ANY} or domain_id:%(target.limit.domain.id)s or "
          "domain_id:%(target.limit.project.domain_id)s or project_id:%(target.limit.project_id)s",
          "Show a limit.", [("GET", "/v3/limits/{id}")]),
    _rule("list_limits", "", "List limits (each caller sees those of its scope).", [("GET", "/v3/limits")]),
    _rule("create_limits", ADMIN, "Create limits.", [("POST", "/v3/limits")], SYS_PROJ),
    _rule("update_limit", ADMIN, "Update a limit.", [("PATCH", "/v3/limits/{id}")], SYS_PROJ),
    _rule("delete_limit", ADMIN, "Delete a limit.", [("DELETE", "/v3/limits/{id}")], SYS_PROJ),
    _rule("get_access_rule", f"{READ_ANY} or rule:owner", "Show an access rule.",
          [("GET", "/v3/users/{user_id}/access_rules/{id}")]),
    _rule("list_access_rules", f"{READ_ANY} or rule:owner", "List access rules.",
          [("GET", "/v3/users/{user_id}/access_rules")]),
    _rule("delete_access_rule", f"{ADMIN} or rule:owner", "Delete an access rule.",
          [("DELETE", "/v3/users/{user_id}/access_rules/{id}")]),
    # credentials
    _rule("get_credential", f"{READ_ANY} or user_id:%(target.credential.user_id)s", "Show a credential.",
          [("GET", "/v3/credentials/{id}")]),
    _rule("list_credentials", f"{READ_ANY} or user_id:%(target.credential.user_id)s",
          "List credentials.", [("GET", "/v3/credentials")]),
    _rule("create_credential", f"{ADMIN} or user_id:%(target.credential.user_id)s", "Create a credential.",
          [("POST", "/v3/credentials")]),
    _rule("update_credential", f"{ADMIN} or user_id:%(target.credential.user_id)s", "Update a credential.",
          [("PATCH", "/v3/credentials/{id}")]),
    _rule("delete_credential", f"{ADMIN} or user_id:%(target.credential.user_id)s", "Delete a credential.",
          [("DELETE", "/v3/credentials/{id}")]),
    _rule("ec2_get_credential", f"{READ_ANY} or user_id:%(target.credential.user_id)s",
          "Show an ec2 credential.", [("GET", "/v3/users/{user_id}/credentials/OS-EC2/{id}")]),
    _rule("ec2_list_credentials", f"{READ_ANY} or rule:owner", "List ec2 credentials.",
          [("GET", "/v3/users/{user_id}/credentials/OS-EC2")]),
    _rule("ec2_create_credential", f"{ADMIN} or rule:owner", "Create an ec2 credential.",
          [("POST", "/v3/users/{user_id}/credentials/OS-EC2")]),
    _rule("ec2_delete_credential", f"{ADMIN} or user_id:%(target.credential.user_id)s",
          "Delete an ec2 credential.", [("DELETE", "/v3/users/{user_id}/credentials/OS-EC2/{id}")]),
    # policies, OAuth1 consumers, endpoint groups (OS-EP-FILTER), domain configurations
    _rule("get_policy", READ_ANY, "Show a policy.", [("GET", "/v3/policies/{id}")]),
    _rule("list_policies", READ_ANY, "List policies.", [("GET", "/v3/policies")]),
    _rule("create_policy", ADMIN, "Create a policy.", [("POST", "/v3/policies")], SYS_PROJ),
    _rule("update_policy", ADMIN, "Update a policy.", [("PATCH", "/v3/policies/{id}")], SYS_PROJ),
    _rule("delete_policy", ADMIN, "Delete a policy.", [("DELETE", "/v3/policies/{id}")], SYS_PROJ),
    _rule("get_consumer", READ_ANY, "Show an OAuth1 consumer.", [("GET", "/v3/OS-OAUTH1/consumers/{id}")]),
    _rule("list_consumers", READ_ANY, "List OAuth1 consumers.", [("GET", "/v3/OS-OAUTH1/consumers")]),
    _rule("create_consumer", ADMIN, "Create an OAuth1 consumer.", [("POST", "/v3/OS-OAUTH1/consumers")],
          SYS_PROJ),
    _rule("update_consumer", ADMIN, "Update an OAuth1 consumer.", [("PATCH", "/v3/OS-OAUTH1/consumers/{id}")],
          SYS_PROJ),
    _rule("delete_consumer", ADMIN, "Delete an OAuth1 consumer.", [("DELETE", "/v3/OS-OAUTH1/consumers/{id}")],
          SYS_PROJ),
    _rule("get_endpoint_group", READ_ANY, "Show or check an endpoint group.",
          [("GET", "/v3/OS-EP-FILTER/endpoint_groups/{id}"), ("HEAD", "/v3/OS-EP-FILTER/endpoint_groups/{id}")]),
    _rule("list_endpoint_groups", READ_ANY, "List endpoint groups.", [("GET", "/v3/OS-EP-FILTER/endpoint_groups")]),
    _rule("create_endpoint_group", ADMIN, "Create an endpoint group.",
          [("POST", "/v3/OS-EP-FILTER/endpoint_groups")], SYS_PROJ),
    _rule("update_endpoint_group", ADMIN, "Update an endpoint group.",
          [("PATCH", "/v3/OS-EP-FILTER/endpoint_groups/{id}")], SYS_PROJ),
    _rule("delete_endpoint_group", ADMIN, "Delete an endpoint group.",
          [("DELETE", "/v3/OS-EP-FILTER/endpoint_groups/{id}")], SYS_PROJ),
    _rule("list_endpoints_associated_with_endpoint_group", READ_ANY, "List an endpoint group's endpoints.",
          [("GET", "/v3/OS-EP-FILTER/endpoint_groups/{id}/endpoints")]),
    _rule("list_projects_associated_with_endpoint_group", READ_ANY, "List an endpoint group's projects.",
          [("GET", "/v3/OS-EP-FILTER/endpoint_groups/{id}/projects")]),
    _rule("get_endpoint_group_in_project", READ_ANY, "Show or check an endpoint group's project association.",
          [("GET", "/v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}"),
           ("HEAD", "/v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}")]),
    _rule("list_endpoint_groups_for_project", READ_ANY, "List a project's endpoint groups.",
          [("GET", "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups")]),
    _rule("add_endpoint_group_to_project", ADMIN, "Associate an endpoint group with a project.",
          [("PUT", "/v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}")], SYS_PROJ),
    _rule("remove_endpoint_group_from_project", ADMIN, "Remove an endpoint group's project association.",
          [("DELETE", "/v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}")], SYS_PROJ),
    _rule("get_domain_config", READ_ANY, "Show a domain's configuration, a group or an option.",
          [("GET", "/v3/domains/{domain_id}/config"), ("GET", "/v3/domains/{domain_id}/config/{group}"),
           ("GET", "/v3/domains/{domain_id}/config/{group}/{option}")]),
    _rule("get_domain_config_default", READ_ANY, "Show the default domain configuration.",
          [("GET", "/v3/domains/config/default"), ("GET", "/v3/domains/config/{group}/default"),
           ("GET", "/v3/domains/config/{group}/{option}/default")]),
    _rule("create_domain_config", ADMIN, "Create a domain's configuration.",
          [("PUT", "/v3/domains/{domain_id}/config")], SYS_PROJ),
    _rule("update_domain_config", ADMIN, "Update a domain's configuration, a group or an option.",
          [("PATCH", "/v3/domains/{domain_id}/config"), ("PATCH", "/v3/domains/{domain_id}/config/{group}"),
           ("PATCH", "/v3/domains/{domain_id}/config/{group}/{option}")], SYS_PROJ),
    _rule("delete_domain_config", ADMIN, "Delete a domain's configuration, a group or an option.",
          [("DELETE", "/v3/domains/{domain_id}/config"), ("DELETE", "/v3/domains/{domain_id}/config/{group}"),
           ("DELETE", "/v3/domains/{domain_id}/config/{group}/{option}")], SYS_PROJ),
]
