"""Server operations beyond the power actions: soft delete (``restore``, ``forceDelete``, with
``[compute] reclaim_instance_interval``), ``changePassword``, ``trigger_crash_dump`` (2.17),
diagnostics (2.1 and the standard format of 2.48), the server password
(``os-server-password``) and interfaces (``os-interface``: list, show, attach, detach through the
network service and the host agent's driver)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import body, loaded
from litestack.common.rpc.exceptions import RemoteError
from litestack.compute import states
from litestack.compute.api.actions import Action, cast, conflict, record, start_task
from litestack.compute.api.base import ComputeAPI, microversion, v
from litestack.compute.manager.instances import UnexpectedTaskState

_NULLABLE = {"type": ["object", "null"]}
_PASSWORD = {"type": "object", "required": ["adminPass"], "additionalProperties": False,
             "properties": {"adminPass": {"type": "string", "minLength": 0, "maxLength": 255}}}
_ATTACH = {"type": "object", "additionalProperties": False, "properties": {
    "interfaceAttachment": {"type": "object", "additionalProperties": False, "properties": {
        "net_id": {"type": "string", "format": "uuid"}, "port_id": {"type": "string", "format": "uuid"},
        "fixed_ips": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
            "type": "object", "required": ["ip_address"], "additionalProperties": False, "properties": {
                "ip_address": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}}}},
        "tag": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}}}}}
_CONSOLE = {"type": "object", "required": ["remote_console"], "additionalProperties": False, "properties": {
    "remote_console": {"type": "object", "required": ["protocol", "type"], "additionalProperties": False,
                       "properties": {"protocol": {"enum": ["vnc", "spice", "rdp", "serial", "mks"]},
                                      "type": {"enum": ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial",
                                                        "webmks"]}}}}}
#: The power states as 2.48 names them.
_POWER_NAMES = {0: "pending", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed", 7: "suspended"}
_LIVE = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.ERROR)


def _agent_error(exc: Exception, inst: Any, action: str) -> errors.LitestackError:
    """Nova's answers to a failure on the host: 501 when the driver cannot, 409 for the state."""
    kind = exc.exc_type if isinstance(exc, RemoteError) else type(exc).__name__
    if kind == "NotImplementedError":
        return errors.NotImplementedYet(f"Unable to {action} on instance {inst.id}: not supported by its "
                                          "virt driver.")
    return errors.Conflict(f"Cannot '{action}' instance {inst.id}: {exc}")


