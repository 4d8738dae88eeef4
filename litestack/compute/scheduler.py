"""The scheduler: allocation candidates from placement, Nova's filters and weighers, then an
atomic claim on the best host (with the others kept as alternates for a reschedule).

Decisions are taken one at a time (an asyncio lock around select, claim and the recording of the
host), so that concurrent builds of one anti-affinity group cannot land on the same host. Served
on the bus as topic ``compute-scheduler`` (``select_destinations``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestack.common import errors
from litestack.common.db import run_blocking
from litestack.compute import states
from litestack.compute.manager.aggregates import Aggregates
from litestack.compute.manager.groups import Groups
from litestack.compute.manager.hosts import Hosts
from litestack.compute.manager.instances import InstanceNotFound, Instances, UnexpectedTaskState
from litestack.compute.models import ComputeService, Instance
from litestack.compute.placement import Claims, resources_of

LOG = logging.getLogger(__name__)


class NoValidHost(errors.LitestackError):
    """No host passes the filters (or has room): Nova's "No valid host was found" (crosses the bus)."""

    status = 400
    title = "No valid host was found."

    @classmethod
    def because(cls, reason: str) -> NoValidHost:
        return cls(f"No valid host was found. {reason}".strip())


@dataclass
class HostState:
    service: ComputeService
    up: bool
    resources: dict[str, Any]  # {class: {capacity, used}}
    #: The metadata of the host's aggregates: key → every value its aggregates give.
    aggregate_metadata: dict[str, set[str]] = field(default_factory=dict)

    def free(self, rc: str) -> float:
        r = self.resources.get(rc)
        return float(r["capacity"] - r["used"]) if r else 0.0


@dataclass
class Request:
    """What a filter sees of the build."""

    instance: Instance
    group_policy: str | None
    group_rules: dict[str, Any]
    group_hosts: list[str]
    same_hosts: set[str] | None
    different_hosts: set[str]
    #: Moves: hosts the instance must leave (its own, unless a resize may stay) and the one asked for.
    ignore_hosts: tuple[str, ...] = ()
    force_host: str | None = None


Filter = Callable[[HostState, Request], bool]


def compute_filter(h: HostState, r: Request) -> bool:
    return h.up and not h.service.disabled


def retry_filter(h: HostState, r: Request) -> bool:
    return h.service.host not in (r.instance.tried_hosts or []) and h.service.host not in r.ignore_hosts


def force_host_filter(h: HostState, r: Request) -> bool:
    return r.force_host is None or h.service.host == r.force_host


def availability_zone_filter(h: HostState, r: Request) -> bool:
    az = r.instance.requested_az
    if not az:
        return True
    zone, _, host = az.partition(":")
    return (not zone or h.service.availability_zone == zone) and (not host or h.service.host == host)


def image_properties_filter(h: HostState, r: Request) -> bool:
    props = (r.instance.request or {}).get("image_properties", {})
    hv = props.get("img_hv_type") or props.get("hypervisor_type")
    arch = props.get("hw_architecture") or props.get("architecture")
    return (not hv or hv == h.service.hypervisor_type) and (not arch or arch in ("x86_64", "i686"))


def same_host_filter(h: HostState, r: Request) -> bool:
    return r.same_hosts is None or h.service.host in r.same_hosts


def different_host_filter(h: HostState, r: Request) -> bool:
    return h.service.host not in r.different_hosts


def affinity_filter(h: HostState, r: Request) -> bool:
    return r.group_policy != "affinity" or not r.group_hosts or h.service.host in r.group_hosts


def anti_affinity_filter(h: HostState, r: Request) -> bool:
    if r.group_policy != "anti-affinity":
        return True
    most = int(r.group_rules.get("max_server_per_host", 1))
    return r.group_hosts.count(h.service.host) < most


#: The scope of flavor extra specs the aggregate filter matches (unscoped keys are other filters').
AGGREGATE_SCOPE = "aggregate_instance_extra_specs:"


def aggregate_instance_extra_specs_filter(h: HostState, r: Request) -> bool:
    """Nova's AggregateInstanceExtraSpecsFilter: each ``aggregate_instance_extra_specs:KEY`` of the
    flavor must be a value one of the host's aggregates gives KEY (a comma list: any of them)."""
    specs = (r.instance.flavor or {}).get("extra_specs") or {}
    for key, wanted in specs.items():
        if not key.startswith(AGGREGATE_SCOPE):
            continue
        values = h.aggregate_metadata.get(key.removeprefix(AGGREGATE_SCOPE))
        if not values:
            return False
        if not {w.strip() for w in str(wanted).split(",")} & {x.strip() for v in values for x in v.split(",")}:
            return False
    return True


def aggregate_multitenancy_isolation_filter(h: HostState, r: Request) -> bool:
    """Nova's AggregateMultiTenancyIsolation: a host whose aggregates name projects
    (``filter_tenant_id``, ``filter_tenant_id_*``) takes only those projects' servers."""
    allowed = {p.strip() for k, vals in h.aggregate_metadata.items() if k.startswith("filter_tenant_id")
               for v in vals for p in v.split(",")}
    return not allowed or r.instance.project_id in allowed


FILTERS: list[Filter] = [compute_filter, retry_filter, force_host_filter, availability_zone_filter,
                         image_properties_filter, same_host_filter, different_host_filter, affinity_filter,
                         anti_affinity_filter, aggregate_instance_extra_specs_filter,
                         aggregate_multitenancy_isolation_filter]


