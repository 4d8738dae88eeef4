"""What the compute API's handlers share: managers, the bus proxies, microversions and views."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import errors
from litestack.common.api.microversion import Range, Version, negotiation, requested
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import Target, TargetLoader, policy_target, stash
from litestack.common.api.resource import ServiceAPI
from litestack.common.policy import Enforcer
from litestack.compute import states
from litestack.compute.manager.block_devices import volumes_attached

#: The microversions this API implements: every change of Nova's history from 2.1 up to the maximum
#: (``docs/compute.md`` has the table, version by version, with what later ones still wait for).
VERSIONS = Range("compute", Version(2, 1), Version(2, 19), legacy_header="x-openstack-nova-api-version")


def v(minor: int) -> Version:
    """Nova's microversion 2.``minor``."""
    return Version(2, minor)


def iso(dt: Any) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def iso_us(dt: Any) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") if dt is not None else None


def hostname(name: str) -> str:
    """The guest host name Nova derives from a display name (``utils.sanitize_hostname``)."""
    text = re.sub(r"[ _]", "-", name.lower())
    text = re.sub(r"[^\w.-]+", "", text, flags=re.ASCII)
    return text.strip(".-")[:63] or "server"


def _request_id(scope: Scope, version: Version, start: Message) -> list[tuple[bytes, bytes]]:
    """Nova's ``x-compute-request-id`` beside the global ``x-openstack-request-id``."""
    context = scope.get("state", {}).get("context")
    return [(b"x-compute-request-id", context.request_id.encode())] if context is not None else []


#: ``OpenStack-API-Version: compute X.Y`` (and Nova's legacy header) under ``/v2.1``.
MicroversionMiddleware = negotiation(VERSIONS, "/v2.1/", _request_id)


_PROJECT_IN_URL = re.compile(r"^/v2\.1/([0-9a-fA-F]{32}|[0-9a-fA-F-]{36})(?=/|$)")


def project_in_url(app: ASGIApp) -> ASGIApp:
    """Nova's URLs may carry the project id (``/v2.1/{project_id}/servers``; optional since 2.18):
    it is taken out before routing, and must be the caller's own project (400 otherwise)."""
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = get_route_path(scope)
            m = _PROJECT_IN_URL.match(path)
            if m:
                context = scope.get("state", {}).get("context")
                if context is not None and context.project_id != m.group(1) and "admin" not in context.roles:
                    raise errors.BadRequest(f"Malformed request URL: URL's project_id '{m.group(1)}' doesn't "
                                            f"match Context's project_id '{context.project_id}'")
                prefix = scope["path"][: len(scope["path"]) - len(path)]
                rest = "/v2.1" + path[m.end():]
                scope = {**scope, "path": prefix + rest, "raw_path": (prefix + rest).encode()}
        await app(scope, receive, send)
    return middleware


def microversion(request: Request) -> Version:
    return requested(request, VERSIONS)


