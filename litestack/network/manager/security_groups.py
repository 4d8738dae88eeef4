"""Security groups and their rules, with each project's default group made on first use."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network.manager.base import (
    Caller,
    Filter,
    Part,
    Query,
    boolean,
    check_revision,
    integer,
    iso,
    list_rows,
    new_id,
    now,
    retrying,
    set_tags,
    standard,
    tags_of,
    touch,
)
from litestack.network.models import (
    DefaultSecurityGroup,
    PortSecurityGroup,
    RBACPolicy,
    SecurityGroup,
    SecurityGroupRule,
    Tag,
)

GROUPS = Listing(SecurityGroup, sort_keys={k: getattr(SecurityGroup, k) for k in (
    "id", "name", "project_id", "created_at", "updated_at", "revision_number")}
    | {"tenant_id": SecurityGroup.project_id})
GROUP_FILTERS: dict[str, Filter] = {
    "id": (SecurityGroup.id, None), "name": (SecurityGroup.name, None),
    "project_id": (SecurityGroup.project_id, None), "tenant_id": (SecurityGroup.project_id, None),
    "description": (SecurityGroup.description, None), "stateful": (SecurityGroup.stateful, boolean),
    "revision_number": (SecurityGroup.revision_number, integer),
}
RULES = Listing(SecurityGroupRule, sort_keys={k: getattr(SecurityGroupRule, k) for k in (
    "id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max", "security_group_id",
    "project_id", "created_at", "revision_number")} | {"tenant_id": SecurityGroupRule.project_id})
RULE_FILTERS: dict[str, Filter] = {
    "id": (SecurityGroupRule.id, None), "security_group_id": (SecurityGroupRule.security_group_id, None),
    "direction": (SecurityGroupRule.direction, None), "ethertype": (SecurityGroupRule.ethertype, None),
    "protocol": (SecurityGroupRule.protocol, None), "port_range_min": (SecurityGroupRule.port_range_min, integer),
    "port_range_max": (SecurityGroupRule.port_range_max, integer),
    "remote_ip_prefix": (SecurityGroupRule.remote_ip_prefix, None),
    "remote_group_id": (SecurityGroupRule.remote_group_id, None),
    "remote_address_group_id": (SecurityGroupRule.remote_address_group_id, None),
    "project_id": (SecurityGroupRule.project_id, None), "tenant_id": (SecurityGroupRule.project_id, None),
    "description": (SecurityGroupRule.description, None),
}

#: Protocol names Neutron accepts, with their IP protocol numbers.
PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2,
             "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59,
             "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6,
             "udp": 17, "udplite": 136, "vrrp": 112}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
ICMP = {1, 58}
IPV6_ONLY = {"ipv6-icmp", "icmpv6", "ipv6-encap", "ipv6-frag", "ipv6-nonxt", "ipv6-opts", "ipv6-route", "58"}


def visible(model: Any, caller: Caller) -> Any:
    return None if caller.is_admin else model.project_id == caller.project_id


def shared_with(project_id: str | None) -> Any:
    """The security groups an RBAC policy shares with the project (or with every project)."""
    return select(RBACPolicy.object_id).where(RBACPolicy.object_type == "security_group",
                                              RBACPolicy.action == "access_as_shared",
                                              RBACPolicy.target_project.in_([project_id or "", "*"]))


def group_visible(caller: Caller) -> Any:
    """A project sees its groups and those an RBAC policy shares with it."""
    if caller.is_admin:
        return None
    return or_(SecurityGroup.project_id == caller.project_id, SecurityGroup.id.in_(shared_with(caller.project_id)))


class SecurityGroups(Part):
    #: The address groups part (set by the manager): the remotes of rules.
    address_groups: Any = None

    # --- default group -------------------------------------------------------------------

    def ensure_default(self, s: Session, project_id: str) -> str:
        """The project's default group, made with Neutron's default rules on first use. Two
        requests racing to make it: the primary key of ``default_security_group`` keeps one."""
        existing = s.get(DefaultSecurityGroup, project_id)
        if existing is not None:
            return existing.security_group_id
        try:
            with s.begin_nested():
                gid = self._make_group(s, project_id, "default", "Default security group", True)
                s.add(DefaultSecurityGroup(project_id=project_id, security_group_id=gid))
                for ethertype in ("IPv4", "IPv6"):
                    self._add_rule(s, gid, project_id, {"direction": "egress", "ethertype": ethertype})
                    self._add_rule(s, gid, project_id, {"direction": "ingress", "ethertype": ethertype,
                                                        "remote_group_id": gid})
                s.flush()
        except IntegrityError:
            row = s.get(DefaultSecurityGroup, project_id)
            if row is None:
                raise
            return row.security_group_id
        return gid

    @retrying
    def default_for(self, caller: Caller) -> None:
        """Made when a project first looks at its security groups, as Neutron does."""
        if caller.project_id is None:
            return
        with self.db.reader() as s:
            if s.get(DefaultSecurityGroup, caller.project_id) is not None:
                return
        with self.db.writer() as s:
            self.ensure_default(s, caller.project_id)

    @staticmethod
    def _make_group(s: Session, project_id: str, name: str, description: str, stateful: bool) -> str:
        t = now()
        gid = new_id()
        s.add(SecurityGroup(id=gid, project_id=project_id, name=name, description=description, stateful=stateful,
                            revision_number=0, created_at=t, updated_at=t))
        s.flush()
        return gid

    @staticmethod
    def _add_rule(s: Session, gid: str, project_id: str, r: dict[str, Any]) -> SecurityGroupRule:
        t = now()
        rule = SecurityGroupRule(
            id=new_id(), project_id=project_id, security_group_id=gid, direction=r["direction"],
            ethertype=r["ethertype"], protocol=r.get("protocol"), port_range_min=r.get("port_range_min"),
            port_range_max=r.get("port_range_max"), remote_ip_prefix=r.get("remote_ip_prefix"),
            remote_group_id=r.get("remote_group_id"), remote_address_group_id=r.get("remote_address_group_id"),
            description=r.get("description") or "",
            revision_number=0, created_at=t, updated_at=t)
        s.add(rule)
        return rule

    # --- views ---------------------------------------------------------------------------

    @staticmethod
    def rule_views(s: Session, rows: Sequence[SecurityGroupRule]) -> list[dict[str, Any]]:
        defaults = set(s.scalars(select(DefaultSecurityGroup.security_group_id).where(
            DefaultSecurityGroup.security_group_id.in_({r.security_group_id for r in rows}))))
        return [{
            "id": r.id, "security_group_id": r.security_group_id, "direction": r.direction,
            "ethertype": r.ethertype, "protocol": r.protocol, "port_range_min": r.port_range_min,
            "port_range_max": r.port_range_max, "remote_ip_prefix": r.remote_ip_prefix,
            "normalized_cidr": str(ipaddress.ip_interface(r.remote_ip_prefix).network) if r.remote_ip_prefix
            else None, "remote_group_id": r.remote_group_id,
            "remote_address_group_id": r.remote_address_group_id, "description": r.description,
            "tenant_id": r.project_id,
            "project_id": r.project_id, "belongs_to_default_sg": r.security_group_id in defaults,
            "created_at": iso(r.created_at), "updated_at": iso(r.updated_at), "revision_number": r.revision_number,
        } for r in rows]

    def views(self, s: Session, rows: Sequence[SecurityGroup], caller: Caller | None = None) -> list[dict[str, Any]]:
        """``shared`` is true where an RBAC policy shares the group with every project or with the
        caller's."""
        ids = [g.id for g in rows]
        rules: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            found = list(s.scalars(select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(ids))
                                   .order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)))
            for view in self.rule_views(s, found):
                rules[view["security_group_id"]].append(view)
        tags = tags_of(s, ids)
        audience = caller.project_id if caller is not None and caller.project_id else "*"
        everyone = set(s.scalars(shared_with(audience).where(RBACPolicy.object_id.in_(ids)))) if ids else set()
        return [{"id": g.id, "name": g.name, "tenant_id": g.project_id, "project_id": g.project_id,
                 "stateful": g.stateful, "shared": g.id in everyone, "security_group_rules": rules[g.id],
                 **standard(g, tags[g.id])} for g in rows]

    # --- groups --------------------------------------------------------------------------

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        self.default_for(caller)
        with self.db.reader() as s:
            return self.views(s, list_rows(s, GROUPS, GROUP_FILTERS, q, group_visible(caller)), caller)

    def row(self, s: Session, caller: Caller, gid: str) -> SecurityGroup:
        g = s.get(SecurityGroup, gid) if len(gid) <= 36 else None
        if g is None or not (caller.is_admin or g.project_id == caller.project_id
                             or self.usable_by(s, g.id, caller.project_id)):
            raise exc.SecurityGroupNotFound(gid)
        return g

    @staticmethod
    def usable_by(s: Session, gid: str, project_id: str | None) -> bool:
        """Whether an RBAC policy shares the group with the project (its ports may use it)."""
        return s.scalar(shared_with(project_id).where(RBACPolicy.object_id == gid)) is not None

    def get(self, caller: Caller, gid: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, gid)], caller)[0]

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        if str(data.get("name") or "").lower() == "default":
            raise exc.SecurityGroupDefaultAlreadyExists()
        with self.db.writer() as s:
            self.ensure_default(s, data["project_id"])
            self.charge(s, data["project_id"], "security_group")
            gid = self._make_group(s, data["project_id"], data.get("name") or "", data.get("description") or "",
                                   data.get("stateful", True))
            for ethertype in ("IPv4", "IPv6"):
                self._add_rule(s, gid, data["project_id"], {"direction": "egress", "ethertype": ethertype})
            set_tags(s, "security_groups", gid, data.get("tags") or [])
            s.flush()
            view = self.views(s, [s.get_one(SecurityGroup, gid)])[0]
        self.notify("security_group.create.end", {"security_group": view})
        return view

    @retrying
    def update(self, caller: Caller, gid: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            g = self.row(s, caller, gid)
            check_revision(g, if_match)
            is_default = s.scalar(select(func.count()).select_from(DefaultSecurityGroup).where(
                DefaultSecurityGroup.security_group_id == g.id))
            if is_default and "name" in data:
                raise exc.SecurityGroupCannotUpdateDefault()
            if str(data.get("name") or "").lower() == "default":
                raise exc.SecurityGroupDefaultAlreadyExists()
            if "stateful" in data and data["stateful"] != g.stateful and s.scalar(
                    select(func.count()).select_from(PortSecurityGroup).where(
                        PortSecurityGroup.security_group_id == g.id)):
                raise exc.SecurityGroupInUse(g.id)
            for key in ("name", "description", "stateful"):
                if key in data and data[key] is not None:
                    setattr(g, key, data[key])
            touch(g)
            s.flush()
            view = self.views(s, [g])[0]
        self.notify("security_group.update.end", {"security_group": view})
        return view

    def delete(self, caller: Caller, gid: str) -> None:
        with self.db.writer() as s:
            g = self.row(s, caller, gid)
            default = s.scalar(select(DefaultSecurityGroup).where(DefaultSecurityGroup.security_group_id == g.id))
            if default is not None and not caller.is_admin:
                raise exc.SecurityGroupCannotRemoveDefault()
            if s.scalar(select(func.count()).select_from(PortSecurityGroup).where(
                    PortSecurityGroup.security_group_id == g.id)):
                raise exc.SecurityGroupInUse(g.id)
            if default is not None:
                s.delete(default)
            s.execute(delete(SecurityGroupRule).where(SecurityGroupRule.security_group_id == g.id))
            s.execute(delete(Tag).where(Tag.resource_id == g.id))
            s.execute(delete(RBACPolicy).where(RBACPolicy.object_type == "security_group",
                                               RBACPolicy.object_id == g.id))
            s.delete(g)
        self.notify("security_group.delete.end", {"security_group_id": gid})

    # --- rules ---------------------------------------------------------------------------

    def list_rules(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        self.default_for(caller)
        with self.db.reader() as s:
            return self.rule_views(s, list_rows(s, RULES, RULE_FILTERS, q, visible(SecurityGroupRule, caller)))

    def rule_row(self, s: Session, caller: Caller, rid: str) -> SecurityGroupRule:
        r = s.get(SecurityGroupRule, rid) if len(rid) <= 36 else None
        if r is None or not (caller.is_admin or r.project_id == caller.project_id):
            raise exc.SecurityGroupRuleNotFound(rid)
        return r

    def get_rule(self, caller: Caller, rid: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.rule_views(s, [self.rule_row(s, caller, rid)])[0]

    def group_owner(self, caller: Caller, gid: str) -> str:
        with self.db.reader() as s:
            return self.row(s, caller, gid).project_id

    @retrying
    def create_rule(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        rule = validate_rule(data)
        with self.db.writer() as s:
            self.charge(s, data["project_id"], "security_group_rule")
            g = self.row(s, caller, data["security_group_id"])
            if rule.get("remote_group_id"):
                self.row(s, caller, rule["remote_group_id"])
            if rule.get("remote_address_group_id") and self.address_groups is not None:
                self.address_groups.row(s, caller, rule["remote_address_group_id"])
            key = rule_key(rule)
            for other in s.scalars(select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == g.id)):
                if rule_key(vars(other)) == key:
                    raise exc.SecurityGroupRuleExists(other.id)
            row = self._add_rule(s, g.id, g.project_id, rule)
            touch(g)
            s.flush()
            view = self.rule_views(s, [row])[0]
        self.notify("security_group_rule.create.end", {"security_group_rule": view})
        self.tell_agents("security_groups_rule_updated", {"security_groups": [view["security_group_id"]]})
        return view

    def delete_rule(self, caller: Caller, rid: str) -> None:
        with self.db.writer() as s:
            r = self.rule_row(s, caller, rid)
            g = s.get(SecurityGroup, r.security_group_id)
            if g is not None:
                touch(g)
            gid = r.security_group_id
            s.delete(r)
        self.notify("security_group_rule.delete.end", {"security_group_rule_id": rid})
        self.tell_agents("security_groups_rule_updated", {"security_groups": [gid]})


def _protocol_number(protocol: str | None, ethertype: str) -> int | None:
    if protocol is None:
        return None
    number = PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)
    return 58 if ethertype == "IPv6" and number == 1 else number


def rule_key(r: Any) -> tuple[Any, ...]:
    """What makes two rules the same, as Neutron compares them: a protocol by its number, and a
    remote prefix of every address (0.0.0.0/0, ::/0) the same as none."""
    prefix = r.get("remote_ip_prefix")
    if prefix is not None and ipaddress.ip_interface(prefix).network.prefixlen == 0:
        prefix = None
    return (r.get("direction"), r.get("ethertype"), r.get("port_range_min"), r.get("port_range_max"),
            _protocol_number(r.get("protocol"), r.get("ethertype") or "IPv4"), r.get("remote_group_id"), prefix,
            r.get("remote_address_group_id"))


def validate_rule(data: dict[str, Any]) -> dict[str, Any]:
    """A rule as Neutron validates it (protocol, ports, ICMP type/code, ethertype and remote);
    the normalized rule to store."""
    r = dict(data)
    if r.get("direction") not in ("ingress", "egress"):
        raise exc.HTTPBadRequest.attr("direction", f"{r.get('direction')} is not in ['ingress', 'egress']")
    ethertype = r.get("ethertype") or "IPv4"
    if ethertype.lower() not in ("ipv4", "ipv6"):
        raise exc.SecurityGroupRuleInvalidEtherType(ethertype, ["IPv4", "IPv6"])
    ethertype = "IPv4" if ethertype.lower() == "ipv4" else "IPv6"
    r["ethertype"] = ethertype
    protocol = r.get("protocol")
    number: int | None = None
    if protocol is not None and protocol not in ("", "any"):
        protocol = str(protocol).lower()
        if protocol in PROTOCOLS:
            number = PROTOCOLS[protocol]
        elif protocol.isdigit() and 0 <= int(protocol) <= 255:
            number = int(protocol)
        else:
            raise exc.SecurityGroupRuleInvalidProtocol(protocol, sorted(PROTOCOLS))
        if ethertype == "IPv4" and protocol in IPV6_ONLY:
            raise exc.SecurityGroupEthertypeConflictWithProtocol(ethertype, protocol)
        r["protocol"] = protocol
    else:
        r["protocol"] = None
    for name in ("port_range_min", "port_range_max"):
        v = r.get(name)
        if v is None:
            continue
        try:
            if isinstance(v, bool):
                raise ValueError(v)
            v = int(v)
        except (TypeError, ValueError):
            raise exc.SecurityGroupInvalidPortValue(v) from None
        if not 0 <= v <= 65535:
            raise exc.SecurityGroupInvalidPortValue(v)
        r[name] = v
    lo, hi = r.get("port_range_min"), r.get("port_range_max")
    if lo is None and hi is None:
        pass
    elif number is None:
        raise exc.SecurityGroupProtocolRequiredWithPorts()
    elif number in PORT_PROTOCOLS:
        if lo == 0 or hi == 0:
            raise exc.SecurityGroupInvalidPortValue(0)
        if lo is None or hi is None or lo > hi:
            raise exc.SecurityGroupInvalidPortRange()
    elif number in ICMP:
        for field, attr, v in (("type", "port_range_min", lo), ("code", "port_range_max", hi)):
            if v is not None and not 0 <= v <= 255:
                raise exc.SecurityGroupInvalidIcmpValue(field, attr, v)
        if lo is None and hi is not None:
            raise exc.SecurityGroupMissingIcmpType(hi)
    else:
        raise exc.SecurityGroupInvalidProtocolForPort(protocol or "", "[tcp, udp, dccp, sctp, udplite]")
    prefix, remote = r.get("remote_ip_prefix"), r.get("remote_group_id")
    if sum(1 for x in (prefix, remote, r.get("remote_address_group_id")) if x) > 1:
        raise exc.SecurityGroupMultipleRemoteEntites()
    if prefix:
        try:
            iface = ipaddress.ip_interface(prefix)
        except ValueError:
            raise exc.HTTPBadRequest.attr("remote_ip_prefix", f"'{prefix}' is not a valid IP subnet") from None
        if f"IPv{iface.version}" != ethertype:
            raise exc.SecurityGroupRuleParameterConflict(ethertype, prefix)
        r["remote_ip_prefix"] = str(iface)  # with its mask, host bits kept (normalized_cidr drops them)
    else:
        r["remote_ip_prefix"] = None
    r["remote_group_id"] = remote or None
    r["remote_address_group_id"] = r.get("remote_address_group_id") or None
    return r
