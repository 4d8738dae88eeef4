"""Placement through the real clients: the ``openstack`` CLI with the osc-placement plugin, and
openstacksdk's placement proxy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RunningCloud
from tests.databases import cloud_on
from tests.functional.placement.conftest import PLACEMENT_CLOUD

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """SQLite only: each CLI call costs a process start, and the database behaviour is covered by
    test_api.py on all three databases."""
    with cloud_on("sqlite", tmp_path_factory.mktemp("placement-cli"), PLACEMENT_CLOUD) as c:
        yield c

ADMIN = "litestack-admin"


def osc(cloud: RunningCloud, *args: str, version: str = "1.29", check: bool = True) -> Any:
    """``openstack --os-placement-api-version VERSION ARGS -f json`` as admin; the parsed output."""
    res = cloud.openstack("--os-placement-api-version", version, *args, cloud=ADMIN, check=check)
    if not check:
        return res
    return json.loads(res.stdout) if res.stdout.strip() else None


def test_cli_provider_inventory_candidates_allocations_usages(cloud: RunningCloud) -> None:
    name = f"host-{uuid.uuid4().hex[:8]}"
    rp = osc(cloud, "resource", "provider", "create", name, "-f", "json")
    assert rp["name"] == name and rp["generation"] == 0 and rp["root_provider_uuid"] == rp["uuid"]
    child = osc(cloud, "resource", "provider", "create", f"{name}-numa0", "--parent-provider", rp["uuid"],
                "-f", "json")
    assert child["parent_provider_uuid"] == rp["uuid"]
    listed = osc(cloud, "resource", "provider", "list", "--in-tree", rp["uuid"], "-f", "json")
    assert {p["uuid"] for p in listed} == {rp["uuid"], child["uuid"]}
    inv = osc(cloud, "resource", "provider", "inventory", "set", rp["uuid"], "--resource", "VCPU=8",
              "--resource", "VCPU:allocation_ratio=2.0", "--resource", "MEMORY_MB=4096", "--resource",
              "DISK_GB=100", "-f", "json")
    assert {i["resource_class"]: i["total"] for i in inv} == {"VCPU": 8, "MEMORY_MB": 4096, "DISK_GB": 100}
    shown = osc(cloud, "resource", "provider", "inventory", "show", rp["uuid"], "VCPU", "-f", "json")
    assert shown["allocation_ratio"] == 2.0
    osc(cloud, "trait", "create", "CUSTOM_CLI_TRAIT")
    osc(cloud, "resource", "provider", "trait", "set", rp["uuid"], "--trait", "CUSTOM_CLI_TRAIT",
        "--trait", "HW_CPU_X86_AVX2", "-f", "json")
    traits = osc(cloud, "resource", "provider", "trait", "list", rp["uuid"], "-f", "json")
    assert {t["name"] for t in traits} == {"CUSTOM_CLI_TRAIT", "HW_CPU_X86_AVX2"}
    cands = osc(cloud, "allocation", "candidate", "list", "--resource", "VCPU=4", "--resource", "MEMORY_MB=1024",
                "--required", "CUSTOM_CLI_TRAIT", "-f", "json")
    assert [c["resource provider"] for c in cands] == [rp["uuid"]]
    assert "VCPU=0/16" in cands[0]["inventory used/capacity"]
    consumer = str(uuid.uuid4())
    allocs = osc(cloud, "resource", "provider", "allocation", "set", consumer, "--project-id", "proj",
                 "--user-id", "user", "--allocation", f"rp={rp['uuid']},VCPU=4,MEMORY_MB=1024", "-f", "json")
    assert allocs[0]["resources"] == {"VCPU": 4, "MEMORY_MB": 1024}
    usages = osc(cloud, "resource", "provider", "usage", "show", rp["uuid"], "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in usages} == {"VCPU": 4, "MEMORY_MB": 1024, "DISK_GB": 0}
    project = osc(cloud, "resource", "usage", "show", "proj", "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in project} == {"VCPU": 4, "MEMORY_MB": 1024}
    over = osc(cloud, "resource", "provider", "allocation", "set", str(uuid.uuid4()), "--project-id", "proj",
               "--user-id", "user", "--allocation", f"rp={rp['uuid']},VCPU=13", check=False)
    assert over.returncode != 0 and "exceed the capacity" in over.stderr and "409" in over.stderr
    agg = str(uuid.uuid4())
    aggs = osc(cloud, "resource", "provider", "aggregate", "set", rp["uuid"], "--aggregate", agg,
               "--generation", str(osc(cloud, "resource", "provider", "show", rp["uuid"], "-f", "json")["generation"]),
               "-f", "json")
    assert [a["uuid"] for a in aggs] == [agg]
    osc(cloud, "resource", "provider", "allocation", "delete", consumer)
    assert osc(cloud, "resource", "provider", "allocation", "show", consumer, "-f", "json") == []
    osc(cloud, "resource", "provider", "delete", child["uuid"])
    osc(cloud, "resource", "provider", "delete", rp["uuid"])
    gone = osc(cloud, "resource", "provider", "show", rp["uuid"], check=False)
    assert gone.returncode != 0 and "404" in gone.stderr


def test_cli_resource_classes(cloud: RunningCloud) -> None:
    osc(cloud, "resource", "class", "create", "CUSTOM_CLI_GPU")
    names = {c["name"] for c in osc(cloud, "resource", "class", "list", "-f", "json")}
    assert {"VCPU", "CUSTOM_CLI_GPU"} <= names
    assert osc(cloud, "resource", "class", "show", "CUSTOM_CLI_GPU", "-f", "json")["name"] == "CUSTOM_CLI_GPU"
    osc(cloud, "resource", "class", "delete", "CUSTOM_CLI_GPU")
    bad = osc(cloud, "resource", "class", "delete", "VCPU", check=False)
    assert bad.returncode != 0 and "400" in bad.stderr


def test_sdk_placement_proxy(cloud: RunningCloud) -> None:
    conn = cloud.sdk(ADMIN)
    pl = conn.placement
    rp = pl.create_resource_provider(name=f"sdk-{uuid.uuid4().hex[:8]}")
    assert pl.get_resource_provider(rp.id).name == rp.name
    assert rp.id in {p.id for p in pl.resource_providers()}
    # Placement's POST needs the provider generation the caller read (as the api-ref says).
    pl.create_resource_provider_inventory(rp, resource_class="VCPU", total=4, resource_provider_generation=0)
    pl.create_resource_provider_inventory(rp, resource_class="MEMORY_MB", total=2048,
                                          resource_provider_generation=1)
    invs = {i.resource_class: i.total for i in pl.resource_provider_inventories(rp)}
    assert invs == {"VCPU": 4, "MEMORY_MB": 2048}
    cands = list(pl.allocation_candidates(resources="VCPU:2,MEMORY_MB:512", in_tree=rp.id))
    assert len(cands) == 1 and cands[0].allocations == {rp.id: {"resources": {"VCPU": 2, "MEMORY_MB": 512}}}
    consumer = str(uuid.uuid4())
    # The SDK negotiates 1.38 for allocations, where placement wants the consumer's type.
    pl.update_allocation(consumer, allocations={rp.id: {"resources": {"VCPU": 2}}}, project_id="p",
                         user_id="u", consumer_generation=None, consumer_type="INSTANCE")
    got = pl.get_allocation(consumer)
    assert got.allocations[rp.id]["resources"] == {"VCPU": 2} and got.consumer_generation == 1
    assert got.consumer_type == "INSTANCE"
    assert pl.fetch_resource_provider_usages(rp).usages == {"VCPU": 2, "MEMORY_MB": 0}
    assert {t.name for t in pl.traits(name="startswith:HW_CPU_X86_AVX")} >= {"HW_CPU_X86_AVX", "HW_CPU_X86_AVX2"}
    pl.delete_allocation(consumer)
    pl.delete_resource_provider(rp)
    assert rp.id not in {p.id for p in pl.resource_providers()}


def test_cli_at_the_newest_microversions(cloud: RunningCloud) -> None:
    """osc-placement at 1.39: consumer types on allocations and usages, any-of traits in candidates,
    re-parenting (1.37)."""
    rp = osc(cloud, "resource", "provider", "create", f"new-{uuid.uuid4().hex[:8]}", "-f", "json", version="1.39")
    other = osc(cloud, "resource", "provider", "create", f"new-{uuid.uuid4().hex[:8]}", "-f", "json",
                version="1.39")
    osc(cloud, "resource", "provider", "inventory", "set", rp["uuid"], "--resource", "VCPU=4", "-f", "json",
        version="1.39")
    osc(cloud, "resource", "provider", "trait", "set", rp["uuid"], "--trait", "HW_CPU_X86_SSE42", "-f", "json",
        version="1.39")
    cands = osc(cloud, "allocation", "candidate", "list", "--resource", "VCPU=1", "--required",
                "HW_CPU_X86_SSE42,HW_CPU_X86_AVX512F", "-f", "json", version="1.39")
    assert [c["resource provider"] for c in cands] == [rp["uuid"]]
    consumer, project = str(uuid.uuid4()), f"proj-{uuid.uuid4().hex[:6]}"
    allocs = osc(cloud, "resource", "provider", "allocation", "set", consumer, "--project-id", project,
                 "--user-id", "user", "--consumer-type", "INSTANCE", "--allocation", f"rp={rp['uuid']},VCPU=2",
                 "-f", "json", version="1.39")
    assert allocs[0]["consumer_type"] == "INSTANCE"
    usage = osc(cloud, "resource", "usage", "show", project, "-f", "json", version="1.39")
    # osc-placement prints 1.38's usages-by-type as they come: the type where the class would be.
    assert {u["resource_class"]: u["usage"] for u in usage} == {"INSTANCE": {"VCPU": 2, "consumer_count": 1}}
    moved = osc(cloud, "resource", "provider", "set", other["uuid"], "--name", other["name"], "--parent-provider",
                rp["uuid"], "-f", "json", version="1.39")
    assert moved["root_provider_uuid"] == rp["uuid"]
