"""A compute agent killed in the middle of builds (the whole all-in-one process, SIGKILL, while the
fake driver spawns): after the restart the agent builds them again to ACTIVE, each with exactly
one port and one allocation; nothing leaks."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from tests.conftest import RunningCloud, until
from tests.functional.compute.conftest import Nova, unique
from tests.functional.identity.keystone import FAST_HASH, Keystone

pytestmark = pytest.mark.functional

SLOW = FAST_HASH + """
[DEFAULT]
services = ["identity", "image", "network", "placement", "compute"]

[network]
bootstrap = false  # the project's one network is made here; a boot without networks takes it
[compute]
fake_hosts = 2
fake_spawn_delay = 4.0
"""


def test_kill_during_build_then_restart_finishes_it(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory(config=SLOW)
    ks = Keystone(cloud)
    nova = Nova(cloud, ks)
    try:
        assert until(lambda: len(nova.compute("GET", "/os-hypervisors", nova.admin).json()["hypervisors"]) == 2, 30)
        nova.network  # noqa: B018
        ids = [nova.boot(wait=None, name=unique("crash"))["id"] for _ in range(3)]
        assert until(lambda: all(nova.server(i)["OS-EXT-STS:task_state"] == "spawning" for i in ids), 20)
        assert cloud.proc is not None
        cloud.proc.send_signal(signal.SIGKILL)
        cloud.proc.wait(10)
        cloud.proc = None
        cloud.start()
        for i in ids:
            nova.wait(i, "ACTIVE", timeout=30)
            assert len(nova.ports(i)) == 1
            alloc = nova.placement(f"/allocations/{i}").json()["allocations"]
            assert len(alloc) == 1 and next(iter(alloc.values()))["resources"]["VCPU"] == 1
        for i in ids:
            assert nova.compute("DELETE", f"/servers/{i}").status_code == 204
        for i in ids:
            assert nova.gone(i)
            assert nova.ports(i) == []
            assert nova.placement(f"/allocations/{i}").json()["allocations"] == {}
    finally:
        nova.close()
        ks.close()
