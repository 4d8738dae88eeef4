"""Default policy of the network service, as Neutron's 2024 defaults (secure RBAC: reader, member,
admin; project scope).

Which resources a caller sees at all is decided by the manager in SQL (its own, shared and
external networks; another project's private resource is 404, never 403); these rules then say
what each role may do with what it sees, and which attributes are admin-only (``get_network:
provider:network_type`` hides the attribute from others; ``create_network:shared`` refuses it).
The routes that check each rule come from the Op table.
"""

from __future__ import annotations

from litestack.common.api.policy import with_operations
from litestack.common.policy import RuleDefault
from litestack.network.api import op_table

PROJECT = ["project"]
ADMIN = "rule:admin_only"
MEMBER = "(role:member and project_id:%(project_id)s)"
READER = "(role:reader and project_id:%(project_id)s)"
NET_OWNER = "(role:member and project_id:%(network_owner)s)"


def _r(name: str, check: str, desc: str) -> RuleDefault:
    return RuleDefault(name, check, desc, scope_types=PROJECT)


_BASE = [
    RuleDefault("context_is_admin", "role:admin", "The cloud administrator."),
    RuleDefault("admin_only", "rule:context_is_admin", "Only the cloud administrator."),
    RuleDefault("service_api", "role:service", "A service user (another OpenStack service)."),
    RuleDefault("regular_user", "", "Any authenticated user."),
    RuleDefault("shared", "'True':%(shared)s", "The network is shared."),
    RuleDefault("external", "'True':%(router:external)s", "The network is external."),
    RuleDefault("admin_or_project_member", f"{ADMIN} or {MEMBER}", "An admin, or a member of the owner."),
    RuleDefault("admin_or_project_reader", f"{ADMIN} or {READER}", "An admin, or a reader of the owner."),
    _r("get_extension", "rule:regular_user", "Show the API's extensions."),
]


def _crud(member: str, collection: str, get: str, write: str) -> list[RuleDefault]:
    return [
        _r(f"create_{member}", write, f"Create a {member.replace('_', ' ')}."),
        _r(f"get_{member}", get, f"Show or list {collection.replace('_', ' ')}."),
        _r(f"update_{member}", write, f"Update a {member.replace('_', ' ')}."),
        _r(f"delete_{member}", write, f"Delete a {member.replace('_', ' ')}."),
    ]


def _tags(collection: str, get: str, write: str) -> list[RuleDefault]:
    return [
        _r(f"get_{collection}_tags", get, f"Show the tags of {collection.replace('_', ' ')}."),
        _r(f"create_{collection}_tags", write, f"Add a tag to {collection.replace('_', ' ')}."),
        _r(f"update_{collection}_tags", write, f"Replace the tags of {collection.replace('_', ' ')}."),
        _r(f"delete_{collection}_tags", write, f"Remove tags of {collection.replace('_', ' ')}."),
    ]


def _admin_attrs(verbs: tuple[str, ...], member: str, attrs: tuple[str, ...], check: str = ADMIN) -> list[RuleDefault]:
    return [_r(f"{verb}_{member}:{attr}", check, f"{verb.capitalize()} the {attr} of a {member}.")
            for verb in verbs for attr in attrs]


NET_GET = "rule:admin_or_project_reader or rule:shared or rule:external"
PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
BINDING = ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details")

_DEFAULTS: list[RuleDefault] = [
    *_BASE,
    *_crud("network", "networks", NET_GET, "rule:admin_or_project_member"),
    *_tags("networks", NET_GET, "rule:admin_or_project_member"),
    *_admin_attrs(("create", "update"), "network", ("shared", "router:external", "is_default", *PROVIDER)),
    *_admin_attrs(("get",), "network", PROVIDER),
    *_admin_attrs(("create", "update", "get"), "network", ("segments",)),
    *_crud("segment", "segments", ADMIN, ADMIN),
    *_crud("subnet", "subnets", f"{ADMIN} or role:reader", f"{ADMIN} or {NET_OWNER}"),
    *_tags("subnets", f"{ADMIN} or role:reader", f"{ADMIN} or {NET_OWNER}"),
    *_admin_attrs(("create", "update", "get"), "subnet", ("segment_id",)),
    *_crud("subnetpool", "subnetpools", f"{ADMIN} or role:reader", "rule:admin_or_project_member"),
    *_tags("subnetpools", f"{ADMIN} or role:reader", "rule:admin_or_project_member"),
    *_admin_attrs(("create", "update"), "subnetpool", ("shared", "is_default")),
    *_crud("port", "ports", f"{ADMIN} or role:reader", f"{ADMIN} or {MEMBER} or {NET_OWNER}"),
    *_tags("ports", f"{ADMIN} or role:reader", f"{ADMIN} or {MEMBER}"),
    *_admin_attrs(("create", "update"), "port", ("binding:host_id", "binding:profile")),
    *_admin_attrs(("create", "update"), "port", ("mac_address", "fixed_ips:ip_address", "port_security_enabled",
                                                 "allowed_address_pairs"), f"{ADMIN} or {NET_OWNER}"),
    *_admin_attrs(("get",), "port", BINDING),
    # A group an RBAC policy shares with the caller's project shows as shared: the project sees it.
    *[r for r in _crud("security_group", "security_groups", "rule:admin_or_project_reader",
                       "rule:admin_or_project_member") if r.name != "get_security_group"],
    _r("get_security_group", "rule:admin_or_project_reader or (role:reader and 'True':%(shared)s)",
       "Show or list security groups."),
    *_tags("security_groups", "rule:admin_or_project_reader", "rule:admin_or_project_member"),
    *_crud("security_group_rule", "security_group_rules", "rule:admin_or_project_reader",
           f"{ADMIN} or (role:member and project_id:%(group_owner)s)"),
]