def actions(api: ComputeAPI) -> dict[str, Action]:
    async def restore(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        await start_task(api, request, inst, "restore", (states.SOFT_DELETED,), states.RESTORING)
        await record(api, request, inst, "restore")
        await cast(api, request, inst, "restore_instance")
        return Response(status_code=202)

    async def force_delete(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        if inst.vm_state != states.SOFT_DELETED:
            raise conflict(inst, "forceDelete")
        await record(api, request, inst, "forceDelete")
        await api.p.extra["delete"](inst)
        return Response(status_code=202)

    async def change_password(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        await start_task(api, request, inst, "changePassword", (states.ACTIVE,), states.UPDATING_PASSWORD)
        await record(api, request, inst, "changePassword")
        try:
            await api.p.agents.call(inst.host, "set_admin_password", instance_id=inst.id,
                                    password=args["adminPass"])
        except errors.NotFound:
            raise
        except Exception as exc:  # the driver's refusal, or the host's silence
            await api.run(lambda: _clear_task(api, inst.id, states.UPDATING_PASSWORD))
            raise _agent_error(exc, inst, "set admin password") from None
        return Response(status_code=202)

    async def inject_network_info(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        if not inst.host or inst.vm_state == states.BUILDING:
            raise conflict(inst, "inject_network_info")
        await record(api, request, inst, "inject_network_info")
        await cast(api, request, inst, "inject_network_info")
        return Response(status_code=202)

    async def crash_dump(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        if inst.vm_state not in (states.ACTIVE, states.ERROR) or inst.task_state is not None or not inst.host:
            raise conflict(inst, "trigger_crash_dump")
        await record(api, request, inst, "trigger_crash_dump")
        await cast(api, request, inst, "trigger_crash_dump")
        return Response(status_code=202)

    def legacy_console(protocol: str) -> Any:
        async def handler(request: Request, inst: Any, args: dict[str, Any]) -> Response:
            check_console(inst, protocol, args.get("type", "serial" if protocol == "serial" else ""))
            raise no_console(protocol)
        return handler

    dd, rc = "os_compute_api:os-deferred-delete", "os_compute_api:os-remote-consoles"
    legacy = {name: Action(rc, {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
                           legacy_console(protocol), max_version=v(5))
              for name, protocol in (("os-getVNCConsole", "vnc"), ("os-getSPICEConsole", "spice"),
                                     ("os-getRDPConsole", "rdp"), ("os-getSerialConsole", "serial"))}
    return {
        **legacy,
        "restore": Action(f"{dd}:restore", _NULLABLE, restore),
        "forceDelete": Action(f"{dd}:force", _NULLABLE, force_delete),
        "injectNetworkInfo": Action("os_compute_api:os-admin-actions:inject_network_info", _NULLABLE,
                                    inject_network_info),
        "changePassword": Action("os_compute_api:os-admin-password", _PASSWORD, change_password),
        "trigger_crash_dump": Action("os_compute_api:servers:trigger_crash_dump", _NULLABLE, crash_dump,
                                     min_version=v(17)),
    }


#: The console types of each protocol (mks from 2.8).
CONSOLE_TYPES = {"vnc": ("novnc", "xvpvnc"), "spice": ("spice-html5",), "rdp": ("rdp-html5",),
                 "serial": ("serial",), "mks": ("webmks",)}


def check_console(inst: Any, protocol: str, kind: str) -> None:
    if kind not in CONSOLE_TYPES.get(protocol, ()):
        raise errors.BadRequest(f"Invalid console type {kind} for protocol {protocol}.")
    if not inst.host or inst.vm_state == states.BUILDING:
        raise errors.Conflict(f"Instance {inst.id} is not ready")


def no_console(protocol: str) -> errors.LitestackError:
    """No virt driver of litestack serves remote consoles yet (the fake one has no guest display or
    serial port to proxy): Nova's answer when the driver does not implement the console."""
    return errors.NotImplementedYet(f"Unable to get {protocol} console, functionality not implemented")


def _clear_task(api: ComputeAPI, instance_id: str, task: str) -> None:
    try:
        api.p.instances.save(instance_id, expected_task_state=[task], task_state=None)
    except (UnexpectedTaskState, errors.NotFound):
        pass


def ops(api: ComputeAPI) -> list[Op]:
    load = api.server_loader()

    def on_host(inst: Any, action: str) -> None:
        if not inst.host or inst.vm_state == states.BUILDING:
            raise conflict(inst, action)

    async def remote_console(request: Request) -> Response:
        api.since(request, 6)
        data = body(request)["remote_console"]
        if data["protocol"] == "mks" and microversion(request) < v(8):
            raise errors.BadRequest("Invalid input for field/attribute protocol. Value: mks. 'mks' is not one of "
                                    "['vnc', 'spice', 'rdp', 'serial']")
        check_console(loaded(request), data["protocol"], data["type"])
        raise no_console(data["protocol"])

    async def virtual_interfaces(request: Request) -> Response:
        api.since(request, 1, 43)
        # A nova-network API: with the network service (Neutron) Nova refuses it, then removed it (2.44).
        raise errors.BadRequest("Listing virtual interfaces is not supported by this cloud.")

    async def diagnostics(request: Request) -> Response:
        inst = loaded(request)
        on_host(inst, "get_diagnostics")
        try:
            d = await api.p.agents.call(inst.host, "get_diagnostics", instance_id=inst.id)
        except Exception as exc:
            raise _agent_error(exc, inst, "get_diagnostics") from None
        if microversion(request) >= v(48):
            return JSON({
                "state": _POWER_NAMES.get(d["state"], "pending"), "driver": d["driver"],
                "hypervisor": d["hypervisor"], "hypervisor_os": d["hypervisor_os"], "uptime": d["uptime"],
                "config_drive": d["config_drive"], "num_cpus": len(d["cpu_time_ns"]), "num_nics": len(d["nics"]),
                "num_disks": len(d["disks"]),
                "cpu_details": [{"id": i, "time": t, "utilisation": None} for i, t in enumerate(d["cpu_time_ns"])],
                "nic_details": d["nics"], "disk_details": d["disks"],
                "memory_details": {"maximum": d["memory_max_mb"], "used": d["memory_used_mb"]}})
        # 2.1: the driver's own flat keys, as Nova's libvirt driver names them
        out: dict[str, Any] = {f"cpu{i}_time": t for i, t in enumerate(d["cpu_time_ns"])}
        out.update({"memory": d["memory_max_mb"] * 1024, "memory-actual": d["memory_used_mb"] * 1024})
        for n, disk in enumerate(d["disks"]):
            name = "vd" + chr(ord("a") + n)
            out.update({f"{name}_read": disk["read_bytes"], f"{name}_read_req": disk["read_requests"],
                        f"{name}_write": disk["write_bytes"], f"{name}_write_req": disk["write_requests"],
                        f"{name}_errors": disk["errors_count"]})
        for nic, port in zip(d["nics"], inst.ports or [], strict=False):
            tap = ("tap" + port["id"])[:14]
            out.update({f"{tap}_rx": nic["rx_octets"], f"{tap}_rx_packets": nic["rx_packets"],
                        f"{tap}_tx": nic["tx_octets"], f"{tap}_tx_packets": nic["tx_packets"]})
        return JSON(out)

    # --- server password -----------------------------------------------------------------

    async def password_show(request: Request) -> Response:
        # What the guest posted to the metadata service (encrypted with the key pair's public key).
        return JSON({"password": (loaded(request).request or {}).get("password", "")})

    async def password_clear(request: Request) -> Response:
        inst = loaded(request)
        await api.run(lambda: api.p.instances.save(inst.id, request={**(inst.request or {}), "password": ""}))
        return no_content()

    # --- interfaces ------------------------------------------------------------------------

    async def port_view(port_id: str) -> dict[str, Any]:
        r = await api.p.network.client.request("GET", "network", f"/v2.0/ports/{port_id}")
        if r.status_code != 200:
            raise errors.NotFound(f"Port {port_id} could not be found.")
        p = r.json()["port"]
        return {"port_id": p["id"], "net_id": p["network_id"], "mac_addr": p["mac_address"],
                "port_state": p.get("status", "DOWN"),
                "fixed_ips": [{"subnet_id": ip["subnet_id"], "ip_address": ip["ip_address"]}
                              for ip in p.get("fixed_ips", [])]}

    async def interfaces(request: Request) -> Response:
        inst = loaded(request)
        return JSON({"interfaceAttachments": [await port_view(p["id"]) for p in inst.ports or []]})

    async def interface_show(request: Request) -> Response:
        inst, port_id = loaded(request), api.param(request, "port_id")
        if port_id not in [p["id"] for p in inst.ports or []]:
            raise errors.NotFound(f"Instance {inst.id} has no interface with port {port_id}.")
        return JSON({"interfaceAttachment": await port_view(port_id)})

    async def attach(request: Request) -> Response:
        inst, c = loaded(request), context_of(request)
        data = (body(request) or {}).get("interfaceAttachment") or {}
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        if inst.vm_state not in (states.ACTIVE, states.PAUSED, states.STOPPED) or inst.task_state is not None:
            raise conflict(inst, "attach_interface")
        if data.get("port_id") and (data.get("net_id") or data.get("fixed_ips")):
            raise errors.BadRequest("Must not input both network_id and port_id")
        if data.get("fixed_ips") and not data.get("net_id"):
            raise errors.BadRequest("Must input network_id when request IP address")
        fixed = data["fixed_ips"][0]["ip_address"] if data.get("fixed_ips") else None
        asked: list[dict[str, Any]] | None = None
        if data.get("port_id"):
            asked = [{"port": data["port_id"]}]
        elif data.get("net_id"):
            asked = [{"uuid": data["net_id"], **({"fixed_ip": fixed} if fixed else {})}]
        nets, _ = await api.p.network.resolve(c.auth_token or "", asked, [])
        if not nets:
            raise errors.BadRequest("No network is available to attach an interface to.")
        net = nets[0]
        await record(api, request, inst, "attach_interface")
        try:
            entry = await api.p.agents.call(inst.host, "attach_interface", timeout=60, instance_id=inst.id,
                                            network_id=net["network_id"], port_id=net.get("port_id"),
                                            fixed_ip=net.get("fixed_ip"))
        except Exception as exc:
            kind = exc.exc_type if isinstance(exc, RemoteError) else type(exc).__name__
            if isinstance(exc, errors.BadRequest) or kind == "NetworkError":
                raise errors.BadRequest(str(exc)) from None
            raise errors.Conflict(f"Failed to attach network adapter device to {inst.id}: {exc}") from None
        return JSON({"interfaceAttachment": await port_view(entry["id"])})

    async def detach(request: Request) -> Response:
        inst, port_id = loaded(request), api.param(request, "port_id")
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        if inst.vm_state not in (states.ACTIVE, states.PAUSED, states.STOPPED) or inst.task_state is not None:
            raise conflict(inst, "detach_interface")
        if port_id not in [p["id"] for p in inst.ports or []]:
            raise errors.NotFound(f"Port {port_id} is not attached")
        await record(api, request, inst, "detach_interface")
        await cast(api, request, inst, "detach_interface", port_id=port_id)
        return Response(status_code=202)

    ai, pw = "os_compute_api:os-attach-interfaces", "os_compute_api:os-server-password"
    base = "/v2.1/servers/{server_id}"
    return [
        Op("POST", f"{base}/remote-consoles", remote_console, body=_CONSOLE, rule="os_compute_api:os-remote-consoles",
           target=load, tag="servers", errors=(400, 401, 403, 404, 409, 501)),
        Op("GET", f"{base}/os-virtual-interfaces", virtual_interfaces, rule="os_compute_api:os-virtual-interfaces",
           target=load, tag="servers", errors=(400, 401, 403, 404)),
        Op("GET", f"{base}/diagnostics", diagnostics, rule="os_compute_api:os-server-diagnostics", target=load,
           tag="servers", errors=(401, 403, 404, 409, 501)),
        Op("GET", f"{base}/os-server-password", password_show, rule=f"{pw}:show", target=load, tag="servers"),
        Op("DELETE", f"{base}/os-server-password", password_clear, rule=f"{pw}:clear", target=load, tag="servers",
           status=204),
        Op("GET", f"{base}/os-interface", interfaces, rule=f"{ai}:list", target=load, tag="servers"),
        Op("POST", f"{base}/os-interface", attach, body=_ATTACH, rule=f"{ai}:create", target=load, tag="servers",
           errors=(400, 401, 403, 404, 409)),
        Op("GET", f"{base}/os-interface/{{port_id}}", interface_show, rule=f"{ai}:show", target=load,
           tag="servers"),
        Op("DELETE", f"{base}/os-interface/{{port_id}}", detach, rule=f"{ai}:delete", target=load, tag="servers",
           status=202, errors=(401, 403, 404, 409)),
    ]
