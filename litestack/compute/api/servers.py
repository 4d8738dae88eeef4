"""Servers: create (with the checks Nova makes before anything is built), list with Nova's
filters, show, update, delete; metadata, addresses and instance actions."""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import logging
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.microversion import Version
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import body, loaded
from litestack.common.db import run_blocking
from litestack.compute import states
from litestack.compute.api import boot_volumes as volumes
from litestack.compute.api.base import ComputeAPI, iso_us, microversion, v
from litestack.compute.manager.instances import UnexpectedTaskState, parse_time

LOG = logging.getLogger(__name__)

_UUID = {"type": "string", "format": "uuid"}
# How many items is a quota (metadata_items: 403), not a schema limit.
_META = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 255},
         "propertyNames": {"minLength": 1, "maxLength": 255}}
_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s)[\s\S]*(?<!\s)$"}
#: A server tag (2.26) or device tag (2.32): no slash, no comma.
_TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
_DESCRIPTION = {"type": ["string", "null"], "maxLength": 255}
_CREATE = {"type": "object", "required": ["server"], "properties": {
    "server": {"type": "object", "required": ["name", "flavorRef"], "additionalProperties": False, "properties": {
        "name": _NAME,
        "imageRef": {"type": "string", "maxLength": 255},
        "flavorRef": {"type": ["string", "integer"], "minLength": 1},
        "networks": {"oneOf": [
            {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {
                "uuid": {"type": "string"}, "port": {"type": ["string", "null"]},
                "fixed_ip": {"type": "string"}, "tag": _TAG}}},
            {"enum": ["auto", "none"]}]},
        "description": _DESCRIPTION,
        "tags": {"type": "array", "items": _TAG, "maxItems": 50},
        "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "security_groups": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                       "properties": {"name": {"type": "string", "minLength": 1}}}},
        "user_data": {"type": "string", "maxLength": 65535},
        "metadata": _META,
        "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
        "min_count": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
        "max_count": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
        "return_reservation_id": {"type": ["boolean", "string"]},
        "accessIPv4": {"type": "string", "format": "ipv4"},
        "accessIPv6": {"type": "string", "format": "ipv6"},
        "config_drive": {"type": ["boolean", "string"]},
        "adminPass": {"type": "string"},
        "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
        "block_device_mapping_v2": {"type": "array", "items": volumes.BDM_ITEM}}},
    "os:scheduler_hints": {"type": "object", "properties": {
        "group": _UUID, "same_host": {"type": ["string", "array"], "items": _UUID},
        "different_host": {"type": ["string", "array"], "items": _UUID}}},
    "OS-SCH-HNT:scheduler_hints": {"type": "object"}}, "additionalProperties": False}
