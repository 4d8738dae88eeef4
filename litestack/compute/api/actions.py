"""Server actions (``POST /servers/{id}/action``): one route, many actions.

Every action is an :class:`Action` in a table: its policy rule, the schema of its argument and its
handler. This module holds the table's frame and the power, lock, console, reset-state, rebuild
and security-group actions; other modules add theirs (``ACTION_MODULES`` in
``litestack/compute/api/__init__.py``), so a new action never edits this file. Each action checks
Nova's allowed states (409 ``conflictingRequest`` otherwise) and its own policy rule, sets the task
state and casts the work to the host's compute agent."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.microversion import Version
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import Target, body, loaded
from litestack.compute import states
from litestack.compute.api.base import ComputeAPI, microversion
from litestack.compute.api.servers import check_user_data, normal_ip
from litestack.compute.manager.instances import UnexpectedTaskState

#: handler(request, instance, the action's argument) → response
Handler = Callable[[Request, Any, dict[str, Any]], Awaitable[Response]]


@dataclass(frozen=True)
class Action:
    """One server action: the policy rule it checks, the JSON schema of its argument (the value
    under the action's name), its handler, and the microversion range it exists in."""

    rule: str
    schema: dict[str, Any]
    handler: Handler
    min_version: Version | None = None
    max_version: Version | None = None


#: A module's contribution: ``actions(api)`` → {action name: Action}.
ActionModule = Callable[[ComputeAPI], dict[str, Action]]

MAIN_RULE = "os_compute_api:servers:stop"
_NULLABLE = {"type": ["object", "null"]}


def conflict(inst: Any, action: str) -> errors.Conflict:
    """Nova's 409 for an action the server's state does not allow."""
    return errors.Conflict(f"Cannot '{action}' instance {inst.id} while it is in "
                           f"{'task_state ' + inst.task_state if inst.task_state else 'vm_state ' + inst.vm_state}")


async def start_task(api: ComputeAPI, request: Request, inst: Any, action: str, allowed: Iterable[str],
                     task: str, need_host: bool = True) -> Any:
    """Sets ``task`` on a server in one of the ``allowed`` vm_states with no task, atomically
    (a concurrent action loses with 409); a locked server refuses non-admins."""
    allowed = tuple(allowed)
    if inst.locked and not api.is_admin(request):
        raise errors.Conflict(f"Instance {inst.id} is locked")
    if inst.vm_state not in allowed or inst.task_state is not None or (need_host and not inst.host):
        raise conflict(inst, action)
    try:
        return await api.run(lambda: api.p.instances.save(inst.id, expected_task_state=[None],
                                                          expected_vm_state=list(allowed), task_state=task))
    except (UnexpectedTaskState, errors.Conflict):
        raise conflict(inst, action) from None


async def record(api: ComputeAPI, request: Request, inst: Any, action: str) -> None:
    """An instance action row (``os-instance-actions``) for ``action`` by the caller."""
    c = context_of(request)
    await api.run(api.p.instances.record_action, inst.id, action, c.request_id, c.user_id, c.project_id)


async def cast(api: ComputeAPI, request: Request, inst: Any, method: str, **kwargs: Any) -> None:
    """Casts ``method`` to the compute agent of the server's host."""
    await api.p.agents.cast(inst.host, method, instance_id=inst.id, request_id=context_of(request).request_id,
                            **kwargs)


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
#: Names that Nova records in instance actions under another name.
RECORDED = {"os-stop": "stop", "os-start": "start", "os-getConsoleOutput": "get_console_output",
            "os-resetState": "reset_state"}

_REBUILD = {"type": "object", "required": ["imageRef"], "additionalProperties": False, "properties": {
    "imageRef": {"type": "string", "minLength": 1, "maxLength": 255},
    "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s)[\s\S]*(?<!\s)$"},
    "adminPass": {"type": "string"},
    "metadata": {"type": "object", "maxProperties": 128,
                 "additionalProperties": {"type": "string", "maxLength": 255},
                 "propertyNames": {"minLength": 1, "maxLength": 255}},
    "accessIPv4": {"type": "string", "format": "ipv4"}, "accessIPv6": {"type": "string", "format": "ipv6"},
    "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]}, "preserve_ephemeral": {"type": "boolean"},
    # 2.19, 2.54 and 2.57 (checked against the request's microversion by the handler)
    "description": {"type": ["string", "null"], "maxLength": 255},
    "key_name": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
    "user_data": {"type": ["string", "null"], "maxLength": 65535}}}
