"""The scheduler's filters and weighers (``litestack/compute/scheduler.py``) on plain host states."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from litestack.compute import states
from litestack.compute.placement import resources_of
from litestack.compute.scheduler import (
    FILTERS,
    HostState,
    Request,
    affinity_filter,
    aggregate_instance_extra_specs_filter,
    aggregate_multitenancy_isolation_filter,
    anti_affinity_filter,
    availability_zone_filter,
    weigh,
)


def host(name: str, free_ram: int, up: bool = True, disabled: bool = False, az: str = "nova") -> HostState:
    svc: Any = SimpleNamespace(host=name, disabled=disabled, availability_zone=az, hypervisor_type="fake")
    return HostState(svc, up, {"MEMORY_MB": {"capacity": 8192, "used": 8192 - free_ram},
                               "VCPU": {"capacity": 8, "used": 0}, "DISK_GB": {"capacity": 10, "used": 0}})


def request(policy: str | None = None, members: list[str] | None = None, az: str | None = None,
            rules: dict[str, Any] | None = None, same: set[str] | None = None,
            tried: list[str] | None = None) -> Request:
    inst: Any = SimpleNamespace(requested_az=az, tried_hosts=tried or [], request={}, flavor={}, project_id="p1")
    return Request(inst, policy, rules or {}, members or [], same, set())


def passing(hosts: list[HostState], req: Request) -> list[str]:
    return [h.service.host for h in hosts if all(f(h, req) for f in FILTERS)]


def test_down_disabled_tried_and_other_zone_hosts_are_filtered() -> None:
    hosts = [host("a", 100), host("b", 100, up=False), host("c", 100, disabled=True), host("d", 100, az="other"),
             host("e", 100)]
    assert passing(hosts, request(az="nova", tried=["e"])) == ["a"]
    assert availability_zone_filter(host("e", 1), request(az="nova:e"))
    assert not availability_zone_filter(host("a", 1), request(az="nova:e"))
    assert passing(hosts, request(same={"e"})) == ["e"]


def test_group_policies() -> None:
    a, b = host("a", 100), host("b", 100)
    assert not anti_affinity_filter(a, request("anti-affinity", ["a"]))
    assert anti_affinity_filter(b, request("anti-affinity", ["a"]))
    assert anti_affinity_filter(a, request("anti-affinity", ["a"], rules={"max_server_per_host": 2}))
    assert affinity_filter(a, request("affinity", ["a"])) and not affinity_filter(b, request("affinity", ["a"]))
    assert affinity_filter(b, request("affinity", []))  # the first member goes anywhere


def test_weighers_spread_by_default_and_pack_when_negative() -> None:
    hosts = [host("a", 1000), host("b", 6000), host("c", 3000)]
    assert [h.service.host for h in weigh(hosts, request(), {"MEMORY_MB": 1.0})] == ["b", "c", "a"]
    assert [h.service.host for h in weigh(hosts, request(), {"MEMORY_MB": -1.0})] == ["a", "c", "b"]
    soft = weigh(hosts, request("soft-affinity", ["a"]), {"MEMORY_MB": 1.0})
    assert soft[0].service.host == "a"


def test_resources_of_a_flavor_and_states() -> None:
    assert resources_of({"vcpus": 2, "ram": 512, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 1, "swap": 1024}) == {
        "VCPU": 2, "MEMORY_MB": 512, "DISK_GB": 3}
    assert resources_of({"vcpus": 1, "ram": 64, "disk": 0}) == {"VCPU": 1, "MEMORY_MB": 64}
    # Booted from a volume: the root disk is not on the host (ephemeral and swap still are).
    assert resources_of({"vcpus": 1, "ram": 64, "disk": 20}, volume_backed=True) == {"VCPU": 1, "MEMORY_MB": 64}
    assert resources_of({"vcpus": 1, "ram": 64, "disk": 20, "OS-FLV-EXT-DATA:ephemeral": 2},
                        volume_backed=True)["DISK_GB"] == 2
    assert states.status(states.ACTIVE, states.REBOOTING_HARD) == "HARD_REBOOT"
    assert states.status(states.STOPPED, None) == "SHUTOFF"
    assert states.vm_states_of("shutoff") == [states.STOPPED]


def test_aggregate_extra_specs_and_tenant_isolation() -> None:
    ssd, plain, isolated = host("ssd", 100), host("plain", 100), host("iso", 100)
    ssd.aggregate_metadata = {"disk": {"ssd,nvme"}}
    isolated.aggregate_metadata = {"filter_tenant_id": {"p2,p3"}}
    req = request()
    req.instance.flavor = {"extra_specs": {"aggregate_instance_extra_specs:disk": "nvme", "hw:cpu_policy": "x"}}
    assert [h.service.host for h in (ssd, plain) if aggregate_instance_extra_specs_filter(h, req)] == ["ssd"]
    req.instance.flavor = {"extra_specs": {"hw:cpu_policy": "x"}}  # unscoped specs are other filters' business
    assert aggregate_instance_extra_specs_filter(plain, req)
    assert not aggregate_multitenancy_isolation_filter(isolated, req)  # project p1
    req.instance.project_id = "p3"
    assert aggregate_multitenancy_isolation_filter(isolated, req)
    assert aggregate_multitenancy_isolation_filter(plain, req)