_UPDATE = {"type": "object", "required": ["server"], "additionalProperties": False, "properties": {
    "server": {"type": "object", "additionalProperties": False, "properties": {
        "name": _NAME, "description": _DESCRIPTION, "accessIPv4": {"type": "string", "format": "ipv4"},
        "accessIPv6": {"type": "string", "format": "ipv6"}, "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]}}}}}
_TAGS = {"type": "object", "required": ["tags"], "additionalProperties": False,
         "properties": {"tags": {"type": "array", "items": _TAG, "maxItems": 50}}}
_META_BODY = {"type": "object", "required": ["metadata"], "additionalProperties": False,
              "properties": {"metadata": _META}}
_META_ONE = {"type": "object", "required": ["meta"], "additionalProperties": False, "properties": {
    "meta": {**_META, "minProperties": 1, "maxProperties": 1}}}

#: Query filters a project user may give (Nova's); admins also host, all_tenants, project_id, …
USER_FILTERS: tuple[str, ...] = (
    "name", "status", "image", "flavor", "changes-since", "ip", "reservation_id", "limit", "marker", "sort_key",
    "sort_dir", "tags", "tags-any", "key_name", "availability_zone")
#: Since 2.5 ``ip6`` is a user filter too; 2.26 adds the negated tag filters.
USER_FILTERS += ("ip6", "not-tags", "not-tags-any", "description")
ADMIN_FILTERS = ("all_tenants", "host", "deleted", "project_id", "tenant_id", "user_id", "node")


def _count(v: Any, name: str) -> int:
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {v}.") from None
    if n < 1:
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {v}. 0 is less than 1")
    return n


def normal_ip(text: str | None) -> str | None:
    """An address in its canonical form (Nova stores accessIPv6 compressed)."""
    if not text:
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise errors.BadRequest(f"Invalid input: {text} is not an IP address") from None


def check_user_data(data: str | None) -> str | None:
    """User data must be base 64 (Nova's 400 otherwise)."""
    if data:
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise errors.BadRequest("User data needs to be valid base 64.") from None
    return data


def unexpected(field: str) -> errors.BadRequest:
    """Nova's 400 for a body field the request's microversion does not know."""
    return errors.BadRequest(f"Invalid input for field/attribute server. Value: {field}. Additional properties "
                             f"are not allowed ('{field}' was unexpected)")


def check_versioned_fields(srv: dict[str, Any], mv: Version, create: bool) -> None:
    """The create/update fields that exist only from a microversion on (Nova validates the body
    with the schema of the request's version)."""
    if "description" in srv and mv < v(19):
        raise unexpected("description")
    if not create:
        return
    if "tags" in srv and mv < v(52):
        raise unexpected("tags")
    nets = srv.get("networks")
    if isinstance(nets, str) and mv < v(37):
        raise errors.BadRequest(f"Invalid input for field/attribute networks. Value: {nets}. '{nets}' is not "
                                "of type 'array'")
    if nets is None and mv >= v(37):
        raise errors.BadRequest("Invalid input for field/attribute server. Value: {}. 'networks' is a required "
                                "property")
    if isinstance(nets, list) and any("tag" in n for n in nets) and not (mv == v(32) or mv >= v(42)):
        raise errors.BadRequest("Invalid input for field/attribute networks. Additional properties are not "
                                "allowed ('tag' was unexpected)")


#: The vm_states a delete keeps restorable when ``reclaim_instance_interval`` is set.
SOFT_DELETABLE = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.ERROR)


async def soft_delete(api: ComputeAPI, request: Request, inst: Any) -> bool:
    """Delete as Nova does with ``reclaim_instance_interval``: a settled server on a live host is
    powered off and kept SOFT_DELETED (restorable) until its agent reclaims it. False: the server
    is deleted at once instead (no interval, never built, host down, or already soft-deleted)."""
    interval = api.p.conf.get("compute", "reclaim_instance_interval") if api.p.conf is not None else 0
    if not interval or not inst.host or inst.vm_state not in SOFT_DELETABLE or inst.task_state is not None:
        return False
    svc = await api.run(api.p.hosts.by_host, inst.host)
    if svc is None or not api.p.hosts.is_up(svc):
        return False
    try:
        await api.run(lambda: api.p.instances.save(
            inst.id, expected_task_state=[None], expected_vm_state=list(SOFT_DELETABLE),
            task_state=states.SOFT_DELETING, deleted_at=datetime.datetime.now(datetime.UTC)))
    except (UnexpectedTaskState, errors.Conflict):
        raise errors.Conflict(f"Cannot 'delete' instance {inst.id} while it is in task_state "
                              f"{inst.task_state}") from None
    await api.p.agents.cast(inst.host, "soft_delete_instance", instance_id=inst.id,
                            request_id=context_of(request).request_id)
    return True


def ops(api: ComputeAPI) -> list[Op]:
    async def create(request: Request) -> Response:
        data = body(request)
        srv = data["server"]
        c = context_of(request)
        token = c.auth_token or ""
        mv = microversion(request)
        check_versioned_fields(srv, mv, True)
        flavor_id = str(srv["flavorRef"]).rstrip("/").rsplit("/", 1)[-1]
        try:
            flavor = await api.run(api.p.flavors.get, flavor_id, c.project_id, api.is_admin(request))
        except errors.NotFound:
            raise errors.BadRequest(f"Flavor {flavor_id} could not be found.") from None
        if flavor.disabled:
            raise errors.BadRequest(f"Flavor {flavor_id} is disabled.")
        min_count = _count(srv.get("min_count", 1), "min_count")
        max_count = _count(srv.get("max_count", min_count), "max_count")
        boot = await volumes.plan_boot(api, request, srv, max_count)
        image_id = boot.image_id
        image = boot.image or {}
        if image.get("min_ram", 0) > flavor.memory_mb:
            raise errors.BadRequest("Flavor's memory is too small for requested image.")
        if flavor.root_gb and image.get("min_disk", 0) > flavor.root_gb:
            raise errors.BadRequest("Flavor's disk is too small for requested image.")
        key_data = None
        if srv.get("key_name"):
            try:
                kp = await api.run(api.p.keypairs.get, c.user_id, srv["key_name"])
            except errors.NotFound:
                raise errors.BadRequest("Invalid key_name provided.") from None
            key_data = kp.public_key
        check_user_data(srv.get("user_data"))
        if min_count > max_count:
            raise errors.BadRequest("min_count must be <= max_count")
        requested_nets = srv.get("networks")
        for item in requested_nets if isinstance(requested_nets, list) else []:
            if not item.get("uuid") and not item.get("port"):
                raise errors.BadRequest("Bad networks format: network uuid is not in proper format")
        groups = [g["name"] for g in srv.get("security_groups", [])]
        nets, group_ids = await api.p.network.resolve(token, requested_nets, list(dict.fromkeys(groups)),
                                                      project_id=c.project_id)
        if max_count > 1 and any(n.get("port_id") for n in nets):
            raise errors.BadRequest("Multiple instances cannot be created with the same port")
        hints = dict(data.get("os:scheduler_hints") or data.get("OS-SCH-HNT:scheduler_hints") or {})
        group_id = hints.get("group")
        if group_id is not None:
            try:
                await api.run(api.p.groups.get, group_id, None if api.is_admin(request) else c.project_id)
            except errors.NotFound:
                raise errors.BadRequest(f"Invalid input for group hint: Group {group_id} could not be found.") from None
        az = srv.get("availability_zone")
        if az:
            zone = az.partition(":")[0]
            known = {s.availability_zone for s in await api.run(api.p.hosts.find)}
            if zone and zone not in known:
                raise errors.BadRequest(f"The requested availability zone is not available: {zone}")
        props = boot.image_properties if boot.image_properties is not None else \
            {k: v for k, v in image.items() if isinstance(v, str)}
        snapshot = {"id": flavor.id, "name": flavor.name, "vcpus": flavor.vcpus, "ram": flavor.memory_mb,
                    "disk": flavor.root_gb, "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb, "swap": flavor.swap,
                    "extra_specs": {e.key: e.value for e in flavor.extra_specs}}
        base = {"name": srv["name"], "project_id": c.project_id, "user_id": c.user_id, "image_id": image_id,
                "flavor_id": flavor.id, "flavor": snapshot, "key_name": srv.get("key_name"), "key_data": key_data,
                "user_data": srv.get("user_data"), "requested_az": az, "availability_zone": None,
                "description": srv.get("description"),
                "access_ip_v4": normal_ip(srv.get("accessIPv4")), "access_ip_v6": normal_ip(srv.get("accessIPv6")),
                "config_drive": "True" if str(srv.get("config_drive", "")).lower() in ("true", "1") else "",
                "request": {"disk_config": srv.get("OS-DCF:diskConfig", "MANUAL"),
                            "networks": nets, "security_groups": groups or (["default"] if nets else []),
                            "security_group_ids": group_ids, "scheduler_hints": hints, "image_properties": props,
                            "volume_backed": boot.volume_backed}}
        made = await api.run(api.p.instances.create, base, max_count, dict(srv.get("metadata", {})),
                             list(dict.fromkeys(srv.get("tags", []))), group_id)
        await volumes.provision(api, request, made, boot)
        for inst in made:
            await api.run(api.p.instances.record_action, inst.id, "create", c.request_id, c.user_id, c.project_id)
        await api.p.conductor.build_instances([i.id for i in made])
        first = made[0]
        if str(srv.get("return_reservation_id", "")).lower() in ("true", "1"):
            return JSON({"reservation_id": first.reservation_id}, status_code=202)
        # Nova's enable_instance_password: the given password, or a generated one, is returned once
        # (the fake driver has no guest to set it in; a real driver injects it).
        out = {"id": first.id, "links": api.link(request, "servers", first.id),
               "OS-DCF:diskConfig": srv.get("OS-DCF:diskConfig", "MANUAL"),
               "security_groups": [{"name": g} for g in (groups or ["default"])],
               "adminPass": srv.get("adminPass") or secrets.token_urlsafe(12)}
        location = api.link(request, "servers", first.id)[0]["href"]
        return JSON({"server": out}, status_code=202, headers={"Location": location})

    def listing(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            q = request.query_params
            c = context_of(request)
            admin = api.is_admin(request)
            unknown = [k for k in q if k not in USER_FILTERS + ADMIN_FILTERS and not k.startswith("fields")]
            del unknown  # Nova ignores filters it does not know (for non-admins, the admin ones too)
            filters: dict[str, Any] = {"project_id": c.project_id}
            if admin:
                if "all_tenants" in q:
                    filters.pop("project_id")
                    # As in Nova, a project filter counts only with all_tenants.
                    for k in ("project_id", "tenant_id"):
                        if q.get(k):
                            filters["project_id"] = q[k]
                for k in ("host", "user_id"):
                    if q.get(k):
                        filters[k] = q[k]
                if q.get("deleted", "").lower() in ("true", "1"):
                    filters["deleted"] = True
            for k in ("name", "image", "flavor", "reservation_id", "key_name", "availability_zone"):
                if q.get(k):
                    filters[k] = q[k]
            if q.get("status"):
                vm = states.vm_states_of(q["status"])
                if not vm and microversion(request) >= v(38) and not admin:
                    raise errors.BadRequest(f"Invalid status value: {q['status']}")
                filters["vm_states"] = vm or ["__none__"]
            if q.get("changes-since"):
                filters["changes-since"] = parse_time(q["changes-since"])
                filters["deleted"] = admin or filters.get("deleted", False)
            if q.get("tags"):
                filters["tags"] = q["tags"].split(",")
            for k in ("tags-any", "not-tags", "not-tags-any"):
                if q.get(k):
                    filters[k] = q[k].split(",")
            max_limit = api.p.conf.get("compute", "max_limit") if api.p.conf is not None else 1000
            limit = max_limit
            if "limit" in q:
                try:
                    limit = int(q["limit"])
                except ValueError:
                    raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {q['limit']}.") from None
                if limit < 0:
                    raise errors.BadRequest("limit must be >= 0")
                limit = min(limit, max_limit)
            checks: list[Any] = []
            for key, six in (("ip", False), ("ip6", True)):
                if not q.get(key) or (six and microversion(request) < v(5) and not admin):
                    continue
                try:
                    pat = re.compile(q[key])
                except re.error:
                    raise errors.BadRequest(f"Invalid {key} filter") from None
                checks.append(lambda r, pat=pat, six=six: any(
                    pat.search(ip) for p in r.ports or [] for ip in p.get("ips", []) if (":" in ip) == six))
            if q.get("description") and microversion(request) >= v(19):
                try:
                    described = re.compile(q["description"])
                except re.error:
                    raise errors.BadRequest("Invalid description filter") from None
                checks.append(lambda r: bool(r.description and described.search(r.description)))
            if checks:
                filters["match"] = lambda r: all(check(r) for check in checks)
            rows = await api.run(lambda: api.p.instances.find(filters, limit, q.get("marker"),
                                                              q.get("sort_key", "created_at"),
                                                              q.get("sort_dir", "desc")))
            statuses = await api.host_statuses(request) if detail else {}
            views = [api.server_view(request, r, admin, host_status=api.host_status(statuses, r)) if detail
                     else api.server_brief(request, r) for r in rows]
            out: dict[str, Any] = {"servers": views}
            if rows and len(rows) == limit:  # a full page (Nova's max_limit when none was asked): more may follow
                params = [(k, val) for k, val in q.multi_items() if k not in ("limit", "marker")]
                params += [("limit", str(limit)), ("marker", rows[-1].id)]
                out["servers_links"] = [{"rel": "next", "href": f"{api.self_url(request)}?{urlencode(params)}"}]
            return JSON(out)
        return handler

    async def show(request: Request) -> Response:
        inst = loaded(request)
        statuses = await api.host_statuses(request)
        return JSON({"server": api.server_view(request, inst, api.is_admin(request),
                                               host_status=api.host_status(statuses, inst))})

    async def update(request: Request) -> Response:
        srv = body(request)["server"]
        check_versioned_fields(srv, microversion(request), False)
        fields = {k: v for k, v in (("name", srv.get("name")), ("access_ip_v4", normal_ip(srv.get("accessIPv4"))),
                                    ("access_ip_v6", normal_ip(srv.get("accessIPv6")))) if v is not None}
        if "description" in srv:
            fields["description"] = srv["description"]
        if "OS-DCF:diskConfig" in srv:
            fields["request"] = {**(loaded(request).request or {}), "disk_config": srv["OS-DCF:diskConfig"]}
        inst = await api.run(lambda: api.p.instances.save(loaded(request).id, **fields))
        return JSON({"server": api.server_view(request, inst, api.is_admin(request), extended=False)})

    async def delete(request: Request) -> Response:
        inst = loaded(request)
        c = context_of(request)
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        await api.run(api.p.instances.record_action, inst.id, "delete", c.request_id, c.user_id, c.project_id)
        if not await soft_delete(api, request, inst):
            await api.p.extra["delete"](inst)
        return no_content()

    # --- metadata, addresses, actions --------------------------------------------------------

    async def meta_index(request: Request) -> Response:
        return JSON({"metadata": {m.key: m.value for m in loaded(request).metadata_items}})

    def meta_set(replace: bool) -> Any:
        async def handler(request: Request) -> Response:
            items = await api.run(api.p.instances.set_metadata, loaded(request).id, body(request)["metadata"],
                                  replace)
            return JSON({"metadata": items if not replace else body(request)["metadata"]})
        return handler

    async def meta_show(request: Request) -> Response:
        key = request.path_params["key"]
        found = {m.key: m.value for m in loaded(request).metadata_items}
        if key not in found:
            raise errors.NotFound("Metadata item was not found")
        return JSON({"meta": {key: found[key]}})

    async def meta_put(request: Request) -> Response:
        key, meta = request.path_params["key"], body(request)["meta"]
        if key not in meta:
            raise errors.BadRequest("Request body and URI mismatch")
        await api.run(api.p.instances.set_metadata, loaded(request).id, meta, False)
        return JSON({"meta": meta})

    async def meta_delete(request: Request) -> Response:
        await api.run(api.p.instances.delete_metadata, loaded(request).id, request.path_params["key"])
        return no_content()

    def addresses(inst: Any) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for p in inst.ports or []:
            out.setdefault(p.get("network_name") or p["network_id"], []).extend(
                {"version": 6 if ":" in ip else 4, "addr": ip}
                for ip in [*p.get("ips", []), *p.get("floating_ips", [])])
        return out

    async def ips(request: Request) -> Response:
        return JSON({"addresses": addresses(loaded(request))})

    async def ips_of(request: Request) -> Response:
        net = request.path_params["network"]
        found = addresses(loaded(request))
        if net not in found:
            raise errors.NotFound("Instance is not a member of specified network")
        return JSON({net: found[net]})

    def action_view(request: Request, a: Any) -> dict[str, Any]:
        view = {"action": a.action, "instance_uuid": a.instance_id, "request_id": a.request_id,
                "user_id": a.user_id, "project_id": a.project_id, "start_time": iso_us(a.start_time),
                "message": a.message}
        if microversion(request) >= v(58):
            view["updated_at"] = iso_us(a.updated_at)
        return view

    async def actions(request: Request) -> Response:
        q = request.query_params
        rows = await api.run(api.p.instances.actions, loaded(request).id)
        out: dict[str, Any] = {}
        if microversion(request) >= v(58):  # paging and changes-since over the newest-first list
            if q.get("changes-since"):
                since = parse_time(q["changes-since"])
                rows = [a for a in rows if a.updated_at >= since]
            if q.get("marker"):
                ids = [a.request_id for a in rows]
                if q["marker"] not in ids:
                    raise errors.BadRequest(f"Marker {q['marker']} could not be found.")
                rows = rows[ids.index(q["marker"]) + 1:]
            if "limit" in q:
                limit = _count(q["limit"], "limit") if q["limit"] != "0" else 0
                if len(rows) > limit:
                    out["links"] = [{"rel": "next", "href": f"{api.self_url(request)}?limit={limit}&marker="
                                                             f"{rows[limit - 1].request_id if limit else ''}"}]
                rows = rows[:limit]
        return JSON({"instanceActions": [action_view(request, a) for a in rows], **out})

    async def action_show(request: Request) -> Response:
        a = await api.run(api.p.instances.action, loaded(request).id, request.path_params["request_id"])
        view = action_view(request, a)
        # Events: the admin sees them, and from 2.51 everyone (without the traceback).
        admin = api.is_admin(request)
        if admin or microversion(request) >= v(51):
            view["events"] = []
            for e in await api.run(api.p.instances.events, a.id):
                event = {"event": e.event, "start_time": iso_us(e.start_time), "finish_time": iso_us(e.finish_time),
                         "result": e.result}
                if admin:
                    event["traceback"] = e.traceback
                view["events"].append(event)
        return JSON({"instanceAction": view})

    # --- tags (2.26) ----------------------------------------------------------------------

    def tag_of(request: Request) -> str:
        tag = request.path_params["tag"]
        if not 1 <= len(tag) <= 60 or "," in tag or "/" in tag:
            raise errors.BadRequest(f"Tag '{tag}' is invalid: 1 to 60 characters, no ',' or '/'.")
        return str(tag)

    async def tag_task_check(request: Request) -> Any:
        api.since(request, 26)
        inst = loaded(request)
        if inst.vm_state == states.BUILDING:
            # Nova refuses tag changes while the build runs (its tags are read by the build).
            raise errors.Conflict(f"Cannot 'update tags' instance {inst.id} while it is in task_state "
                                  f"{inst.task_state}")
        return inst

    async def tags_index(request: Request) -> Response:
        api.since(request, 26)
        return JSON({"tags": [t.tag for t in loaded(request).tags]})

    async def tags_replace(request: Request) -> Response:
        inst = await tag_task_check(request)
        tags = await api.run(api.p.instances.set_tags, inst.id, body(request)["tags"], True)
        return JSON({"tags": tags})

    async def tags_clear(request: Request) -> Response:
        inst = await tag_task_check(request)
        await api.run(api.p.instances.delete_tag, inst.id, None)
        return no_content()

    async def tag_check(request: Request) -> Response:
        api.since(request, 26)
        tag = tag_of(request)
        if tag not in [t.tag for t in loaded(request).tags]:
            raise errors.NotFound(f"Tag {tag} could not be found for instance {loaded(request).id}.")
        return no_content()

    async def tag_add(request: Request) -> Response:
        inst = await tag_task_check(request)
        tag = tag_of(request)
        if tag in [t.tag for t in inst.tags]:
            return no_content()
        await api.run(api.p.instances.set_tags, inst.id, [tag], False)
        location = f"{api.link(request, 'servers', inst.id)[0]['href']}/tags/{tag}"
        return Response(status_code=201, headers={"Location": location})

    async def tag_delete(request: Request) -> Response:
        inst = await tag_task_check(request)
        await api.run(api.p.instances.delete_tag, inst.id, tag_of(request))
        return no_content()

    async def actions_loader(request: Request) -> Any:
        # From 2.21 the actions of a deleted server stay readable.
        return await api.server_loader(with_deleted=microversion(request) >= v(21))(request)

    srv = "os_compute_api:servers"
    meta, tags = "os_compute_api:server-metadata", "os_compute_api:os-server-tags"
    load = api.server_loader()
    return [
        Op("POST", "/v2.1/servers", create, body=_CREATE, rule=f"{srv}:create", target=api.own_project,
           tag="servers", status=202, errors=(400, 401, 403, 409)),
        Op("GET", "/v2.1/servers", listing(False), rule=f"{srv}:index", target=api.own_project, tag="servers",
           query=USER_FILTERS + ADMIN_FILTERS),
        Op("GET", "/v2.1/servers/detail", listing(True), rule=f"{srv}:detail", target=api.own_project,
           tag="servers", query=USER_FILTERS + ADMIN_FILTERS),
        Op("GET", "/v2.1/servers/{server_id}", show, rule=f"{srv}:show", target=load, tag="servers"),
        Op("PUT", "/v2.1/servers/{server_id}", update, body=_UPDATE, rule=f"{srv}:update", target=load,
           tag="servers"),
        Op("DELETE", "/v2.1/servers/{server_id}", delete, rule=f"{srv}:delete", target=load, tag="servers",
           status=204, errors=(401, 403, 404, 409)),
        Op("GET", "/v2.1/servers/{server_id}/metadata", meta_index, rule=f"{meta}:index", target=load,
           tag="servers"),
        Op("PUT", "/v2.1/servers/{server_id}/metadata", meta_set(True), body=_META_BODY,
           rule=f"{meta}:update_all", target=load, tag="servers"),
        Op("POST", "/v2.1/servers/{server_id}/metadata", meta_set(False), body=_META_BODY, rule=f"{meta}:create",
           target=load, tag="servers"),
        Op("GET", "/v2.1/servers/{server_id}/metadata/{key}", meta_show, rule=f"{meta}:show", target=load,
           tag="servers"),
        Op("PUT", "/v2.1/servers/{server_id}/metadata/{key}", meta_put, body=_META_ONE, rule=f"{meta}:update",
           target=load, tag="servers"),
        Op("DELETE", "/v2.1/servers/{server_id}/metadata/{key}", meta_delete, rule=f"{meta}:delete", target=load,
           tag="servers", status=204),
        Op("GET", "/v2.1/servers/{server_id}/ips", ips, rule="os_compute_api:ips:index", target=load,
           tag="servers"),
        Op("GET", "/v2.1/servers/{server_id}/ips/{network}", ips_of, rule="os_compute_api:ips:show", target=load,
           tag="servers"),
        Op("GET", "/v2.1/servers/{server_id}/os-instance-actions", actions,
           rule="os_compute_api:os-instance-actions:list", target=actions_loader, tag="servers",
           query=("limit", "marker", "changes-since")),
        Op("GET", "/v2.1/servers/{server_id}/os-instance-actions/{request_id}", action_show,
           rule="os_compute_api:os-instance-actions:show", target=actions_loader, tag="servers"),
        Op("GET", "/v2.1/servers/{server_id}/tags", tags_index, rule=f"{tags}:index", target=load, tag="servers"),
        Op("PUT", "/v2.1/servers/{server_id}/tags", tags_replace, body=_TAGS, rule=f"{tags}:update_all",
           target=load, tag="servers"),
        Op("DELETE", "/v2.1/servers/{server_id}/tags", tags_clear, rule=f"{tags}:delete_all", target=load,
           tag="servers", status=204),
        Op("GET", "/v2.1/servers/{server_id}/tags/{tag}", tag_check, rule=f"{tags}:show", target=load,
           tag="servers", status=204),
        Op("PUT", "/v2.1/servers/{server_id}/tags/{tag}", tag_add, rule=f"{tags}:update", target=load,
           tag="servers", status=201, errors=(204, 400, 401, 403, 404, 409)),
        Op("DELETE", "/v2.1/servers/{server_id}/tags/{tag}", tag_delete, rule=f"{tags}:delete", target=load,
           tag="servers", status=204),
    ]


__all__ = ["ops", "run_blocking"]
