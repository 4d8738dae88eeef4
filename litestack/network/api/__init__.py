"""The network service's HTTP API (Neutron v2.0): version discovery, extensions and the declared
resources (networks, subnets, ports, security groups and rules), each with its tags."""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from litestack.common.api.app import JSON, Op, build_app
from litestack.common.policy import Enforcer
from litestack.network import exceptions as exc
from litestack.network.api.base import (
    NetworkAPI,
    NeutronResource,
    boolean,
    integer,
    listing,
    mapping,
    nullable_string,
    passthrough,
    resource_ops,
    string,
    tag_ops,
)
from litestack.network.api.extensions import EXTENSIONS
from litestack.network.api.extra import extra_ops
from litestack.network.api.l3 import port_forwarding_ops, quota_ops, router_actions
from litestack.network.api.l3 import resources as l3_resources
from litestack.network.api.qos import resource as qos_resource
from litestack.network.api.qos import rule_ops as qos_rule_ops
from litestack.network.manager import Manager

TAGS = listing(string())
COMMON = {"name": string(), "description": string(), "project_id": string(), "tenant_id": string(),
          "tags": TAGS}


def resources(mgr: Manager) -> list[NeutronResource]:
    n, sub, p, sg, sp = mgr.networks, mgr.subnets, mgr.ports, mgr.security_groups, mgr.subnetpools
    return [
        NeutronResource(
            "networks", "network", "networks", n.find, n.get, n.create, n.update, n.delete,
            attrs={**COMMON, "admin_state_up": boolean, "shared": boolean, "router:external": boolean,
                   "port_security_enabled": boolean, "mtu": integer(68, 65535, True),
                   "dns_domain": nullable_string(), "availability_zone_hints": listing(string()),
                   "provider:network_type": string(), "provider:physical_network": nullable_string(),
                   "provider:segmentation_id": integer(0, 2**32 - 1, nullable=True), "is_default": boolean,
                   "qos_policy_id": nullable_string(36), "segments": listing(provider_segment)},
            create_only=("project_id", "tenant_id", "availability_zone_hints"),
            attr_rules=("shared", "router:external", "is_default", "provider:network_type",
                        "provider:physical_network", "provider:segmentation_id", "segments"),
            hidden=("provider:network_type", "provider:physical_network", "provider:segmentation_id", "segments"),
            sort_keys=("id", "name", "status", "admin_state_up", "shared", "mtu", "project_id", "tenant_id",
                       "created_at", "updated_at", "revision_number", "router:external"),
            tag="networks"),
        NeutronResource(
            "subnets", "subnet", "subnets", sub.find, sub.get, sub.create, sub.update, sub.delete,
            attrs={**COMMON, "network_id": string(36), "ip_version": integer(0, 99), "cidr": passthrough,
                   "gateway_ip": passthrough, "enable_dhcp": boolean, "ipv6_ra_mode": nullable_string(),
                   "ipv6_address_mode": nullable_string(), "allocation_pools": listing(),
                   "dns_nameservers": listing(), "host_routes": listing(), "dns_publish_fixed_ip": boolean,
                   "subnetpool_id": nullable_string(36), "segment_id": nullable_string(36),
                   "use_default_subnetpool": boolean, "prefixlen": integer(0, 128, True)},
            create_only=("project_id", "tenant_id", "network_id", "ip_version", "cidr", "ipv6_ra_mode",
                         "ipv6_address_mode", "subnetpool_id", "use_default_subnetpool", "prefixlen"),
            attr_rules=("segment_id",), hidden=("segment_id",),
            sort_keys=("id", "name", "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp", "project_id",
                       "tenant_id", "created_at", "updated_at", "revision_number"),
            create_target=lambda caller, data: {"network_owner": sub.network_owner(caller, data.get("network_id")
                                                                                    or _missing("network_id"))},
            member_target=lambda caller, item: {"network_owner": item["project_id"]},
            tag="subnets"),
        NeutronResource(
            "segments", "segment", "segments", mgr.segments.find, mgr.segments.get, mgr.segments.create,
            mgr.segments.update, mgr.segments.delete,
            attrs={"name": nullable_string(), "description": nullable_string(), "project_id": string(),
                   "tenant_id": string(), "network_id": string(36), "network_type": string(32),
                   "physical_network": nullable_string(64),
                   "segmentation_id": integer(0, 2**32 - 1, nullable=True)},
            create_only=("project_id", "tenant_id", "network_id", "network_type", "physical_network",
                         "segmentation_id"),
            sort_keys=("id", "name", "network_id", "network_type", "physical_network", "segmentation_id",
                       "created_at", "updated_at", "revision_number"),
            create_target=lambda caller, data: {"network_id": data.get("network_id") or _missing("network_id")},
            tags=False, tag="segments"),
        NeutronResource(
            "subnetpools", "subnetpool", "subnetpools", sp.find, sp.get, sp.create, sp.update, sp.delete,
            attrs={**COMMON, "prefixes": listing(string(64)), "default_prefixlen": integer(0, 128),
                   "min_prefixlen": integer(0, 128), "max_prefixlen": integer(0, 128), "shared": boolean,
                   "is_default": boolean, "default_quota": integer(0, 2**31 - 1, nullable=True),
                   "address_scope_id": nullable_string(36)},
            create_only=("project_id", "tenant_id", "shared"),
            attr_rules=("shared", "is_default"),
            sort_keys=("id", "name", "ip_version", "default_prefixlen", "min_prefixlen", "max_prefixlen", "shared",
                       "is_default", "project_id", "tenant_id", "created_at", "updated_at", "revision_number"),
            tag="subnetpools"),
        NeutronResource(
            "ports", "port", "ports", p.find, p.get, p.create, p.update, p.delete,
            attrs={**COMMON, "network_id": string(36), "admin_state_up": boolean, "mac_address": passthrough,
                   "fixed_ips": listing(), "device_id": string(), "device_owner": string(),
                   "security_groups": listing(string(36)), "allowed_address_pairs": listing(),
                   "port_security_enabled": boolean, "extra_dhcp_opts": listing(), "dns_name": string(),
                   "binding:host_id": nullable_string(), "binding:vnic_type": string(),
                   "binding:profile": mapping, "qos_policy_id": nullable_string(36)},
            create_only=("project_id", "tenant_id"),
            attr_rules=("binding:host_id", "binding:profile", "mac_address", "fixed_ips:ip_address",
                        "port_security_enabled", "allowed_address_pairs"),
            hidden=("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details"),
            sort_keys=("id", "name", "network_id", "mac_address", "status", "device_id", "device_owner",
                       "admin_state_up", "project_id", "tenant_id", "created_at", "updated_at", "revision_number"),
            create_target=lambda caller, data: p.network_of(caller, data.get("network_id") or _missing("network_id")),
            member_target=lambda caller, item: p.network_of(caller, item["network_id"]) if not caller.is_admin
            else {},
            tag="ports"),
        NeutronResource(
            "security_groups", "security_group", "security-groups", sg.find, sg.get, sg.create, sg.update,
            sg.delete, attrs={**COMMON, "stateful": boolean},
            create_only=("project_id", "tenant_id"),
            sort_keys=("id", "name", "project_id", "tenant_id", "created_at", "updated_at", "revision_number"),
            tag="security-groups"),
        NeutronResource(
            "security_group_rules", "security_group_rule", "security-group-rules", sg.list_rules, sg.get_rule,
            sg.create_rule, None, sg.delete_rule,
            attrs={"description": string(), "project_id": string(), "tenant_id": string(),
                   "security_group_id": string(36), "direction": passthrough, "ethertype": nullable_string(40),
                   "protocol": passthrough, "port_range_min": integer(nullable=True),
                   "port_range_max": integer(nullable=True), "remote_ip_prefix": nullable_string(),
                   "remote_group_id": nullable_string(36), "remote_address_group_id": nullable_string(36)},
            sort_keys=("id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                       "security_group_id", "project_id", "tenant_id", "created_at", "revision_number"),
            create_target=lambda caller, data: {"group_owner": sg.group_owner(
                caller, data.get("security_group_id") or _missing("security_group_id"))},
            member_target=lambda caller, item: {"group_owner": item["project_id"]},
            tags=False, tag="security-group-rules"),
        *l3_resources(mgr, COMMON),
        qos_resource(mgr, COMMON),
        NeutronResource(
            "address_groups", "address_group", "address-groups", mgr.address_groups.find, mgr.address_groups.get,
            mgr.address_groups.create, mgr.address_groups.update, mgr.address_groups.delete,
            attrs={**COMMON, "addresses": listing()},
            create_only=("project_id", "tenant_id", "addresses"),
            sort_keys=("id", "name", "project_id", "tenant_id", "created_at", "updated_at", "revision_number"),
            tags=False, tag="address-groups"),
        NeutronResource(
            "address_scopes", "address_scope", "address-scopes", mgr.address_scopes.find, mgr.address_scopes.get,
            mgr.address_scopes.create, mgr.address_scopes.update, mgr.address_scopes.delete,
            attrs={**COMMON, "ip_version": integer(0, 99), "shared": boolean},
            create_only=("project_id", "tenant_id", "ip_version"), attr_rules=("shared",),
            sort_keys=("id", "name", "ip_version", "shared", "project_id", "tenant_id", "created_at", "updated_at",
                       "revision_number"),
            tag="address-scopes"),
        NeutronResource(
            "rbac_policies", "rbac_policy", "rbac-policies", mgr.rbac.find, mgr.rbac.get, mgr.rbac.create,
            mgr.rbac.update, mgr.rbac.delete,
            attrs={"project_id": string(), "tenant_id": string(), "object_type": string(), "object_id": string(36),
                   "action": string(), "target_tenant": string(), "target_project": string()},
            create_only=("project_id", "tenant_id", "object_type", "object_id", "action"),
            sort_keys=("id", "action", "object_id", "project_id", "tenant_id", "target_tenant"),
            tags=False, tag="rbac-policies"),
        NeutronResource(
            "agents", "agent", "agents", mgr.agents.find, mgr.agents.get, None, mgr.agents.update, mgr.agents.delete,
            attrs={"admin_state_up": boolean, "description": nullable_string()},
            sort_keys=("id", "agent_type", "binary", "topic", "host", "admin_state_up", "availability_zone",
                       "created_at"),
            tags=False, tag="agents"),
    ]


PROVIDER_KEYS = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")


def provider_segment(name: str, v: Any) -> dict[str, Any]:
    """One of a network's ``segments`` (neutron-lib's ``convert_and_validate_segments``): the three
    provider attributes and nothing else, returned without their ``provider:`` prefix."""
    if not isinstance(v, dict):
        raise exc.HTTPBadRequest.attr(name, f"'{v}' is not a dictionary")
    unknown = sorted(set(v) - set(PROVIDER_KEYS))
    if unknown:
        raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    return {"network_type": string(32)("provider:network_type", v["provider:network_type"])
            if v.get("provider:network_type") is not None else None,
            "physical_network": nullable_string(64)("provider:physical_network", v.get("provider:physical_network")),
            "segmentation_id": integer(0, 2**32 - 1, nullable=True)("provider:segmentation_id",
                                                                     v.get("provider:segmentation_id") or None)}


def _missing(name: str) -> Any:
    raise exc.HTTPBadRequest.missing(name)


def meta_ops(api: NetworkAPI) -> list[Op]:
    async def versions(request: Request) -> Response:
        return JSON({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
            {"href": f"{api.base(request)}/v2.0/", "rel": "self"}]}]})

    async def index(request: Request) -> Response:
        return JSON({"resources": [{"name": m, "collection": c, "links": [
            {"href": f"{api.base(request)}/v2.0/{path}", "rel": "self"}]}
            for m, c, path in (("network", "networks", "networks"), ("subnet", "subnets", "subnets"),
                               ("port", "ports", "ports"), ("router", "routers", "routers"),
                               ("floatingip", "floatingips", "floatingips"))]})

    async def extensions(request: Request) -> Response:
        return JSON({"extensions": [e.view() for e in EXTENSIONS]})

    async def extension(request: Request) -> Response:
        alias = request.path_params["alias"]
        for e in EXTENSIONS:
            if e.alias == alias:
                return JSON({"extension": e.view()})
        raise exc.ExtensionNotFound(alias)

    return [
        Op("GET", "/", versions, "List the API versions", public=True, tag="versions"),
        Op("GET", "/v2.0", index, "List the resources of v2.0", rule="get_extension", tag="versions"),
        Op("GET", "/v2.0/extensions", extensions, "List the extensions", rule="get_extension", tag="extensions"),
        Op("GET", "/v2.0/extensions/{alias}", extension, "Show an extension", rule="get_extension",
           tag="extensions"),
    ]


def all_ops(api: NetworkAPI, mgr: Manager) -> list[Op]:
    ops = meta_ops(api)
    for res in resources(mgr):
        ops += resource_ops(api, res)
        if res.tags:
            ops += tag_ops(api, res, mgr.tags)
    return (ops + router_actions(api, mgr) + port_forwarding_ops(api, mgr) + quota_ops(api, mgr) + extra_ops(api, mgr)
            + qos_rule_ops(api, mgr))


class _NoManager:
    """Stands in for the manager when the Op table is only read (policy documentation, tests)."""

    def __getattr__(self, name: str) -> Any:
        return _NoManager()

    def __call__(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("network manager called on the read-only Op table")


def op_table() -> list[Op]:
    return all_ops(NetworkAPI(Enforcer()), cast(Manager, _NoManager()))


def build(mgr: Manager, enforcer: Enforcer, auth: Any) -> ASGIApp:
    api = NetworkAPI(enforcer, mgr.notifier)
    return build_app("network", all_ops(api, mgr), title="litestack network (Neutron v2.0)", enforcer=enforcer,
                     middleware=[auth])