def _normalized(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    return [0.0 if hi == lo else (v - lo) / (hi - lo) for v in values]


def weigh(hosts: list[HostState], r: Request, multipliers: dict[str, float]) -> list[HostState]:
    """Nova's weighers: free RAM, CPU and disk (normalized, times their multipliers: positive
    spreads, negative packs), and the soft (anti-)affinity weighers."""
    if not hosts:
        return hosts
    totals = [0.0] * len(hosts)
    for rc, mult in multipliers.items():
        for i, w in enumerate(_normalized([h.free(rc) for h in hosts])):
            totals[i] += mult * w
    if r.group_policy in ("soft-affinity", "soft-anti-affinity"):
        counts = [float(r.group_hosts.count(h.service.host)) for h in hosts]
        sign = 1.0 if r.group_policy == "soft-affinity" else -1.0
        for i, w in enumerate(_normalized(counts)):
            totals[i] += sign * 10.0 * w
    order = sorted(range(len(hosts)), key=lambda i: (-totals[i], hosts[i].service.host))
    return [hosts[i] for i in order]


class Scheduler:
    rpc_methods = ("select_destinations",)
    rpc_version = "1.0"

    def __init__(self, instances: Instances, hosts: Hosts, groups: Groups, claims: Claims,
                 multipliers: dict[str, float], max_attempts: int, aggregates: Aggregates | None = None) -> None:
        self.instances, self.hosts, self.groups, self.claims = instances, hosts, groups, claims
        self.aggregates = aggregates
        self.multipliers = multipliers
        self.max_attempts = max_attempts
        self._lock = asyncio.Lock()

    def _request(self, inst: Instance) -> Request:
        hints = (inst.request or {}).get("scheduler_hints", {})
        group = self.groups.of_instance(inst.id)
        same = hints.get("same_host")
        diff = hints.get("different_host")
        same_ids = [same] if isinstance(same, str) else list(same or [])
        diff_ids = [diff] if isinstance(diff, str) else list(diff or [])

        def hosts_of(ids: list[str]) -> set[str]:
            return {i.host for i in self.instances.find({"ids": ids}) if i.host}
        return Request(inst, group.policy if group else None, dict(group.rules or {}) if group else {},
                       self.groups.member_hosts(group.id, inst.id) if group else [],
                       hosts_of(same_ids) if same_ids else None, hosts_of(diff_ids))

    async def select_destinations(self, instance_id: str, move: dict[str, Any] | None = None) -> dict[str, Any]:
        """Pick and claim a host for the instance; ``{"host", "node", "alternates": [host...]}``.
        ``move`` (a resize, migration, evacuation or unshelve): ``flavor`` to fit, ``ignore_hosts``,
        ``host`` (the one asked for, still filtered unless ``force``), ``extend`` (claim on top of
        what the instance holds: an evacuation); the instance's host is then left to the move.
        Raises ``NoValidHost``."""
        async with self._lock:
            inst = await run_blocking(self.instances.get, instance_id)
            if move is None and len(inst.tried_hosts or []) >= self.max_attempts:
                raise NoValidHost.because(f"Exceeded maximum number of retries ({self.max_attempts}).")
            resources = resources_of(move["flavor"] if move and move.get("flavor") else inst.flavor,
                                     bool((inst.request or {}).get("volume_backed")))
            room = await self.claims.candidates(resources, 1000)
            services = {s.node_uuid: s for s in await run_blocking(self.hosts.find)}
            req = await run_blocking(self._request, inst)
            meta = await run_blocking(self.aggregates.metadata_by_host) if self.aggregates is not None else {}
            if move is not None:
                req.ignore_hosts = tuple(move.get("ignore_hosts", ()))
                req.force_host = move.get("host")
                inst.tried_hosts = []
                # "zone:host" forced the boot only; a move keeps the zone (as Nova's request spec)
                inst.requested_az = (inst.requested_az or "").partition(":")[0] or None
                if move.get("flavor"):
                    inst.flavor = move["flavor"]  # the filters judge the flavor the move asks for
                if move.get("host") and move.get("force"):
                    forced = [s for s in services.values() if s.host == move["host"]]
                    room = {s.node_uuid: room.get(s.node_uuid, {}) for s in forced}
            candidates = [HostState(services[rp], self.hosts.is_up(services[rp]), res,
                                    meta.get(services[rp].host, {}))
                          for rp, res in room.items() if rp in services]
            filters = FILTERS if not (move and move.get("force")) else [compute_filter]
            passing = [h for h in candidates if all(f(h, req) for f in filters)]
            if not passing:
                raise NoValidHost.because("There are not enough hosts available.")
            for choice in weigh(passing, req, self.multipliers):
                if move is not None:
                    claim = self.claims.extend if move.get("extend") else self.claims.claim
                    if await claim(inst.id, choice.service.node_uuid, resources, inst.project_id, inst.user_id):
                        return {"host": choice.service.host, "node": choice.service.node_uuid, "alternates": []}
                    continue
                if await self.claims.claim(inst.id, choice.service.node_uuid, resources, inst.project_id,
                                           inst.user_id):
                    try:
                        await run_blocking(lambda c=choice: self.instances.save(
                            instance_id, expected_task_state=[states.SCHEDULING], host=c.service.host,
                            node=c.service.node_uuid, availability_zone=c.service.availability_zone))
                    except (InstanceNotFound, UnexpectedTaskState):
                        await self.claims.release(instance_id)  # deleted while being scheduled
                        raise NoValidHost.because("The instance was deleted while it was scheduled.") from None
                    alternates = [h.service.host for h in passing if h is not choice]
                    return {"host": choice.service.host, "node": choice.service.node_uuid,
                            "alternates": alternates[: self.max_attempts - 1]}
            raise NoValidHost.because("The claims on every candidate host failed.")