#: Rebuild fields and the microversion that brought each.
_REBUILD_SINCE = {"description": Version(2, 19), "key_name": Version(2, 54), "user_data": Version(2, 57)}
_GROUP = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 255}}}


def basic_actions(api: ComputeAPI) -> dict[str, Action]:
    """Power, reboot, rebuild, lock, console output, reset state and security groups."""

    def power(name: str) -> Handler:
        _rule, allowed, task, method = POWER[name]

        async def handler(request: Request, inst: Any, args: dict[str, Any]) -> Response:
            await start_task(api, request, inst, RECORDED.get(name, name), allowed, task)
            await record(api, request, inst, RECORDED.get(name, name))
            await cast(api, request, inst, method)
            return Response(status_code=202)
        return handler

    async def reboot(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        hard = args["type"].upper() == "HARD"
        allowed = ((states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.ERROR) if hard
                   else (states.ACTIVE,))
        await start_task(api, request, inst, "reboot", allowed, states.REBOOTING_HARD if hard else states.REBOOTING)
        await record(api, request, inst, "reboot")
        await cast(api, request, inst, "reboot_instance", hard=hard)
        return Response(status_code=202)

    async def rebuild(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        """Nova's rebuild: a new root disk from (possibly another) image, same ports and addresses."""
        c = context_of(request)
        for key, since in _REBUILD_SINCE.items():
            if key in args and microversion(request) < since:
                raise errors.BadRequest(f"Invalid input for field/attribute rebuild. Additional properties are not "
                                        f"allowed ('{key}' was unexpected)")
        image_id = args["imageRef"].rstrip("/").rsplit("/", 1)[-1]
        image = await api.p.image(image_id, c.auth_token or "")
        if image.get("min_ram", 0) > int(inst.flavor["ram"]):
            raise errors.BadRequest("Flavor's memory is too small for requested image.")
        if inst.flavor["disk"] and image.get("min_disk", 0) > int(inst.flavor["disk"]):
            raise errors.BadRequest("Flavor's disk is too small for requested image.")
        await start_task(api, request, inst, "rebuild", (states.ACTIVE, states.STOPPED, states.ERROR),
                         states.REBUILDING)
        request_data = {**(inst.request or {}), "image_properties": {k: v for k, v in image.items()
                                                                      if isinstance(v, str)}}
        if "OS-DCF:diskConfig" in args:
            request_data["disk_config"] = args["OS-DCF:diskConfig"]
        fields: dict[str, Any] = {"image_id": image_id, "request": request_data}
        for key, column in (("name", "name"), ("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6")):
            if key in args:
                fields[column] = normal_ip(args[key]) if key.startswith("access") else args[key]
        if "description" in args:
            fields["description"] = args["description"]
        if "user_data" in args:
            fields["user_data"] = check_user_data(args["user_data"])
        if "key_name" in args:  # null removes the key (2.54)
            kp = None
            if args["key_name"] is not None:
                try:
                    kp = await api.run(api.p.keypairs.get, inst.user_id, args["key_name"])
                except errors.NotFound:
                    raise errors.BadRequest("Invalid key_name provided.") from None
            fields["key_name"], fields["key_data"] = (kp.name, kp.public_key) if kp else (None, None)
        updated = await api.run(lambda: api.p.instances.save(inst.id, **fields))
        if "metadata" in args:
            await api.run(api.p.instances.set_metadata, inst.id, args["metadata"], True)
            updated = await api.run(api.p.instances.get, inst.id)
        await record(api, request, inst, "rebuild")
        await cast(api, request, inst, "rebuild_instance")
        view = api.server_view(request, updated, api.is_admin(request), extended=False)
        view["adminPass"] = args.get("adminPass") or secrets.token_urlsafe(12)
        return JSON({"server": view}, status_code=202)

    def security_group(add: bool) -> Handler:
        name = "addSecurityGroup" if add else "removeSecurityGroup"

        async def handler(request: Request, inst: Any, args: dict[str, Any]) -> Response:
            c = context_of(request)
            await api.p.network.change_groups(c.auth_token or "", inst, args["name"], add)
            names = [g for g in (inst.request or {}).get("security_groups", []) if g != args["name"]]
            names += [args["name"]] if add else []
            await api.run(lambda: api.p.instances.save(inst.id, request={**(inst.request or {}),
                                                                         "security_groups": names}))
            await record(api, request, inst, name)
            return Response(status_code=202)
        return handler

    async def lock(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        await api.run(lambda: api.p.instances.save(inst.id, locked=True, locked_by="admin" if api.is_admin(request)
                                                   else "owner", locked_reason=args.get("locked_reason")))
        await record(api, request, inst, "lock")
        return Response(status_code=202)

    async def unlock(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        if inst.locked and inst.locked_by == "admin" and not api.is_admin(request):
            raise errors.Forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override "
                                   "to be performed.")
        await api.run(lambda: api.p.instances.save(inst.id, locked=False, locked_by=None, locked_reason=None))
        await record(api, request, inst, "unlock")
        return Response(status_code=202)

    async def console_output(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        length = args.get("length")
        length = None if length in (None, -1, "-1") else int(length)
        if not inst.host or inst.vm_state == states.BUILDING:
            raise errors.Conflict(f"Instance {inst.id} is not ready")
        try:
            text = await api.p.agents.call(inst.host, "get_console_output", instance_id=inst.id, length=length)
        except errors.LitestackError:
            raise errors.Conflict(f"Instance {inst.id} is not ready") from None
        return JSON({"output": text})

    async def reset_state(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        # Nova sets the vm_state and clears the task state.
        await api.run(lambda: api.p.instances.save(inst.id, vm_state=args["state"], task_state=None))
        await record(api, request, inst, "reset_state")
        return Response(status_code=202)

    table = {name: Action(rule, _NULLABLE, power(name)) for name, (rule, *_rest) in POWER.items()}
    table.update({
        "reboot": Action("os_compute_api:servers:reboot", {"type": "object", "required": ["type"], "properties": {
            "type": {"enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}}}, reboot),
        "rebuild": Action("os_compute_api:servers:rebuild", _REBUILD, rebuild),
        "lock": Action("os_compute_api:os-lock-server:lock", {"type": ["object", "null"], "properties": {
            "locked_reason": {"type": "string", "maxLength": 255}}}, lock),
        "unlock": Action("os_compute_api:os-lock-server:unlock", _NULLABLE, unlock),
        "os-getConsoleOutput": Action("os_compute_api:os-console-output", {"type": "object", "properties": {
            "length": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$", "minimum": -1}}},
            console_output),
        "os-resetState": Action("os_compute_api:os-admin-actions:reset_state", {
            "type": "object", "required": ["state"], "properties": {"state": {"enum": ["active", "error"]}}},
            reset_state),
        "addSecurityGroup": Action("os_compute_api:os-security-groups:add", _GROUP, security_group(True)),
        "removeSecurityGroup": Action("os_compute_api:os-security-groups:remove", _GROUP, security_group(False)),
    })
    return table


def ops(api: ComputeAPI, modules: Iterable[ActionModule] = ()) -> list[Op]:
    """The one ``POST /servers/{id}/action`` route over every module's actions."""
    table = basic_actions(api)
    for module in modules:
        for name, action in module(api).items():
            if name in table:
                raise ValueError(f"server action {name!r} is defined twice")
            table[name] = action
    schema = {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
              "properties": {name: a.schema for name, a in table.items()}}
    server = api.server_loader()

    async def target(request: Request) -> Target:
        tgt = await server(request)
        rule = table[next(iter(body(request)))].rule
        return replace(tgt, rule=None if rule == MAIN_RULE else rule)

    async def handler(request: Request) -> Response:
        data = body(request)
        name = next(iter(data))
        action = table[name]
        version = microversion(request)
        if (action.min_version and version < action.min_version) or (action.max_version
                                                                     and version > action.max_version):
            raise errors.BadRequest(f"There is no such action: {name}")
        return await action.handler(request, loaded(request), data[name] or {})

    return [Op("POST", "/v2.1/servers/{server_id}/action", handler, body=schema, rule=MAIN_RULE,
               alt_rules=tuple(sorted({a.rule for a in table.values()} - {MAIN_RULE})), target=target,
               tag="servers", status=202, errors=(400, 401, 403, 404, 409))]
