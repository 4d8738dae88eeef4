"""The placement API over raw HTTP: providers and generations, inventories, allocations with
consumer generations, usages, allocation candidates (traits, aggregates, nested and sharing
providers, granular groups), resource classes, traits, the reshaper, microversions, placement's
error body, policy, and race-free claims under concurrent writers."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.placement.conftest import Placement, new_uuid, service_token

pytestmark = pytest.mark.functional


def error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    """The one error of placement's body, checked for ``status`` and ``code``."""
    assert r.status_code == status, r.text
    errs = r.json()["errors"]
    assert len(errs) == 1 and errs[0]["status"] == status and errs[0]["request_id"].startswith("req-")
    if code is not None:
        assert errs[0]["code"] == code, errs[0]
    err: dict[str, object] = errs[0]
    return err


def test_version_document_needs_no_token_and_microversions_are_negotiated(cloud: RunningCloud,
                                                                           placement: Placement) -> None:
    r = httpx.get(f"{cloud.url}/placement/")
    assert r.status_code == 200
    (v,) = r.json()["versions"]
    assert v["id"] == "v1.0" and v["min_version"] == "1.0" and v["max_version"] == "1.39"
    assert r.headers["openstack-api-version"] == "placement 1.0"
    r = placement("GET", "/resource_providers", version="latest")
    assert r.headers["openstack-api-version"] == "placement 1.39"
    assert "OpenStack-API-Version" in r.headers["vary"] and r.headers["cache-control"] == "no-cache"
    assert placement("GET", "/traits", version="1.5").status_code == 404  # traits came in 1.6
    error(placement("GET", "/resource_providers", version="1.99"), 406)
    error(placement("GET", "/resource_providers", version="one"), 400)
    assert httpx.get(f"{cloud.url}/placement/resource_providers").status_code == 401


def test_provider_lifecycle_with_generations_and_nesting(placement: Placement) -> None:
    root = placement.provider()
    child = placement.provider(parent=root)
    shown = placement("GET", f"/resource_providers/{child}").json()
    assert shown["parent_provider_uuid"] == root and shown["root_provider_uuid"] == root
    assert {link["rel"] for link in shown["links"]} == {"self", "inventories", "usages", "aggregates", "traits",
                                                        "allocations"}
    tree = placement("GET", f"/resource_providers?in_tree={child}").json()["resource_providers"]
    assert {p["uuid"] for p in tree} == {root, child}
    # Before 1.14 the tree is not shown; before 1.20 a create answers 201 with Location only.
    assert "root_provider_uuid" not in placement("GET", f"/resource_providers/{child}", version="1.13").json()
    r = placement("POST", "/resource_providers", {"name": f"old-{new_uuid()}"}, version="1.19")
    assert r.status_code == 201 and not r.content and "/placement/resource_providers/" in r.headers["location"]
    error(placement("DELETE", f"/resource_providers/{root}"), 409, "placement.resource_provider.cannot_delete_parent")
    r = placement("PUT", f"/resource_providers/{child}", {"name": "renamed-child"})
    assert r.status_code == 200 and r.json()["name"] == "renamed-child" and r.json()["generation"] == 0
    error(placement("POST", "/resource_providers", {"name": "renamed-child"}), 409, "placement.duplicate_name")
    assert placement("DELETE", f"/resource_providers/{child}").status_code == 204
    assert placement("DELETE", f"/resource_providers/{root}").status_code == 204
    error(placement("GET", f"/resource_providers/{root}"), 404, "placement.resource_provider.not_found")


