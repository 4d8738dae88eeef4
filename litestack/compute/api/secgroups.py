"""Nova's security group proxy (``os-security-groups``, ``os-security-group-rules``, a server's
groups, ``addSecurityGroup``/``removeSecurityGroup``): deprecated by Nova at 2.36 but what 2.1
clients use; every call goes to the network service with the user's own token."""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import body, loaded
from litestack.compute.api.base import ComputeAPI
from litestack.compute.netclient import segment

_TEXT = {"type": "string", "maxLength": 255}
_GROUP = {"type": "object", "required": ["security_group"], "additionalProperties": False, "properties": {
    "security_group": {"type": "object", "required": ["name", "description"], "properties": {
        "name": {**_TEXT, "minLength": 1}, "description": _TEXT}}}}
_RULE = {"type": "object", "required": ["security_group_rule"], "additionalProperties": False, "properties": {
    "security_group_rule": {"type": "object", "required": ["parent_group_id"], "properties": {
        "parent_group_id": {"type": "string", "minLength": 1, "maxLength": 255},
        "ip_protocol": {"type": ["string", "null"]},
        "from_port": {"type": ["integer", "string", "null"]}, "to_port": {"type": ["integer", "string", "null"]},
        "cidr": {"type": ["string", "null"]},
        "group_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255}}}}}


def q(ident: str) -> str:
    """A path segment of the network API from user input (see ``netclient.segment``)."""
    return segment(ident)


def _port(value: Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid {what}: {value} is not an integer.") from None


def ops(api: ComputeAPI) -> list[Op]:
    async def net(request: Request, method: str, path: str, **kw: Any) -> Any:
        r = await api.p.network.client.request(method, "network", path, user_token=context_of(request).auth_token,
                                               **kw)
        if r.status_code == 404:
            raise errors.NotFound("Security group not found." if "security-group-rules" not in path
                                  else "Security group rule not found.")
        if r.status_code >= 400:
            try:
                message = r.json()["NeutronError"]["message"]
            except (ValueError, KeyError, TypeError):
                message = r.text[:200]
            raise errors.BadRequest(message)
        return r.json() if r.status_code != 204 else None

    def rule_view(rule: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
        proto = rule.get("protocol")
        lo, hi = rule.get("port_range_min"), rule.get("port_range_max")
        if proto == "icmp":
            lo, hi = (-1 if lo is None else lo), (-1 if hi is None else hi)
        view: dict[str, Any] = {"id": rule["id"], "parent_group_id": rule["security_group_id"], "ip_protocol": proto,
                                "from_port": lo, "to_port": hi, "ip_range": {}, "group": {}}
        if rule.get("remote_group_id"):
            view["group"] = {"name": names.get(rule["remote_group_id"], ""), "tenant_id": rule.get("project_id", "")}
        else:
            view["ip_range"] = {"cidr": rule.get("remote_ip_prefix") or
                                ("::/0" if rule.get("ethertype") == "IPv6" else "0.0.0.0/0")}
        return view

    def group_view(g: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
        return {"id": g["id"], "name": g["name"], "description": g.get("description") or "",
                "tenant_id": g.get("project_id") or g.get("tenant_id", ""),
                "rules": [rule_view(r, names) for r in g.get("security_group_rules", [])
                          if r.get("direction") == "ingress"]}

    async def listing(request: Request) -> Response:
        api.since(request, 1, 35)  # the network proxies are gone at 2.36
        groups = (await net(request, "GET", "/v2.0/security-groups"))["security_groups"]
        names = {g["id"]: g["name"] for g in groups}
        return JSON({"security_groups": [group_view(g, names) for g in groups]})

    async def create(request: Request) -> Response:
        api.since(request, 1, 35)  # the network proxies are gone at 2.36
        data = body(request)["security_group"]
        g = (await net(request, "POST", "/v2.0/security-groups", json={"security_group": {
            "name": data["name"], "description": data["description"]}}))["security_group"]
        return JSON({"security_group": group_view(g, {g["id"]: g["name"]})})

    async def show(request: Request) -> Response:
        api.since(request, 1, 35)  # the network proxies are gone at 2.36
        g = (await net(request, "GET", f"/v2.0/security-groups/{q(api.param(request, 'group_id'))}"))["security_group"]
        return JSON({"security_group": group_view(g, {g["id"]: g["name"]})})

    async def update(request: Request) -> Response:
        api.since(request, 1, 35)  # the network proxies are gone at 2.36
        data = body(request)["security_group"]
        g = (await net(request, "PUT", f"/v2.0/security-groups/{q(api.param(request, 'group_id'))}", json={
            "security_group": {"name": data["name"], "description": data["description"]}}))["security_group"]
        return JSON({"security_group": group_view(g, {g["id"]: g["name"]})})

    async def delete(request: Request) -> Response:
        api.since(request, 1, 35)  # the network proxies are gone at 2.36
        await net(request, "DELETE", f"/v2.0/security-groups/{q(api.param(request, 'group_id'))}")
        return Response(status_code=202)

    async def rule_create(request: Request) -> Response:
        api.since(request, 1, 35)  # the network proxies are gone at 2.36
        data = body(request)["security_group_rule"]
        parent = (await net(request, "GET", f"/v2.0/security-groups/{q(data['parent_group_id'])}"))["security_group"]
        proto = (data.get("ip_protocol") or "").lower() or None
        if proto not in (None, "tcp", "udp", "icmp"):
            raise errors.BadRequest(f"Invalid IP protocol {data.get('ip_protocol')}.")
        lo, hi = _port(data.get("from_port"), "from_port"), _port(data.get("to_port"), "to_port")
        if proto in ("tcp", "udp"):
            if lo is None or hi is None or not (1 <= lo <= 65535 and 1 <= hi <= 65535) or lo > hi:
                raise errors.BadRequest("Invalid port range: ports must be 1-65535 and from_port <= to_port.")
        elif proto == "icmp":
            if lo is None or hi is None or not (-1 <= lo <= 255 and -1 <= hi <= 255):
                raise errors.BadRequest("Invalid ICMP type or code: must be -1 to 255.")
            lo, hi = (None if lo == -1 else lo), (None if hi == -1 else hi)
        elif lo is not None or hi is not None:
            raise errors.BadRequest("Ports need an IP protocol.")
        rule: dict[str, Any] = {"security_group_id": parent["id"], "direction": "ingress", "protocol": proto,
                                "port_range_min": lo, "port_range_max": hi, "ethertype": "IPv4"}
        if data.get("group_id"):
            rule["remote_group_id"] = data["group_id"]
            await net(request, "GET", f"/v2.0/security-groups/{q(data['group_id'])}")
        elif data.get("cidr"):
            try:
                cidr = ipaddress.ip_network(data["cidr"], strict=False)
            except ValueError:
                raise errors.BadRequest(f"Invalid cidr {data['cidr']}.") from None
            rule.update(remote_ip_prefix=data["cidr"], ethertype=f"IPv{cidr.version}")
        made = (await net(request, "POST", "/v2.0/security-group-rules", json={"security_group_rule": rule}))
        names = {parent["id"]: parent["name"]}
        return JSON({"security_group_rule": rule_view(made["security_group_rule"], names)})

    async def rule_delete(request: Request) -> Response:
        api.since(request, 1, 35)  # the network proxies are gone at 2.36
        await net(request, "DELETE", f"/v2.0/security-group-rules/{q(api.param(request, 'rule_id'))}")
        return Response(status_code=202)

    async def server_groups(request: Request) -> Response:
        inst = loaded(request)
        seen: dict[str, dict[str, Any]] = {}
        for p in inst.ports or []:
            port = (await net(request, "GET", f"/v2.0/ports/{q(p['id'])}"))["port"]
            for gid in port.get("security_groups", []):
                if gid not in seen:
                    seen[gid] = (await net(request, "GET", f"/v2.0/security-groups/{q(gid)}"))["security_group"]
        names = {g["id"]: g["name"] for g in seen.values()}
        return JSON({"security_groups": [group_view(g, names) for g in seen.values()]})

    sg = "os_compute_api:os-security-groups"
    own = api.own_project
    return [
        Op("GET", "/v2.1/os-security-groups", listing, rule=f"{sg}:get", target=own, tag="security-groups",
           query=("all_tenants", "limit", "offset")),
        Op("POST", "/v2.1/os-security-groups", create, body=_GROUP, rule=f"{sg}:create", target=own,
           tag="security-groups"),
        Op("GET", "/v2.1/os-security-groups/{group_id}", show, rule=f"{sg}:show", target=own, tag="security-groups"),
        Op("PUT", "/v2.1/os-security-groups/{group_id}", update, body=_GROUP, rule=f"{sg}:update", target=own,
           tag="security-groups"),
        Op("DELETE", "/v2.1/os-security-groups/{group_id}", delete, rule=f"{sg}:delete", target=own,
           tag="security-groups", status=202),
        Op("POST", "/v2.1/os-security-group-rules", rule_create, body=_RULE, rule=f"{sg}:rule:create", target=own,
           tag="security-groups"),
        Op("DELETE", "/v2.1/os-security-group-rules/{rule_id}", rule_delete, rule=f"{sg}:rule:delete", target=own,
           tag="security-groups", status=202),
        Op("GET", "/v2.1/servers/{server_id}/os-security-groups", server_groups, rule=f"{sg}:list",
           target=api.server_loader(), tag="security-groups"),
    ]