@dataclass
class Parts:
    """The compute service's logic the API calls (built by the runtime; None in the read-only table)."""

    flavors: Any = None
    keypairs: Any = None
    quotas: Any = None
    instances: Any = None
    hosts: Any = None
    groups: Any = None
    network: Any = None
    image: Any = None
    conductor: Any = None
    agents: Any = None
    claims: Any = None
    volumes: Any = None
    block_devices: Any = None
    notifier: Any = None
    conf: Any = None
    aggregates: Any = None
    usage: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class ComputeAPI(ServiceAPI):
    prefix = "/v2.1"

    def __init__(self, enforcer: Enforcer, parts: Parts) -> None:
        super().__init__(enforcer)
        self.p = parts

    # --- who asks --------------------------------------------------------------------------

    def is_admin(self, request: Request) -> bool:
        return self.allowed(request, "context_is_admin")

    def server_loader(self, with_deleted: bool = False) -> TargetLoader:
        """Loads the server the path names: another project's server is 404 (after the rule was
        checked against the caller's own project), an admin sees every project's."""
        async def load(request: Request) -> Target:
            ident = self.param(request, "server_id")
            caller = context_of(request)
            try:
                inst = await self.run(self.p.instances.get, ident, None, with_deleted)
            except errors.NotFound as exc:
                return Target(policy_target(project_id=caller.project_id, user_id=caller.user_id), missing=exc)
            if inst.project_id != caller.project_id and not self.is_admin(request):
                return Target(policy_target(project_id=caller.project_id, user_id=caller.user_id),
                              missing=errors.NotFound(f"Instance {ident} could not be found."))
            stash(request, inst)
            return Target(policy_target(project_id=inst.project_id, user_id=inst.user_id))
        return load

    async def own_project(self, request: Request) -> Target:
        c = context_of(request)
        return Target(policy_target(project_id=c.project_id, user_id=c.user_id))

    def since(self, request: Request, first: int, last: int | None = None) -> None:
        """A route that exists from 2.``first`` (up to 2.``last``) only: Nova's 404 otherwise."""
        mv = microversion(request)
        if mv < v(first) or (last is not None and mv > v(last)):
            raise errors.NotFound("The resource could not be found.")

    async def host_statuses(self, request: Request) -> dict[str, str]:
        """Each compute host's 2.16 ``host_status``: UP, DOWN, MAINTENANCE (disabled service);
        empty for callers below 2.16 or without the admin view (nothing is looked up then)."""
        if microversion(request) < v(16) or not self.is_admin(request):
            return {}
        rows = await self.run(self.p.hosts.find)
        return {s.host: "MAINTENANCE" if s.disabled else "UP" if self.p.hosts.is_up(s) else "DOWN" for s in rows}

    def host_status(self, statuses: dict[str, str], inst: Any) -> str:
        return statuses.get(inst.host, "UNKNOWN") if inst.host else ""

    # --- views -----------------------------------------------------------------------------

    def link(self, request: Request, kind: str, ident: str) -> list[dict[str, str]]:
        base = self.base(request)
        return [{"rel": "self", "href": f"{base}/v2.1/{kind}/{ident}"},
                {"rel": "bookmark", "href": f"{base}/{kind}/{ident}"}]

    def flavor_view(self, request: Request, f: Any, detail: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {"id": f.id, "name": f.name, "links": self.link(request, "flavors", f.id)}
        if detail:
            body.update({"vcpus": f.vcpus, "ram": f.memory_mb, "disk": f.root_gb,
                         "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb, "swap": f.swap or "",
                         "rxtx_factor": f.rxtx_factor, "os-flavor-access:is_public": f.is_public,
                         "OS-FLV-DISABLED:disabled": f.disabled})
        if microversion(request) >= v(55):
            body["description"] = f.description
        return body

    def server_brief(self, request: Request, inst: Any) -> dict[str, Any]:
        return {"id": inst.id, "name": inst.name, "links": self.link(request, "servers", inst.id)}

    def embedded_flavor(self, request: Request, inst: Any) -> dict[str, Any]:
        """The flavor a server was built with, as 2.47 embeds it instead of a link."""
        f = inst.flavor or {}
        return {"vcpus": int(f.get("vcpus", 0)), "ram": int(f.get("ram", 0)), "disk": int(f.get("disk", 0)),
                "ephemeral": int(f.get("OS-FLV-EXT-DATA:ephemeral", 0) or 0), "swap": int(f.get("swap") or 0),
                "original_name": f.get("name", inst.flavor_id), "extra_specs": dict(f.get("extra_specs") or {})}

    def server_view(self, request: Request, inst: Any, admin: bool, extended: bool = True,
                    host_status: str | None = None) -> dict[str, Any]:
        """A server as show and detail list it, for the request's microversion; ``extended`` False:
        without the extension attributes, as Nova's update and rebuild answer. ``host_status`` is
        the 2.16 status of the server's compute service (the caller looks it up: only for admins)."""
        mv = microversion(request)
        status = states.status(inst.vm_state, inst.task_state)
        host_id = hashlib.sha224((inst.project_id + (inst.host or "")).encode()).hexdigest() if inst.host else ""
        addresses: dict[str, list[dict[str, Any]]] = {}
        for p in inst.ports or []:
            entries = addresses.setdefault(p.get("network_name") or p["network_id"], [])
            for kind, ips in (("fixed", p.get("ips", [])), ("floating", p.get("floating_ips", []))):
                entries.extend({"version": 6 if ":" in ip else 4, "addr": ip, "OS-EXT-IPS:type": kind,
                                "OS-EXT-IPS-MAC:mac_addr": p.get("mac")} for ip in ips)
        groups = (inst.request or {}).get("security_groups") or (["default"] if inst.ports else [])
        body: dict[str, Any] = {
            "id": inst.id, "name": inst.name, "status": status, "tenant_id": inst.project_id,
            "user_id": inst.user_id, "metadata": {m.key: m.value for m in inst.metadata_items},
            "hostId": host_id, "created": iso(inst.created_at), "updated": iso(inst.updated_at),
            "image": {"id": inst.image_id, "links": [{"rel": "bookmark",
                                                      "href": f"{self.base(request)}/images/{inst.image_id}"}]}
            if inst.image_id else "",
            "flavor": self.embedded_flavor(request, inst) if mv >= v(47) else
            {"id": inst.flavor_id, "links": [{"rel": "bookmark",
                                              "href": f"{self.base(request)}/flavors/{inst.flavor_id}"}]},
            "addresses": addresses, "accessIPv4": inst.access_ip_v4 or "", "accessIPv6": inst.access_ip_v6 or "",
            "links": self.link(request, "servers", inst.id),
            "OS-DCF:diskConfig": (inst.request or {}).get("disk_config", "MANUAL"),
            "OS-EXT-AZ:availability_zone": inst.availability_zone or "",
            "config_drive": inst.config_drive or "", "key_name": inst.key_name,
            "OS-SRV-USG:launched_at": iso_us(inst.launched_at),
            "OS-SRV-USG:terminated_at": iso_us(inst.terminated_at),
            "OS-EXT-STS:task_state": inst.task_state, "OS-EXT-STS:vm_state": inst.vm_state,
            "OS-EXT-STS:power_state": inst.power_state,
            "os-extended-volumes:volumes_attached": volumes_attached(inst, microversion(request) >= Version(2, 3)),
        }
        volumes = body["os-extended-volumes:volumes_attached"]
        if mv >= v(3):
            for att in volumes:
                att.setdefault("delete_on_termination", False)
        if mv >= v(9):
            body["locked"] = bool(inst.locked)
        if mv >= v(19):
            body["description"] = inst.description
        if mv >= v(26):
            body["tags"] = [t.tag for t in inst.tags]
        if not extended:
            for key in [k for k in body if k.startswith(("OS-EXT-", "OS-SRV-USG:", "os-extended-volumes:"))]:
                del body[key]
            del body["config_drive"], body["key_name"]
            return body
        if groups:
            body["security_groups"] = [{"name": g} for g in groups]
        if status in ("BUILD", "ACTIVE"):
            body["progress"] = inst.progress
        if admin:
            body.update({"OS-EXT-SRV-ATTR:host": inst.host, "OS-EXT-SRV-ATTR:hypervisor_hostname": inst.host,
                         "OS-EXT-SRV-ATTR:instance_name": f"instance-{inst.id[:8]}"})
            if mv >= v(3):
                body.update({"OS-EXT-SRV-ATTR:reservation_id": inst.reservation_id,
                             "OS-EXT-SRV-ATTR:launch_index": inst.launch_index,
                             "OS-EXT-SRV-ATTR:hostname": hostname(inst.name),
                             "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
                             "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda" if inst.launched_at else None,
                             "OS-EXT-SRV-ATTR:user_data": inst.user_data})
            if mv >= v(16):
                body["host_status"] = host_status if host_status is not None else ""
        if status in ("ERROR", "DELETED") and inst.faults:
            f = inst.faults[-1]
            fault = {"code": f.code, "created": iso(f.created_at), "message": f.message}
            if admin or f.code != 500:
                fault["details"] = f.details
            body["fault"] = fault
        return body