def test_provider_list_filters(placement: Placement) -> None:
    rp, other = placement.provider(VCPU=4), placement.provider(VCPU=2)
    agg = new_uuid()
    assert placement("PUT", f"/resource_providers/{rp}/aggregates", {
        "aggregates": [agg], "resource_provider_generation": 1}).status_code == 200

    def found(query: str) -> set[str]:
        r = placement("GET", f"/resource_providers?{query}")
        assert r.status_code == 200, r.text
        return {p["uuid"] for p in r.json()["resource_providers"]}

    assert rp in found("resources=VCPU:3") and other not in found("resources=VCPU:3")
    assert found(f"member_of={agg}") == {rp}
    assert found(f"member_of=in:{agg},{new_uuid()}") == {rp}
    assert rp not in found(f"member_of=!{agg}") and other in found(f"member_of=!{agg}")
    assert found(f"uuid={other}") == {other}
    error(placement("GET", "/resource_providers?member_of=bad"), 400, "placement.query.bad_value")
    error(placement("GET", "/resource_providers?resources=NOT_A_CLASS:1"), 400)
    error(placement("GET", "/resource_providers?required=CUSTOM_NOT_THERE"), 400)
    error(placement("GET", f"/resource_providers?member_of={agg}&member_of={agg}", version="1.23"), 400)


def test_inventories_check_generation_and_limits(placement: Placement) -> None:
    rp = placement.provider(VCPU=8)
    path = f"/resource_providers/{rp}/inventories"
    stale = {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 4}}}
    error(placement("PUT", path, stale), 409, "placement.concurrent_update")
    r = placement("PUT", path, {"resource_provider_generation": 1, "inventories": {
        "VCPU": {"total": 8, "allocation_ratio": 2.0, "max_unit": 4},
        "MEMORY_MB": {"total": 2048, "reserved": 512, "step_size": 256}}})
    assert r.status_code == 200, r.text
    inv = r.json()
    assert inv["resource_provider_generation"] == 2
    assert inv["inventories"]["MEMORY_MB"] == {"total": 2048, "reserved": 512, "min_unit": 1,
                                               "max_unit": 2147483647, "step_size": 256, "allocation_ratio": 1.0}
    r = placement("POST", path, {"resource_class": "DISK_GB", "total": 100, "resource_provider_generation": 2})
    assert r.status_code == 201 and r.headers["location"].endswith("/inventories/DISK_GB")
    assert placement("GET", f"{path}/DISK_GB").json()["resource_provider_generation"] == 3
    error(placement("PUT", path, {"resource_provider_generation": 3, "inventories": {"NOT_A_CLASS": {"total": 1}}}),
          400)
    error(placement("PUT", path, {"resource_provider_generation": 3, "inventories": {"VCPU": {"total": 0}}}), 400)
    error(placement("PUT", f"{path}/VCPU", {"resource_provider_generation": 3, "total": 4, "reserved": 5}), 400)
    # reserved == total is allowed from 1.26 only
    error(placement("PUT", f"{path}/VCPU", {"resource_provider_generation": 3, "total": 4, "reserved": 4},
                    version="1.25"), 400)
    assert placement("PUT", f"{path}/VCPU", {"resource_provider_generation": 3, "total": 8, "reserved": 0,
                                             "allocation_ratio": 2.0, "max_unit": 4}).status_code == 200
    # Allocated inventory cannot go away.
    assert placement.claim(new_uuid(), {rp: {"VCPU": 2}}).status_code == 204
    gen = placement("GET", path).json()["resource_provider_generation"]
    error(placement("DELETE", f"{path}/VCPU"), 409, "placement.inventory.inuse")
    error(placement("PUT", path, {"resource_provider_generation": gen, "inventories": {}}), 409,
          "placement.inventory.inuse")
    assert placement("DELETE", f"{path}/DISK_GB").status_code == 204


