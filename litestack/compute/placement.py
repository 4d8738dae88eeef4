"""Where the scheduler finds room and claims it: the placement service over REST, or (when the
cloud runs no placement service) the compute database's own count of each host's use.

Both give the same three things: the hosts with room for a set of resources (allocation
candidates), an atomic claim for one consumer on one provider, and the release of a consumer's
claim. Providers are the compute nodes; their uuid is the node's (``hypervisor`` id).
"""

from __future__ import annotations

import abc
import logging
from typing import Any

from sqlalchemy import select

from litestack.common import errors
from litestack.common.db import Database, run_blocking
from litestack.compute.models import ComputeService, Instance

LOG = logging.getLogger(__name__)


def resources_of(flavor: dict[str, Any], volume_backed: bool = False) -> dict[str, int]:
    """The resource classes a flavor consumes (Nova's ``resources_from_flavor``); the root disk
    of a server booted from a volume is in block storage, not on the host."""
    disk = (0 if volume_backed else int(flavor.get("disk", 0))) + int(flavor.get("OS-FLV-EXT-DATA:ephemeral", 0))
    disk += (int(flavor.get("swap") or 0) + 1023) // 1024
    res = {"VCPU": int(flavor["vcpus"]), "MEMORY_MB": int(flavor["ram"])}
    if disk:
        res["DISK_GB"] = disk
    return res


class Claims(abc.ABC):
    @abc.abstractmethod
    async def candidates(self, resources: dict[str, int], limit: int) -> dict[str, dict[str, Any]]:
        """Providers that can take ``resources``, by uuid, each with ``{class: {capacity, used}}``."""

    @abc.abstractmethod
    async def claim(self, consumer: str, provider: str, resources: dict[str, int], project_id: str,
                    user_id: str) -> bool:
        """Allocate ``resources`` of ``provider`` to ``consumer``; False when they no longer fit."""

    @abc.abstractmethod
    async def release(self, consumer: str) -> None:
        """Remove every allocation of ``consumer`` (none: nothing to do)."""

    @abc.abstractmethod
    async def report(self, provider: str, name: str, inventory: dict[str, dict[str, Any]]) -> None:
        """Create the provider when missing and set its inventory."""

    async def set_aggregate(self, provider: str, aggregate: str, member: bool) -> None:
        """Add (``member``) or remove the provider's membership of a host aggregate (Nova mirrors
        its host aggregates into placement); without placement there is nothing to mirror."""
        return None

    # --- moves (Nova's migration-based allocations) ------------------------------------------

    @abc.abstractmethod
    async def move(self, source: str, target: str, project_id: str, user_id: str) -> bool:
        """Give every allocation of consumer ``source`` to consumer ``target`` (which loses its
        own), atomically: the instance's allocation on the source host becomes the migration's
        when a move starts, and comes back on a revert. False when ``source`` holds nothing."""

    @abc.abstractmethod
    async def extend(self, consumer: str, provider: str, resources: dict[str, int], project_id: str,
                     user_id: str) -> bool:
        """Add ``resources`` of ``provider`` to what ``consumer`` holds (an evacuated instance
        holds both hosts until its old host cleans up); False when they do not fit."""

    @abc.abstractmethod
    async def drop_provider(self, consumer: str, provider: str) -> None:
        """Remove ``consumer``'s allocation of one provider, keeping the others."""

    @abc.abstractmethod
    async def holdings(self, consumer: str) -> dict[str, dict[str, int]]:
        """What ``consumer`` holds: ``{provider: {class: amount}}``."""


