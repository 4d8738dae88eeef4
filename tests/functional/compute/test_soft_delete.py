"""Deferred delete (``[compute] reclaim_instance_interval``): a deleted server is SOFT_DELETED and
keeps its port and its claim; ``restore`` brings it back ACTIVE, ``forceDelete`` deletes it at
once, and its host's agent reclaims the ones left longer than the interval."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import RunningCloud, until
from tests.functional.compute.conftest import Nova, nova_error
from tests.functional.identity.keystone import FAST_HASH, Keystone

pytestmark = pytest.mark.functional

DEFERRED = FAST_HASH + """
[DEFAULT]
services = ["identity", "image", "network", "placement", "compute"]

[network]
bootstrap = false
[compute]
fake_hosts = 1
reclaim_instance_interval = 3.0
"""


def test_soft_delete_restore_force_delete_and_reclaim(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory(config=DEFERRED)
    ks = Keystone(cloud)
    nova = Nova(cloud, ks)
    try:
        assert until(lambda: len(nova.compute("GET", "/os-hypervisors", nova.admin).json()["hypervisors"]) == 1, 30)
        nova.network  # noqa: B018
        conn = cloud.sdk()
        kept, forced, reclaimed = (nova.boot()["id"] for _ in range(3))
        port = nova.ports(kept)[0]["id"]
        cloud.openstack("server", "delete", kept)
        shown = nova.wait(kept, "SOFT_DELETED")
        assert shown["OS-EXT-STS:vm_state"] == "soft-delete" and shown["OS-EXT-STS:power_state"] == 4
        assert [p["id"] for p in nova.ports(kept)] == [port]  # nothing is released yet
        assert nova.placement(f"/allocations/{kept}").json()["allocations"]
        conn.compute.restore_server(kept)  # well before the reclaim
        assert nova.wait(kept, "ACTIVE")["OS-EXT-STS:power_state"] == 1
        nova_error(nova.compute("POST", f"/servers/{kept}/action", json={"restore": None}), 409,
                   "conflictingRequest")
        nova.compute("DELETE", f"/servers/{forced}")
        nova.wait(forced, "SOFT_DELETED")
        assert nova.compute("POST", f"/servers/{forced}/action", json={"forceDelete": None}).status_code == 202
        assert nova.gone(forced, timeout=30) and nova.ports(forced) == []
        nova.compute("DELETE", f"/servers/{reclaimed}")
        nova.wait(reclaimed, "SOFT_DELETED")
        assert nova.gone(reclaimed, timeout=30)  # the agent reclaimed it after the interval
        assert nova.placement(f"/allocations/{reclaimed}").json()["allocations"] == {}
        actions = {a["action"] for a in nova.compute("GET", f"/servers/{kept}/os-instance-actions").json()[
            "instanceActions"]}
        assert {"delete", "restore"} <= actions
        nova.compute("DELETE", f"/servers/{kept}")
        nova.wait(kept, "SOFT_DELETED")
        nova.compute("POST", f"/servers/{kept}/action", json={"forceDelete": None})
        assert nova.gone(kept)
    finally:
        nova.close()
        ks.close()