def test_allocations_with_consumer_generations_and_usages(placement: Placement) -> None:
    rp = placement.provider(VCPU=4, MEMORY_MB=1024)
    consumer, project = new_uuid(), new_uuid()
    assert placement.claim(consumer, {rp: {"VCPU": 2, "MEMORY_MB": 512}}, project=project).status_code == 204
    got = placement("GET", f"/allocations/{consumer}").json()
    assert got["allocations"][rp]["resources"] == {"VCPU": 2, "MEMORY_MB": 512}
    assert got["consumer_generation"] == 1 and got["project_id"] == project
    # A second write must name the generation it read.
    error(placement.claim(consumer, {rp: {"VCPU": 1}}, generation=None, project=project), 409,
          "placement.concurrent_update")
    assert placement.claim(consumer, {rp: {"VCPU": 1}}, generation=1, project=project).status_code == 204
    usage = placement("GET", f"/resource_providers/{rp}/usages").json()
    assert usage["usages"] == {"VCPU": 1, "MEMORY_MB": 0}
    assert placement("GET", f"/usages?project_id={project}").json()["usages"] == {"VCPU": 1}
    assert placement("GET", f"/resource_providers/{rp}/allocations").json()["allocations"] == {
        consumer: {"resources": {"VCPU": 1}}}
    # Capacity, constraints, unknown providers and classes.
    error(placement.claim(new_uuid(), {rp: {"VCPU": 4}}), 409)
    error(placement.claim(new_uuid(), {rp: {"DISK_GB": 1}}), 409)
    error(placement.claim(new_uuid(), {new_uuid(): {"VCPU": 1}}), 400)
    error(placement.claim(new_uuid(), {rp: {"CUSTOM_NOPE": 1}}), 400)
    error(placement("PUT", f"/allocations/{consumer}", {"allocations": {rp: {"resources": {"VCPU": 1}}}}), 400)
    error(placement("PUT", "/allocations/not-a-uuid", {}), 400)
    # An empty allocation (1.28) removes the consumer; DELETE of nothing is 404.
    r = placement("PUT", f"/allocations/{consumer}", {"allocations": {}, "project_id": project, "user_id": "u",
                                                       "consumer_generation": 2})
    assert r.status_code == 204, r.text
    assert placement("GET", f"/allocations/{consumer}").json() == {"allocations": {}}
    error(placement("DELETE", f"/allocations/{consumer}"), 404)


def test_post_allocations_is_atomic_over_consumers(placement: Placement) -> None:
    rp = placement.provider(VCPU=4)
    a, b = new_uuid(), new_uuid()

    def body(n_a: int, n_b: int) -> dict[str, object]:
        return {c: {"allocations": {rp: {"resources": {"VCPU": n}}}, "project_id": "p", "user_id": "u",
                    "consumer_generation": None} for c, n in ((a, n_a), (b, n_b))}

    error(placement("POST", "/allocations", body(3, 3)), 409)  # together over capacity: neither is written
    assert placement("GET", f"/allocations/{a}").json()["allocations"] == {}
    assert placement("POST", "/allocations", body(2, 2)).status_code == 204
    assert placement("GET", f"/resource_providers/{rp}/usages").json()["usages"] == {"VCPU": 4}
    # A migration-style move: one consumer's allocation handed to another, in one request.
    move = {a: {"allocations": {}, "project_id": "p", "user_id": "u", "consumer_generation": 1},
            b: {"allocations": {rp: {"resources": {"VCPU": 4}}}, "project_id": "p", "user_id": "u",
                "consumer_generation": 1}}
    assert placement("POST", "/allocations", move).status_code == 204
    assert placement("GET", f"/resource_providers/{rp}/allocations").json()["allocations"] == {
        b: {"resources": {"VCPU": 4}}}