class PlacementClaims(Claims):
    """The placement API through the compute service's internal REST client."""

    def __init__(self, client: Any, microversion: str) -> None:
        self.client = client
        self.headers = {"OpenStack-API-Version": f"placement {microversion}"}

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        return await self.client.request(method, "placement", path, headers=self.headers, **kw)

    async def candidates(self, resources: dict[str, int], limit: int) -> dict[str, dict[str, Any]]:
        query = ",".join(f"{k}:{v}" for k, v in resources.items())
        r = await self._call("GET", "/allocation_candidates", params={"resources": query, "limit": str(limit)})
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"placement allocation candidates failed ({r.status_code}): {r.text[:200]}")
        body = r.json()
        summaries = body.get("provider_summaries", {})
        found: dict[str, dict[str, Any]] = {}
        for req in body.get("allocation_requests", []):
            for rp in req.get("allocations", {}):
                found[rp] = summaries.get(rp, {}).get("resources", {})
        return found

    async def claim(self, consumer: str, provider: str, resources: dict[str, int], project_id: str,
                    user_id: str) -> bool:
        body = {"allocations": {provider: {"resources": resources}}, "project_id": project_id,
                "user_id": user_id, "consumer_generation": None}
        r = await self._call("PUT", f"/allocations/{consumer}", json=body)
        if r.status_code == 204:
            return True
        if r.status_code == 409:
            LOG.info("placement refused the claim of %s on %s: %s", consumer, provider, r.text[:200])
            return False
        raise errors.ServiceUnavailable(f"placement claim failed ({r.status_code}): {r.text[:200]}")

    async def set_aggregate(self, provider: str, aggregate: str, member: bool) -> None:
        headers = {"OpenStack-API-Version": "placement 1.19"}  # aggregates with the provider generation
        path = f"/resource_providers/{provider}/aggregates"
        for _ in range(5):  # the generation changed under us: read again
            r = await self.client.request("GET", "placement", path, headers=headers)
            if r.status_code == 404:
                return  # the host has no provider (yet): its agent creates it, without the aggregate
            if r.status_code != 200:
                raise errors.ServiceUnavailable(f"placement aggregates failed ({r.status_code}): {r.text[:200]}")
            body = r.json()
            aggs = [a for a in body["aggregates"] if a != aggregate] + ([aggregate] if member else [])
            if set(aggs) == set(body["aggregates"]):
                return
            r = await self.client.request("PUT", "placement", path, headers=headers, json={
                "aggregates": aggs, "resource_provider_generation": body["resource_provider_generation"]})
            if r.status_code == 200:
                return
            if r.status_code != 409:
                raise errors.ServiceUnavailable(f"placement aggregates failed ({r.status_code}): {r.text[:200]}")
        raise errors.Conflict(f"The aggregates of resource provider {provider} kept changing; try again.")

    async def release(self, consumer: str) -> None:
        r = await self._call("DELETE", f"/allocations/{consumer}")
        if r.status_code not in (204, 404):
            raise errors.ServiceUnavailable(f"placement release failed ({r.status_code}): {r.text[:200]}")

    async def report(self, provider: str, name: str, inventory: dict[str, dict[str, Any]]) -> None:
        r = await self._call("GET", f"/resource_providers/{provider}")
        if r.status_code == 404:
            r = await self._call("POST", "/resource_providers", json={"name": name, "uuid": provider})
            if r.status_code not in (200, 201, 409):
                raise errors.ServiceUnavailable(f"placement: cannot create provider {name} ({r.status_code})")
            r = await self._call("GET", f"/resource_providers/{provider}")
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"placement: cannot read provider {name} ({r.status_code})")
        for _ in range(5):  # a generation conflict: read it again and retry
            gen = (await self._call("GET", f"/resource_providers/{provider}")).json()["generation"]
            r = await self._call("PUT", f"/resource_providers/{provider}/inventories",
                                 json={"resource_provider_generation": gen, "inventories": inventory})
            if r.status_code == 200:
                return
            if r.status_code != 409:
                break
        raise errors.ServiceUnavailable(f"placement: cannot set the inventory of {name} ({r.status_code}): "
                                        f"{r.text[:200]}")


    async def _allocations(self, consumer: str) -> dict[str, Any]:
        r = await self._call("GET", f"/allocations/{consumer}")
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"placement allocations of {consumer} failed ({r.status_code})")
        return dict(r.json())

    async def holdings(self, consumer: str) -> dict[str, dict[str, int]]:
        body = await self._allocations(consumer)
        return {rp: dict(a["resources"]) for rp, a in body.get("allocations", {}).items()}

    async def move(self, source: str, target: str, project_id: str, user_id: str) -> bool:
        for _ in range(5):  # a consumer generation conflict: read both again
            src, dst = await self._allocations(source), await self._allocations(target)
            if not src.get("allocations"):
                return False
            body = {source: {"allocations": {}, "project_id": src.get("project_id", project_id),
                             "user_id": src.get("user_id", user_id),
                             "consumer_generation": src.get("consumer_generation")},
                    target: {"allocations": {rp: {"resources": a["resources"]}
                                             for rp, a in src["allocations"].items()},
                             "project_id": project_id, "user_id": user_id,
                             "consumer_generation": dst.get("consumer_generation")}}
            r = await self._call("POST", "/allocations", json=body)
            if r.status_code == 204:
                return True
            if r.status_code != 409:
                break
        raise errors.ServiceUnavailable(f"placement: moving the allocations of {source} to {target} failed "
                                        f"({r.status_code}): {r.text[:200]}")

    async def _replace(self, consumer: str, change: Any, project_id: str, user_id: str) -> bool:
        for _ in range(5):
            cur = await self._allocations(consumer)
            allocs = {rp: dict(a["resources"]) for rp, a in cur.get("allocations", {}).items()}
            change(allocs)
            body = {"allocations": {rp: {"resources": res} for rp, res in allocs.items()},
                    "project_id": cur.get("project_id", project_id), "user_id": cur.get("user_id", user_id),
                    "consumer_generation": cur.get("consumer_generation")}
            r = await self._call("PUT", f"/allocations/{consumer}", json=body)
            if r.status_code == 204:
                return True
            if r.status_code == 409 and "generation" not in r.text.lower():
                LOG.info("placement refused the allocation of %s: %s", consumer, r.text[:200])
                return False
            if r.status_code != 409:
                break
        raise errors.ServiceUnavailable(f"placement: changing the allocations of {consumer} failed "
                                        f"({r.status_code}): {r.text[:200]}")

    async def extend(self, consumer: str, provider: str, resources: dict[str, int], project_id: str,
                     user_id: str) -> bool:
        return await self._replace(consumer, lambda a: a.__setitem__(provider, dict(resources)), project_id,
                                   user_id)

    async def drop_provider(self, consumer: str, provider: str) -> None:
        await self._replace(consumer, lambda a: a.pop(provider, None), "", "")