_DEFAULTS += [
    *_crud("router", "routers", "rule:admin_or_project_reader", "rule:admin_or_project_member"),
    *_tags("routers", "rule:admin_or_project_reader", "rule:admin_or_project_member"),
    *_admin_attrs(("create", "update"), "router", ("external_gateway_info:enable_snat",
                                                   "external_gateway_info:external_fixed_ips", "distributed", "ha")),
    _r("add_router_interface", "rule:admin_or_project_member", "Add an interface to a router."),
    _r("remove_router_interface", "rule:admin_or_project_member", "Remove an interface from a router."),
    _r("add_extraroutes", "rule:admin_or_project_member", "Add static routes to a router."),
    _r("remove_extraroutes", "rule:admin_or_project_member", "Remove static routes from a router."),
    *_crud("floatingip", "floatingips", "rule:admin_or_project_reader", "rule:admin_or_project_member"),
    *_tags("floatingips", "rule:admin_or_project_reader", "rule:admin_or_project_member"),
    *_admin_attrs(("create",), "floatingip", ("floating_ip_address",)),
    *_crud("floatingip_port_forwarding", "floating IP port forwardings", "rule:admin_or_project_reader",
           "rule:admin_or_project_member"),
    *_crud("rbac_policy", "RBAC policies", f"{ADMIN} or role:reader", "rule:admin_or_project_member"),
    _r("get_auto_allocated_topology", "rule:admin_or_project_member",
       "Show (made on first use) a project's auto-allocated topology."),
    _r("delete_auto_allocated_topology", "rule:admin_or_project_member", "Delete a project's auto-allocated topology."),
    # Listing is open, as in Neutron, where policy filters each agent out for others: the manager
    # shows agents to the admin only (others get an empty list, and 404 for one agent).
    *_crud("address_scope", "address scopes", f"{ADMIN} or {READER} or 'True':%(shared)s",
           "rule:admin_or_project_member"),
    *_tags("address_scopes", f"{ADMIN} or {READER} or 'True':%(shared)s", "rule:admin_or_project_member"),
    *_admin_attrs(("create", "update"), "address_scope", ("shared",)),
    *_crud("address_group", "address groups", "rule:admin_or_project_reader", "rule:admin_or_project_member"),
    _r("add_addresses", "rule:admin_or_project_member", "Add addresses to an address group."),
    _r("remove_addresses", "rule:admin_or_project_member", "Remove addresses from an address group."),
    _r("create_policy", ADMIN, "Create a QoS policy."),
    _r("get_policy", f"{ADMIN} or {READER} or 'True':%(shared)s", "Show or list QoS policies."),
    _r("update_policy", ADMIN, "Update a QoS policy."),
    _r("delete_policy", ADMIN, "Delete a QoS policy."),
    *_tags("policies", f"{ADMIN} or {READER} or 'True':%(shared)s", ADMIN),
    *[_r(f"{verb}_policy_{kind}_rule", ADMIN if verb != "get" else f"{ADMIN} or {READER} or 'True':%(shared)s",
         f"{verb.capitalize()} the {kind.replace('_', ' ')} rules of a QoS policy.")
      for verb in ("get", "create", "update", "delete") for kind in ("bandwidth_limit", "dscp_marking")],
    _r("get_rule_type", "rule:regular_user", "List the QoS rule types."),
    _r("get_agent", "rule:regular_user", "Show or list agents (the admin's; others see none)."),
    _r("get_network_ip_availability", ADMIN, "Show or list the IP availability of networks."),
    _r("get_availability_zone", "rule:regular_user", "List the availability zones."),
    _r("update_agent", ADMIN, "Update an agent."),
    _r("delete_agent", ADMIN, "Delete an agent."),
    _r("get_quota", "rule:admin_or_project_reader", "Show a project's quotas."),
    _r("update_quota", ADMIN, "Update a project's quotas."),
    _r("delete_quota", ADMIN, "Reset a project's quotas."),
]

RULES = with_operations(_DEFAULTS, op_table())