def test_concurrent_claims_never_exceed_capacity(placement: Placement) -> None:
    rp = placement.provider(VCPU=5)
    results: list[int] = []
    lock = threading.Lock()

    def claim() -> None:
        r = placement.claim(new_uuid(), {rp: {"VCPU": 1}})
        with lock:
            results.append(r.status_code)

    threads = [threading.Thread(target=claim) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [204] * 5 + [409] * 7
    assert placement("GET", f"/resource_providers/{rp}/usages").json()["usages"] == {"VCPU": 5}


def test_allocation_candidates(placement: Placement) -> None:
    agg = new_uuid()
    placement("PUT", f"/traits/CUSTOM_FAST_{agg[:8].upper()}")
    fast = f"CUSTOM_FAST_{agg[:8].upper()}"
    small = placement.provider(VCPU=2, MEMORY_MB=1024)
    big = placement.provider(VCPU=16, MEMORY_MB=8192)
    r = placement("PUT", f"/resource_providers/{big}/traits", {"traits": [fast], "resource_provider_generation": 1})
    assert r.status_code == 200 and r.json()["resource_provider_generation"] == 2
    r = placement("PUT", f"/resource_providers/{big}/aggregates", {"aggregates": [agg],
                                                                   "resource_provider_generation": 2})
    assert r.status_code == 200 and r.json() == {"aggregates": [agg], "resource_provider_generation": 3}

    def candidates(query: str, version: str = "1.35") -> dict[str, object]:
        r = placement("GET", f"/allocation_candidates?{query}", version=version)
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body

    def providers(body: dict[str, object]) -> set[str]:
        return {rp for req in body["allocation_requests"] for rp in req["allocations"]}  # type: ignore[attr-defined]

    both = candidates("resources=VCPU:2,MEMORY_MB:512")
    assert {small, big} <= providers(both)
    summary = both["provider_summaries"][big]  # type: ignore[index]
    assert summary["resources"]["VCPU"] == {"capacity": 16, "used": 0} and summary["traits"] == [fast]
    assert providers(candidates("resources=VCPU:4")) >= {big} and small not in providers(candidates("resources=VCPU:4"))
    assert providers(candidates(f"resources=VCPU:1&required={fast}")) == {big}
    assert big not in providers(candidates(f"resources=VCPU:1&required=!{fast}"))
    assert providers(candidates(f"resources=VCPU:1&member_of={agg}")) == {big}
    assert providers(candidates(f"resources=VCPU:1&in_tree={small}")) == {small}
    assert len(candidates("resources=VCPU:1&limit=1")["allocation_requests"]) == 1  # type: ignore[arg-type]
    old = candidates("resources=VCPU:1", version="1.11")["allocation_requests"]
    assert {"allocations": [{"resource_provider": {"uuid": small}, "resources": {"VCPU": 1}}]} in old  # type: ignore[operator]
    error(placement("GET", f"/allocation_candidates?resources=VCPU:1&in_tree={small}", version="1.30"), 400)
    error(placement("GET", "/allocation_candidates?resources=VCPU:x"), 400, "placement.query.bad_value")
    error(placement("GET", "/allocation_candidates?resources=CUSTOM_NOPE:1"), 400)
    error(placement("GET", "/allocation_candidates?resources=VCPU:1&required=CUSTOM_NOPE"), 400)
    error(placement("GET", "/allocation_candidates?resources=VCPU:1&bogus=1"), 400)
    # Claiming what a candidate offered works, the full host is then no longer a candidate.
    req: Any = candidates(f"resources=VCPU:2&in_tree={small}")["allocation_requests"]
    offered = {rp: v["resources"] for rp, v in req[0]["allocations"].items()}
    assert placement.claim(new_uuid(), offered).status_code == 204
    assert candidates(f"resources=VCPU:1&in_tree={small}")["allocation_requests"] == []


def test_nested_sharing_and_granular_candidates(placement: Placement) -> None:
    agg = new_uuid()
    host = placement.provider(VCPU=8, MEMORY_MB=4096)
    numa0 = placement.provider(parent=host, VCPU=4)
    numa1 = placement.provider(parent=host, VCPU=4)
    disk = placement.provider(DISK_GB=1000)
    assert placement("PUT", f"/resource_providers/{disk}/traits", {
        "traits": ["MISC_SHARES_VIA_AGGREGATE"], "resource_provider_generation": 1}).status_code == 200
    for rp in (disk, host):
        gen = placement("GET", f"/resource_providers/{rp}").json()["generation"]
        assert placement("PUT", f"/resource_providers/{rp}/aggregates", {
            "aggregates": [agg], "resource_provider_generation": gen}).status_code == 200
    r = placement("GET", f"/allocation_candidates?resources=VCPU:2,MEMORY_MB:1024,DISK_GB:50&in_tree={host}")
    assert r.status_code == 200, r.text
    allocs = [req["allocations"] for req in r.json()["allocation_requests"]]
    # VCPU from the host or either NUMA node, memory from the host, disk from the sharing provider.
    assert {next(rp for rp, v in a.items() if "VCPU" in v["resources"]) for a in allocs} == {host, numa0, numa1}
    assert all(a[disk]["resources"] == {"DISK_GB": 50} for a in allocs)
    assert r.json()["provider_summaries"][numa0]["parent_provider_uuid"] == host
    # Granular: two groups of 3 VCPU each, isolated, can only be the two NUMA nodes... or host.
    r = placement("GET", f"/allocation_candidates?resources1=VCPU:3&resources2=VCPU:3&group_policy=isolate"
                         f"&in_tree1={host}&in_tree2={host}")
    assert r.status_code == 200, r.text
    for req in r.json()["allocation_requests"]:
        assert set(req["mappings"]) == {"1", "2"} and req["mappings"]["1"] != req["mappings"]["2"]
    error(placement("GET", "/allocation_candidates?resources1=VCPU:1&resources2=VCPU:1"), 400,
          "placement.query.missing_value")


def test_resource_classes_and_traits(placement: Placement) -> None:
    names = {c["name"] for c in placement("GET", "/resource_classes").json()["resource_classes"]}
    assert {"VCPU", "MEMORY_MB", "DISK_GB"} <= names
    rc = f"CUSTOM_GPU_{new_uuid()[:8].upper()}"
    assert placement("PUT", f"/resource_classes/{rc}").status_code == 201
    assert placement("PUT", f"/resource_classes/{rc}").status_code == 204
    error(placement("POST", "/resource_classes", {"name": rc}), 409, "placement.duplicate_name")
    error(placement("POST", "/resource_classes", {"name": "GPU"}), 400)
    error(placement("DELETE", "/resource_classes/VCPU"), 400)
    rp = placement.provider(inventory={rc: 2})
    error(placement("DELETE", f"/resource_classes/{rc}"), 409)
    assert placement("DELETE", f"/resource_providers/{rp}").status_code == 204
    assert placement("DELETE", f"/resource_classes/{rc}").status_code == 204
    assert placement("GET", "/traits/HW_CPU_X86_AVX2").status_code == 204
    error(placement("PUT", "/traits/NOT_CUSTOM"), 400)
    error(placement("DELETE", "/traits/HW_CPU_X86_AVX2"), 400)
    trait = f"CUSTOM_T_{new_uuid()[:8].upper()}"
    assert placement("PUT", f"/traits/{trait}").status_code == 201
    assert placement("GET", f"/traits?name=in:{trait},HW_CPU_X86_AVX2").json()["traits"] == sorted(
        [trait, "HW_CPU_X86_AVX2"])
    rp = placement.provider()
    assert placement("PUT", f"/resource_providers/{rp}/traits", {"traits": [trait],
                                                                 "resource_provider_generation": 0}).status_code == 200
    assert trait in placement("GET", "/traits?associated=true").json()["traits"]
    assert placement("GET", f"/resource_providers?required={trait}").json()["resource_providers"][0]["uuid"] == rp
    error(placement("DELETE", f"/traits/{trait}"), 409)
    assert placement("DELETE", f"/resource_providers/{rp}/traits").status_code == 204
    assert placement("DELETE", f"/traits/{trait}").status_code == 204


def test_reshaper_moves_inventory_and_allocations_atomically(cloud: RunningCloud, placement: Placement) -> None:
    assert placement("PUT", "/resource_classes/CUSTOM_RESHAPE").status_code in (201, 204)
    host = placement.provider(VCPU=4, CUSTOM_RESHAPE=8)
    child = placement.provider(parent=host)
    consumer = new_uuid()
    assert placement.claim(consumer, {host: {"VCPU": 1, "CUSTOM_RESHAPE": 2}}).status_code == 204
    hgen = placement("GET", f"/resource_providers/{host}").json()["generation"]
    body = {"inventories": {
        host: {"resource_provider_generation": hgen, "inventories": {"VCPU": {"total": 4}}},
        child: {"resource_provider_generation": 0, "inventories": {"CUSTOM_RESHAPE": {"total": 8}}}},
        "allocations": {consumer: {"allocations": {host: {"resources": {"VCPU": 1}},
                                                   child: {"resources": {"CUSTOM_RESHAPE": 2}}},
                                   "project_id": "p", "user_id": "u", "consumer_generation": 1}}}
    # The reshaper is the service role's (as placement's default), not the admin's.
    error(placement("POST", "/reshaper", body), 403)
    svc = Placement(placement.url, service_token(cloud))
    assert svc("POST", "/reshaper", body).status_code == 204
    assert placement("GET", f"/resource_providers/{child}/usages").json()["usages"] == {"CUSTOM_RESHAPE": 2}
    assert placement("GET", f"/resource_providers/{host}/usages").json()["usages"] == {"VCPU": 1}


def test_errors_are_placement_shaped_and_policy_applies(cloud: RunningCloud, placement: Placement) -> None:
    err = error(placement("POST", "/resource_providers", content=b"{not json",
                          headers={"Content-Type": "application/json"}), 400)
    assert err["code"] == "placement.undefined_code" and err["title"] == "Bad Request"
    error(placement("POST", "/resource_providers", {"name": "x", "bogus": 1}), 400)
    error(placement("POST", "/resource_providers", {"name": "x" * 201}), 400)
    assert "code" not in placement("GET", f"/resource_providers/{new_uuid()}", version="1.22").json()["errors"][0]
    error(placement("DELETE", "/resource_providers"), 405)
    # A member (the demo user) may neither read nor write providers; a reader sees its own usages only.
    member = Placement(placement.url, cloud.sdk("litestack").auth_token)
    error(member("GET", "/resource_providers"), 403)
    error(member("POST", "/resource_providers", {"name": "nope"}), 403)
    own = cloud.sdk("litestack").current_project_id
    assert member("GET", f"/usages?project_id={own}").status_code == 200
    error(member("GET", f"/usages?project_id={new_uuid()}"), 403)


def test_same_subtree_and_resourceless_groups(placement: Placement) -> None:
    """1.36: groups whose providers must share a subtree, and groups that only name traits."""
    vf = f"CUSTOM_VF_{new_uuid()[:8].upper()}"
    mark = f"CUSTOM_MARK_{new_uuid()[:8].upper()}"
    assert placement("PUT", f"/resource_classes/{vf}").status_code == 201
    assert placement("PUT", f"/traits/{mark}").status_code == 201
    host = placement.provider()
    numa0, numa1 = placement.provider(parent=host, VCPU=4), placement.provider(parent=host, VCPU=4)
    nic0, nic1 = placement.provider(parent=numa0, inventory={vf: 4}), placement.provider(parent=numa1,
                                                                                        inventory={vf: 4})
    assert placement("PUT", f"/resource_providers/{numa0}/traits", {
        "traits": [mark], "resource_provider_generation": 1}).status_code == 200
    q = (f"/allocation_candidates?resources_CPU=VCPU:2&resources_NIC={vf}:1&group_policy=none&in_tree_CPU={host}"
         "&same_subtree=_CPU,_NIC")
    r = placement("GET", q, version="1.36")
    assert r.status_code == 200, r.text
    pairs = {(req["mappings"]["_CPU"][0], req["mappings"]["_NIC"][0]) for req in r.json()["allocation_requests"]}
    assert pairs == {(numa0, nic0), (numa1, nic1)}
    r = placement("GET", q + f"&required_MARK={mark}&same_subtree=_MARK,_CPU", version="1.36")
    assert r.status_code == 200, r.text
    assert [req["mappings"]["_MARK"] for req in r.json()["allocation_requests"]] == [[numa0]]
    error(placement("GET", q + f"&required_MARK={mark}", version="1.36"), 400)  # resourceless, not in a subtree
    error(placement("GET", q, version="1.35"), 400)  # same_subtree is 1.36


def test_reparenting_consumer_types_and_any_traits(placement: Placement) -> None:
    """1.37 re-parenting, 1.38 consumer types and usages by type, 1.39 ``in:`` in required."""
    a, b = placement.provider(VCPU=8), placement.provider()
    child = placement.provider(parent=a)
    error(placement("PUT", f"/resource_providers/{child}", {"name": "c", "parent_provider_uuid": b}), 400)
    r = placement("PUT", f"/resource_providers/{child}", {"name": "c-" + child[:8], "parent_provider_uuid": b},
                  version="1.37")
    assert r.status_code == 200 and r.json()["root_provider_uuid"] == b, r.text
    r = placement("PUT", f"/resource_providers/{child}", {"name": "c-" + child[:8], "parent_provider_uuid": None},
                  version="1.37")
    assert r.status_code == 200 and r.json()["root_provider_uuid"] == child, r.text

    project, consumer = new_uuid(), new_uuid()
    body = {"allocations": {a: {"resources": {"VCPU": 2}}}, "project_id": project, "user_id": "u",
            "consumer_generation": None}
    error(placement("PUT", f"/allocations/{consumer}", body, version="1.38"), 400)  # consumer_type is required
    assert placement("PUT", f"/allocations/{consumer}", {**body, "consumer_type": "INSTANCE"},
                     version="1.38").status_code == 204
    assert placement.claim(new_uuid(), {a: {"VCPU": 1}}, project=project).status_code == 204  # no type
    assert placement("GET", f"/allocations/{consumer}", version="1.38").json()["consumer_type"] == "INSTANCE"
    by_type = placement("GET", f"/usages?project_id={project}", version="1.38").json()["usages"]
    assert by_type == {"INSTANCE": {"VCPU": 2, "consumer_count": 1}, "unknown": {"VCPU": 1, "consumer_count": 1}}
    assert placement("GET", f"/usages?project_id={project}&consumer_type=all", version="1.38").json()[
        "usages"] == {"all": {"VCPU": 3, "consumer_count": 2}}
    assert placement("GET", f"/usages?project_id={project}", version="1.37").json()["usages"] == {"VCPU": 3}

    trait = f"CUSTOM_ANY_{new_uuid()[:8].upper()}"
    assert placement("PUT", f"/traits/{trait}").status_code == 201
    gen = placement("GET", f"/resource_providers/{a}").json()["generation"]
    assert placement("PUT", f"/resource_providers/{a}/traits", {
        "traits": [trait], "resource_provider_generation": gen}).status_code == 200
    found = placement("GET", f"/resource_providers?required=in:{trait},HW_CPU_X86_AVX512F", version="1.39")
    assert [p["uuid"] for p in found.json()["resource_providers"]] == [a]
    r = placement("GET", f"/allocation_candidates?resources=VCPU:1&required=in:{trait},HW_CPU_X86_AVX512F",
                  version="1.39")
    assert [list(req["allocations"]) for req in r.json()["allocation_requests"]] == [[a]]
    error(placement("GET", f"/resource_providers?required=in:{trait}", version="1.38"), 400)