class LocalClaims(Claims):
    """Without a placement service: each node's capacity (with allocation ratios and the reserved
    memory) against the sum of the flavors of the live instances the database places on it. A
    claim is the instance's host and node set in the same write transaction as the check."""

    def __init__(self, db: Database, ratios: dict[str, float], reserved_mb: int) -> None:
        self.db = db
        self.ratios = ratios
        self.reserved_mb = reserved_mb

    def _room(self, session: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for svc in session.scalars(select(ComputeService)):
            cap = {"VCPU": int(svc.vcpus * self.ratios["VCPU"]),
                   "MEMORY_MB": int((svc.memory_mb - self.reserved_mb) * self.ratios["MEMORY_MB"]),
                   "DISK_GB": int(svc.local_gb * self.ratios["DISK_GB"])}
            used = {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
            for flavor, request in session.execute(select(Instance.flavor, Instance.request).where(
                    Instance.node == svc.node_uuid, Instance.deleted.is_(False))):
                for k, v in resources_of(flavor, bool((request or {}).get("volume_backed"))).items():
                    used[k] += v
            out[svc.node_uuid] = {k: {"capacity": cap[k], "used": used[k]} for k in cap}
        return out

    async def candidates(self, resources: dict[str, int], limit: int) -> dict[str, dict[str, Any]]:
        def pick() -> dict[str, dict[str, Any]]:
            with self.db.reader() as s:
                room = self._room(s)
            return {rp: r for rp, r in room.items()
                    if all(r[k]["used"] + v <= r[k]["capacity"] for k, v in resources.items())}
        return await run_blocking(pick)

    async def claim(self, consumer: str, provider: str, resources: dict[str, int], project_id: str,
                    user_id: str) -> bool:
        def claim() -> bool:
            with self.db.writer() as s:
                r = self._room(s).get(provider)
                inst = s.get(Instance, consumer)
                if r is None or inst is None:
                    return False
                if inst.node == provider:
                    return True
                if any(r[k]["used"] + v > r[k]["capacity"] for k, v in resources.items()):
                    return False
                svc = s.scalar(select(ComputeService).where(ComputeService.node_uuid == provider))
                inst.node, inst.host = provider, svc.host if svc else None
                return True
        return await run_blocking(claim)

    async def release(self, consumer: str) -> None:
        def release() -> None:
            with self.db.writer() as s:
                inst = s.get(Instance, consumer)
                if inst is not None:
                    inst.node = None
        await run_blocking(release)

    async def report(self, provider: str, name: str, inventory: dict[str, dict[str, Any]]) -> None:
        return None  # the node's row (compute_services) is the inventory

    # Without placement an instance's use is counted on its node alone: a move holds nothing on
    # its source (the destination is checked when it is claimed), as the docs say.
    async def move(self, source: str, target: str, project_id: str, user_id: str) -> bool:
        return False

    async def extend(self, consumer: str, provider: str, resources: dict[str, int], project_id: str,
                     user_id: str) -> bool:
        return True

    async def drop_provider(self, consumer: str, provider: str) -> None:
        return None

    async def holdings(self, consumer: str) -> dict[str, dict[str, int]]:
        return {}
