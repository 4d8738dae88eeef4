"""Server actions (``POST /servers/{id}/action``): power, lock, console output, reset state.

Each action checks Nova's allowed states (409 ``conflictingRequest`` otherwise) and its own
policy rule, sets the task state and casts the work to the host's compute agent."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import Target, body, loaded
from litestack.compute import states
from litestack.compute.api.base import ComputeAPI
from litestack.compute.api.servers import normal_ip
from litestack.compute.manager.instances import UnexpectedTaskState

#: action → (policy rule, allowed vm_states, task state set, agent method)
POWER: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "os-stop": ("os_compute_api:servers:stop", (states.ACTIVE, states.ERROR), states.POWERING_OFF, "stop_instance"),
    "os-start": ("os_compute_api:servers:start", (states.STOPPED,), states.POWERING_ON, "start_instance"),
    "pause": ("os_compute_api:os-pause-server:pause", (states.ACTIVE,), states.PAUSING, "pause_instance"),
    "unpause": ("os_compute_api:os-pause-server:unpause", (states.PAUSED,), states.UNPAUSING, "unpause_instance"),
    "suspend": ("os_compute_api:os-suspend-server:suspend", (states.ACTIVE,), states.SUSPENDING,
                "suspend_instance"),
    "resume": ("os_compute_api:os-suspend-server:resume", (states.SUSPENDED,), states.RESUMING, "resume_instance"),
}
OTHER = {"reboot": "os_compute_api:servers:reboot", "lock": "os_compute_api:os-lock-server:lock",
         "unlock": "os_compute_api:os-lock-server:unlock", "os-getConsoleOutput": "os_compute_api:os-console-output",
         "os-resetState": "os_compute_api:os-admin-actions:reset_state", "rebuild": "os_compute_api:servers:rebuild",
         "addSecurityGroup": "os_compute_api:os-security-groups:add",
         "removeSecurityGroup": "os_compute_api:os-security-groups:remove"}
RULES = {**{k: v[0] for k, v in POWER.items()}, **OTHER}
MAIN_RULE = "os_compute_api:servers:stop"
ACTION_NAMES = {"os-stop": "stop", "os-start": "start", "os-getConsoleOutput": "get_console_output",
                "os-resetState": "reset_state"}

_ACTION = {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False, "properties": {
    **{k: {"type": ["object", "null"]} for k in POWER},
    "reboot": {"type": "object", "required": ["type"], "properties": {
        "type": {"enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}}},
    "lock": {"type": ["object", "null"], "properties": {"locked_reason": {"type": "string", "maxLength": 255}}},
    "unlock": {"type": ["object", "null"]},
    "os-getConsoleOutput": {"type": "object", "properties": {
        "length": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$", "minimum": -1}}},
    "os-resetState": {"type": "object", "required": ["state"], "properties": {"state": {"enum": ["active", "error"]}}},
    "addSecurityGroup": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255}}},
    "removeSecurityGroup": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255}}},
    "rebuild": {"type": "object", "required": ["imageRef"], "additionalProperties": False, "properties": {
        "imageRef": {"type": "string", "minLength": 1, "maxLength": 255},
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s)[\s\S]*(?<!\s)$"},
        "adminPass": {"type": "string"},
        "metadata": {"type": "object", "maxProperties": 128,
                     "additionalProperties": {"type": "string", "maxLength": 255},
                     "propertyNames": {"minLength": 1, "maxLength": 255}},
        "accessIPv4": {"type": "string", "format": "ipv4"}, "accessIPv6": {"type": "string", "format": "ipv6"},
        "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]}, "preserve_ephemeral": {"type": "boolean"}}},
}}


def ops(api: ComputeAPI) -> list[Op]:
    server = api.server_loader()

    async def target(request: Request) -> Target:
        tgt = await server(request)
        rule = RULES[next(iter(body(request)))]
        return replace(tgt, rule=None if rule == MAIN_RULE else rule)

    def conflict(inst: Any, action: str) -> errors.Conflict:
        return errors.Conflict(f"Cannot '{action}' instance {inst.id} while it is in "
                               f"{'task_state ' + inst.task_state if inst.task_state else 'vm_state ' + inst.vm_state}")

    async def start_task(request: Request, inst: Any, action: str, allowed: tuple[str, ...], task: str) -> Any:
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        if inst.vm_state not in allowed or inst.task_state is not None or not inst.host:
            raise conflict(inst, action)
        try:
            return await api.run(lambda: api.p.instances.save(inst.id, expected_task_state=[None],
                                                              expected_vm_state=list(allowed), task_state=task))
        except (UnexpectedTaskState, errors.Conflict):
            raise conflict(inst, action) from None

    async def rebuild(request: Request, inst: Any, args: dict[str, Any], c: Any) -> Response:
        """Nova's rebuild: a new root disk from (possibly another) image, same ports and addresses."""
        image_id = args["imageRef"].rstrip("/").rsplit("/", 1)[-1]
        image = await api.p.image(image_id, c.auth_token or "")
        if image.get("min_ram", 0) > int(inst.flavor["ram"]):
            raise errors.BadRequest("Flavor's memory is too small for requested image.")
        if inst.flavor["disk"] and image.get("min_disk", 0) > int(inst.flavor["disk"]):
            raise errors.BadRequest("Flavor's disk is too small for requested image.")
        await start_task(request, inst, "rebuild", (states.ACTIVE, states.STOPPED, states.ERROR), states.REBUILDING)
        request_data = {**(inst.request or {}), "image_properties": {k: v for k, v in image.items()
                                                                      if isinstance(v, str)}}
        if "OS-DCF:diskConfig" in args:
            request_data["disk_config"] = args["OS-DCF:diskConfig"]
        fields: dict[str, Any] = {"image_id": image_id, "request": request_data}
        for key, column in (("name", "name"), ("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6")):
            if key in args:
                fields[column] = normal_ip(args[key]) if key.startswith("access") else args[key]
        updated = await api.run(lambda: api.p.instances.save(inst.id, **fields))
        if "metadata" in args:
            await api.run(api.p.instances.set_metadata, inst.id, args["metadata"], True)
            updated = await api.run(api.p.instances.get, inst.id)
        await api.run(api.p.instances.record_action, inst.id, "rebuild", c.request_id, c.user_id, c.project_id)
        await api.p.agents.cast(inst.host, "rebuild_instance", instance_id=inst.id, request_id=c.request_id)
        view = api.server_view(request, updated, api.is_admin(request), extended=False)
        view["adminPass"] = args.get("adminPass") or secrets.token_urlsafe(12)
        return JSON({"server": view}, status_code=202)

    async def handler(request: Request) -> Response:
        data = body(request)
        name = next(iter(data))
        args = data[name] or {}
        inst = loaded(request)
        c = context_of(request)
        record = ACTION_NAMES.get(name, name)
        if name in POWER:
            _rule, allowed, task, method = POWER[name]
            await start_task(request, inst, record, allowed, task)
            await api.run(api.p.instances.record_action, inst.id, record, c.request_id, c.user_id, c.project_id)
            await api.p.agents.cast(inst.host, method, instance_id=inst.id, request_id=c.request_id)
            return Response(status_code=202)
        if name == "reboot":
            hard = args["type"].upper() == "HARD"
            allowed = ((states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.ERROR) if hard
                       else (states.ACTIVE,))
            await start_task(request, inst, "reboot", allowed, states.REBOOTING_HARD if hard else states.REBOOTING)
            await api.run(api.p.instances.record_action, inst.id, "reboot", c.request_id, c.user_id, c.project_id)
            await api.p.agents.cast(inst.host, "reboot_instance", instance_id=inst.id, hard=hard,
                                    request_id=c.request_id)
            return Response(status_code=202)
        if name == "rebuild":
            return await rebuild(request, inst, args, c)
        if name in ("addSecurityGroup", "removeSecurityGroup"):
            await api.p.network.change_groups(c.auth_token or "", inst, args["name"], name == "addSecurityGroup")
            names = [g for g in (inst.request or {}).get("security_groups", []) if g != args["name"]]
            names += [args["name"]] if name == "addSecurityGroup" else []
            await api.run(lambda: api.p.instances.save(inst.id, request={**(inst.request or {}),
                                                                         "security_groups": names}))
            await api.run(api.p.instances.record_action, inst.id, name, c.request_id, c.user_id, c.project_id)
            return Response(status_code=202)
        if name == "lock":
            await api.run(lambda: api.p.instances.save(inst.id, locked=True, locked_by="admin" if api.is_admin(request)
                                                       else "owner", locked_reason=args.get("locked_reason")))
            await api.run(api.p.instances.record_action, inst.id, "lock", c.request_id, c.user_id, c.project_id)
            return Response(status_code=202)
        if name == "unlock":
            if inst.locked and inst.locked_by == "admin" and not api.is_admin(request):
                raise errors.Forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override "
                                       "to be performed.")
            await api.run(lambda: api.p.instances.save(inst.id, locked=False, locked_by=None, locked_reason=None))
            await api.run(api.p.instances.record_action, inst.id, "unlock", c.request_id, c.user_id, c.project_id)
            return Response(status_code=202)
        if name == "os-getConsoleOutput":
            length = args.get("length")
            length = None if length in (None, -1, "-1") else int(length)
            if not inst.host or inst.vm_state == states.BUILDING:
                raise errors.Conflict(f"Instance {inst.id} is not ready")
            try:
                text = await api.p.agents.call(inst.host, "get_console_output", instance_id=inst.id, length=length)
            except errors.LitestackError:
                raise errors.Conflict(f"Instance {inst.id} is not ready") from None
            return JSON({"output": text})
        # os-resetState (admin): Nova sets the vm_state and clears the task state.
        await api.run(lambda: api.p.instances.save(inst.id, vm_state=args["state"], task_state=None))
        await api.run(api.p.instances.record_action, inst.id, "reset_state", c.request_id, c.user_id, c.project_id)
        return Response(status_code=202)

    return [Op("POST", "/v2.1/servers/{server_id}/action", handler, body=_ACTION, rule=MAIN_RULE,
               alt_rules=tuple(sorted(set(RULES.values()) - {MAIN_RULE})), target=target,
               tag="servers", status=202, errors=(400, 401, 403, 404, 409))]
