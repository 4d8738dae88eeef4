"""What operators do to the volume services: ``PUT /os-services/{action}`` (enable, disable,
disable-log-reason, freeze, thaw, failover, set-log and get-log from 3.32), ``/clusters`` (3.7;
replication fields 3.26) and ``POST /workers/cleanup`` (3.24)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors, log
from litestack.common.api.app import JSON, Op, validate
from litestack.common.api.policy import Target, body
from litestack.common.rpc import RPCError
from litestack.volume.api.base import V, VolumeAPI, isotime, require
from litestack.volume.manager.services import BINARIES, SCHEDULER_BINARY, VOLUME_BINARY, ClusterInfo

P = "/v3/{project_id}"
#: The rule each os-services action checks (Cinder's names).
ACTION_RULES = {"enable": "volume_extension:services:update", "disable": "volume_extension:services:update",
                "disable-log-reason": "volume_extension:services:update",
                "set-log": "volume_extension:services:update", "get-log": "volume_extension:services:index",
                "freeze": "volume:freeze_host", "thaw": "volume:thaw_host", "failover_host": "volume:failover_host",
                "failover": "volume:failover_host"}
HOST_BODY: dict[str, Any] = {"type": "object", "properties": {
    "host": {"type": ["string", "null"], "maxLength": 255}, "binary": {"type": ["string", "null"], "maxLength": 255},
    "service": {"type": ["string", "null"], "maxLength": 255},
    "disabled_reason": {"type": ["string", "null"]}, "cluster": {"type": ["string", "null"], "maxLength": 255},
    "backend_id": {"type": ["string", "null"], "maxLength": 255}, "server": {"type": ["string", "null"]},
    "prefix": {"type": ["string", "null"], "maxLength": 255}, "level": {"type": ["string", "null"]}}}
CLEANUP: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {
    "cluster_name": {"type": ["string", "null"], "maxLength": 255}, "host": {"type": ["string", "null"],
                                                                             "maxLength": 255},
    "binary": {"type": ["string", "null"], "maxLength": 255}, "is_up": {"type": ["boolean", "null"]},
    "disabled": {"type": ["boolean", "null"]}, "service_id": {"type": ["integer", "null"]},
    "resource_id": {"type": ["string", "null"], "maxLength": 36},
    "resource_type": {"enum": ["Volume", "Snapshot", None]}}}
CLUSTER_BODY: dict[str, Any] = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 255},
    "binary": {"type": ["string", "null"], "maxLength": 255},
    "disabled_reason": {"type": ["string", "null"], "maxLength": 255}}}


def logger_prefix(prefix: str | None) -> str:
    """Cinder's logger names (``cinder...``, ``cinder.volume...``) are this service's ``litestack.volume...``;
    other prefixes are taken as they are, none means every litestack logger."""
    if not prefix:
        return "litestack"
    if prefix == "cinder" or prefix.startswith("cinder."):
        rest = prefix[len("cinder"):]
        if rest == ".volume" or rest.startswith(".volume."):
            rest = rest[len(".volume"):]
        return "litestack.volume" + rest
    return prefix


def ops(api: VolumeAPI) -> list[Op]:
    services = api.services_admin

    async def action_target(request: Request) -> Target:
        action = api.param(request, "action")
        rule = ACTION_RULES.get(action)
        if rule is None:
            raise errors.BadRequest(f"Invalid input received: Unknown action {action[:64]}")
        return Target(rule=rule)

    async def update(request: Request) -> Response:
        action = api.param(request, "action")
        req = body(request) or {}
        validate(HOST_BODY, req)
        if action in ("set-log", "get-log"):
            require(api, request, V(3, 32))
            return await (set_log if action == "set-log" else get_log)(req)
        if action == "failover":
            require(api, request, V(3, 26))
        host = req.get("host") or req.get("cluster")
        if action in ("freeze", "thaw"):
            if not host:
                raise errors.BadRequest("Invalid input received: host is required.")
            await api.run(services().set_frozen, host, action == "freeze")
            return Response(status_code=200)
        if action in ("failover_host", "failover"):
            if not host:
                raise errors.BadRequest("Invalid input received: host is required.")
            rows = await api.run(lambda: [r for r in api.volumes.services()
                                          if r.host == host or r.host.startswith(f"{host}@")
                                          or r.cluster_name == host])
            if not rows:
                raise errors.NotFound(f"Service {host[:64]} could not be found.")
            raise errors.BadRequest("Invalid input received: Host replication_status must be enabled or failed-over "
                                    "to failover (no backend of this cloud replicates).")
        binary = req.get("binary") or req.get("service")
        if not host or not binary:
            raise errors.BadRequest("Invalid input received: host and binary are required.")
        reason = None
        if action == "disable-log-reason":
            reason = req.get("disabled_reason")
            if not isinstance(reason, str) or not reason.strip() or len(reason) > 255:
                raise errors.BadRequest("Invalid input received: Disabled reason contains invalid characters or "
                                        "is too long")
        disabled = action != "enable"
        await api.run(services().set_disabled, host, binary, disabled, reason)
        out: dict[str, Any] = {"host": host, "service": req.get("service") or "", "binary": binary,
                               "status": "disabled" if disabled else "enabled", "disabled": disabled}
        if action != "disable":
            out["disabled_reason"] = reason
        return JSON(out)

    async def set_log(req: dict[str, Any]) -> Response:
        level = str(req.get("level") or "").upper()
        if level not in log.RUNTIME_LEVELS:
            raise errors.BadRequest(f"Invalid input received: level must be one of {', '.join(log.RUNTIME_LEVELS)}.")
        binary, server = _binary(req), req.get("server")
        prefix = logger_prefix(req.get("prefix"))
        here = api.flow.settings.scheduler_host
        if binary in ("*", "cinder-api", SCHEDULER_BINARY) and (not server or server == here):
            log.set_levels(prefix, level)
            await _tolerant(api.flow.managers.set_log_levels(prefix, level))
        if binary in ("*", VOLUME_BINARY):
            for row in await api.run(api.volumes.services):
                if not server or row.host == server or row.host.startswith(f"{server}@"):
                    await _tolerant(api.flow.agents.set_log_levels(row.host, prefix, level))
        return Response(status_code=202)

    async def get_log(req: dict[str, Any]) -> Response:
        binary, server = _binary(req), req.get("server")
        prefix = logger_prefix(req.get("prefix"))
        out: list[dict[str, Any]] = []
        here = api.flow.settings.scheduler_host
        if not server or server == here:
            for b in ("cinder-api", SCHEDULER_BINARY):
                if binary in ("*", b):
                    out.append({"binary": b, "host": here, "levels": log.levels(prefix)})
        if binary in ("*", VOLUME_BINARY):
            for row in await api.run(api.volumes.services):
                if server and not (row.host == server or row.host.startswith(f"{server}@")):
                    continue
                try:
                    levels = await api.flow.agents.get_log_levels(row.host, prefix)
                except RPCError:
                    continue  # a service that is down has no levels to tell, as in Cinder
                out.append({"binary": VOLUME_BINARY, "host": row.host, "levels": levels})
        return JSON({"log_levels": out})

    # --- clusters ------------------------------------------------------------------------------

    def cluster_view(request: Request, c: ClusterInfo, detail: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"name": c.name, "binary": c.binary, "state": c.state,
                               "status": "disabled" if c.disabled else "enabled"}
        if detail:
            out.update(num_hosts=c.num_hosts, num_down_hosts=c.num_down_hosts,
                       last_heartbeat=isotime(c.last_heartbeat), disabled_reason=c.disabled_reason,
                       created_at=isotime(c.created_at), updated_at=isotime(c.updated_at))
            if api.version(request) >= V(3, 26):
                out.update(replication_status="disabled", frozen=c.frozen, active_backend_id=None)
        return out

    def cluster_lister(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            require(api, request, V(3, 7))
            q = request.query_params
            rows = await api.run(services().clusters)
            for key in ("name", "binary"):
                if key in q:
                    rows = [c for c in rows if getattr(c, key) == q[key]]
            for key in ("is_up", "disabled", "frozen"):
                if key in q:
                    want = q[key].lower() in ("1", "true", "yes", "on")
                    rows = [c for c in rows if (c.state == "up" if key == "is_up" else getattr(c, key)) == want]
            for key in ("num_hosts", "num_down_hosts"):
                if key in q:
                    try:
                        n = int(q[key])
                    except ValueError:
                        raise errors.BadRequest(f"Invalid input received: {key} must be an integer.") from None
                    rows = [c for c in rows if getattr(c, key) == n]
            return JSON({"clusters": [cluster_view(request, c, detail) for c in rows]})
        return handler

    async def cluster_show(request: Request) -> Response:
        require(api, request, V(3, 7))
        c = await api.run(services().cluster, api.param(request, "name"),
                          request.query_params.get("binary", VOLUME_BINARY))
        return JSON({"cluster": cluster_view(request, c, True)})

    async def cluster_update(request: Request) -> Response:
        require(api, request, V(3, 7))
        action = api.param(request, "name")  # one path template with show: PUT /clusters/enable|disable
        if action not in ("enable", "disable"):
            raise errors.NotFound(f"There is no cluster action {action[:64]}.")
        req = body(request)
        c = await api.run(services().set_cluster_disabled, req["name"], req.get("binary") or VOLUME_BINARY,
                          action == "disable", req.get("disabled_reason"))
        return JSON({"cluster": {**cluster_view(request, c, False), "disabled_reason": c.disabled_reason}})

    # --- workers -------------------------------------------------------------------------------

    async def cleanup(request: Request) -> Response:
        require(api, request, V(3, 24))
        req = {k: v for k, v in (body(request) or {}).items() if v is not None}
        if "service_id" in req:
            raise errors.BadRequest("Invalid input received: services have no numeric ids in this cloud; "
                                    "name them by host, cluster_name or binary.")
        cleaning, unavailable, cleaned = await api.run(services().cleanup, req)
        for row in cleaning:
            if row.started_at is not None:
                await _tolerant(api.flow.agents.cleanup(row.host, row.started_at.isoformat()))
        if cleaned:
            api.notifier.emit("workers.cleanup.end", {"resources": cleaned})

        def view(r: Any) -> dict[str, Any]:
            return {"host": r.host, "binary": VOLUME_BINARY, "cluster_name": r.cluster_name}
        return JSON({"cleaning": [view(r) for r in cleaning], "unavailable": [view(r) for r in unavailable]},
                    status_code=202)

    return [
        Op("PUT", f"{P}/os-services/{{action}}", update, "Enable, disable, freeze, thaw a service; set or get "
           "log levels (3.32)", body={"type": "object"}, rule="volume_extension:services:update",
           alt_rules=sorted(set(ACTION_RULES.values())),
           target=action_target, tag="services"),
        Op("GET", f"{P}/clusters", cluster_lister(False), "List clusters (3.7)", rule="clusters:get_all",
           target=api.own(), query=("name", "binary", "is_up", "disabled", "num_hosts", "num_down_hosts", "frozen"),
           tag="clusters"),
        Op("GET", f"{P}/clusters/detail", cluster_lister(True), "List clusters with details (3.7)",
           rule="clusters:get_all", target=api.own(),
           query=("name", "binary", "is_up", "disabled", "num_hosts", "num_down_hosts", "frozen"), tag="clusters"),
        Op("GET", f"{P}/clusters/{{name}}", cluster_show, "Show a cluster (3.7)", rule="clusters:get",
           target=api.own(), query=("binary",), tag="clusters"),
        Op("PUT", f"{P}/clusters/{{name}}", cluster_update, "Enable or disable a cluster (3.7)", body=CLUSTER_BODY,
           rule="clusters:update", target=api.own(), tag="clusters"),
        Op("POST", f"{P}/workers/cleanup", cleanup, "Clean what dead agents left transitional (3.24)",
           body=CLEANUP, status=202, rule="workers:cleanup", target=api.own(), tag="workers"),
    ]


def _binary(req: dict[str, Any]) -> str:
    binary = req.get("binary") or "*"
    if binary not in ("*", *BINARIES):
        raise errors.BadRequest(f"Invalid input received: binary must be one of *, {', '.join(BINARIES)}.")
    return str(binary)


async def _tolerant(coro: Any) -> None:
    """A message to a service that is down is lost, as Cinder's casts to it are."""
    try:
        await coro
    except RPCError:
        pass
