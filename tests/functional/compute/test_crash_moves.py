"""The whole all-in-one process killed (SIGKILL) while a resize is finishing on its destination:
after the restart the resize is rolled back, the server is back on its source with its old flavor
and its allocation, the migration is ``error`` and holds nothing; the server can be resized again."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from tests.conftest import RunningCloud, until
from tests.functional.compute.conftest import Nova
from tests.functional.identity.keystone import FAST_HASH, Keystone

pytestmark = pytest.mark.functional

SLOW = FAST_HASH + """
[DEFAULT]
services = ["identity", "image", "network", "placement", "compute"]

[network]
bootstrap = false
[compute]
fake_hosts = 2
fake_spawn_delay = 4.0
"""


def test_kill_during_resize_then_restart_rolls_it_back(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory(config=SLOW)
    ks = Keystone(cloud)
    nova = Nova(cloud, ks)
    try:
        assert until(lambda: len(nova.compute("GET", "/os-hypervisors", nova.admin).json()["hypervisors"]) == 2, 30)
        nova.network  # noqa: B018
        sid = nova.boot()["id"]
        source = nova.server(sid, nova.admin)["OS-EXT-SRV-ATTR:host"]
        r = nova.compute("POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": "2"}})
        assert r.status_code == 202, r.text
        assert until(lambda: nova.server(sid)["OS-EXT-STS:task_state"] == "resize_finish", 20)
        assert cloud.proc is not None
        cloud.proc.send_signal(signal.SIGKILL)
        cloud.proc.wait(10)
        cloud.proc = None
        cloud.start()
        assert until(lambda: nova.server(sid)["OS-EXT-STS:task_state"] is None, 30)
        shown = nova.server(sid, nova.admin)
        assert shown["OS-EXT-SRV-ATTR:host"] == source and shown["flavor"]["id"] == "1"
        assert shown["status"] == "SHUTOFF"  # the fake hypervisor lost the guest with the process
        [m] = nova.compute("GET", "/os-migrations", nova.admin).json()["migrations"]
        assert m["status"] == "error"
        providers = {p["name"]: p["uuid"] for p in nova.placement("/resource_providers").json()["resource_providers"]}
        alloc = nova.placement(f"/allocations/{sid}").json()["allocations"]
        assert {rp: a["resources"] for rp, a in alloc.items()} == {
            providers[source]: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
        usages = [nova.placement(f"/resource_providers/{rp}/usages").json()["usages"] for rp in providers.values()]
        assert sum(u.get("MEMORY_MB", 0) for u in usages) == 512  # nothing else is held anywhere
        assert [p["binding:host_id"] for p in nova.ports(sid)] == [source]
        # and it can move again
        assert nova.compute("POST", f"/servers/{sid}/action", json={"os-start": None}).status_code == 202
        nova.wait(sid, "ACTIVE")
        assert nova.compute("POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": "2"}}).status_code == 202
        nova.wait(sid, "VERIFY_RESIZE", timeout=60)
        assert nova.compute("DELETE", f"/servers/{sid}").status_code == 204
        assert nova.gone(sid)
        assert nova.placement(f"/allocations/{sid}").json()["allocations"] == {}
    finally:
        nova.close()
        ks.close()
