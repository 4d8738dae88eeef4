"""Multi-segment networks (``multi-provider``) and segments (``segment``, ``/v2.0/segments``) through
the real ``openstack`` CLI, openstacksdk and raw HTTP: networks made of several segments, segments
added to and removed from a network (race-free ids, given back on delete), subnets on segments
with Neutron's all-or-none rule, a segment in use, and the admin-only policy."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import RunningCloud
from tests.functional.network.neutron import Neutron, neutron_error, unique

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str, cloud_name: str = "litestack-admin") -> dict:
    out = cloud.openstack(*args, "-f", "json", cloud=cloud_name)
    return json.loads(out.stdout)


def seg(ntype: str, physnet: str | None = None, seg_id: int | None = None) -> dict[str, object]:
    return {"provider:network_type": ntype, "provider:physical_network": physnet, "provider:segmentation_id": seg_id}


def test_extensions_are_listed(neutron: Neutron) -> None:
    aliases = {e["alias"] for e in neutron.get("/extensions").json()["extensions"]}
    assert {"multi-provider", "segment", "standard-attr-segment", "subnet-segmentid-writable"} <= aliases
    assert neutron.get("/extensions/segment").json()["extension"]["name"] == "Segment"


def test_a_network_of_several_segments_shows_them_instead_of_the_provider_attributes(neutron: Neutron) -> None:
    net = neutron.network(neutron.admin, segments=[seg("vlan", "physnet2", 2101), seg("vxlan", None, 7001)])
    assert net["segments"] == [seg("vlan", "physnet2", 2101), seg("vxlan", None, 7001)]
    assert not {"provider:network_type", "provider:physical_network", "provider:segmentation_id"} & set(net)
    assert net["mtu"] == 1450  # the smallest of its segments' MTUs (VXLAN's)
    shown = neutron.get(f"/networks/{net['id']}", neutron.admin).json()["network"]
    assert shown["segments"] == net["segments"]
    # The provider filters find a network by any of its segments.
    found = neutron.get("/networks", neutron.admin, params={"provider:segmentation_id": 7001}).json()["networks"]
    assert [n["id"] for n in found] == [net["id"]]
    # Both segments hold their ids: a provider network on either is refused.
    neutron_error(neutron.post("/networks", {"network": seg("vlan", "physnet2", 2101)}, neutron.admin),
                  409, "VlanIdInUse")
    neutron_error(neutron.post("/networks", {"network": seg("vxlan", None, 7001)}, neutron.admin),
                  409, "TunnelIdInUse")
    # Partial segments are completed from the ranges; one segment is shown the classic way.
    partial = neutron.network(neutron.admin, segments=[seg("vlan", "public"), seg("vxlan")])
    (vlan, vxlan) = partial["segments"]
    assert 100 <= vlan["provider:segmentation_id"] <= 199 and 1000 <= vxlan["provider:segmentation_id"] <= 1999
    single = neutron.network(neutron.admin, segments=[seg("gre", None, 30001)])
    assert single["provider:network_type"] == "gre" and "segments" not in single
    # Deleting the network gives every id back.
    assert neutron.delete(f"/networks/{net['id']}", neutron.admin).status_code == 204
    again = neutron.network(neutron.admin, segments=[seg("vxlan", None, 7001), seg("vlan", "physnet2", 2101)])
    assert [s["provider:segmentation_id"] for s in again["segments"]] == [7001, 2101]


def test_bad_segment_combinations_are_refused_with_neutrons_errors(neutron: Neutron) -> None:
    admin = neutron.admin
    both = {"network": {**seg("vxlan", None, 7002), "segments": [seg("vxlan", None, 7003)]}}
    neutron_error(neutron.post("/networks", both, admin), 400, "SegmentsSetInConjunctionWithProviders",
                  "Segments and provider values cannot both be set.")
    dup = {"network": {"segments": [seg("vlan", "physnet2", 2102), seg("vlan", "physnet2", 2102)]}}
    neutron_error(neutron.post("/networks", dup, admin), 400, "SegmentsContainDuplicateEntry",
                  "Duplicate segment entry in request.")
    neutron_error(neutron.post("/networks", {"network": {"segments": [seg("vxlan", "physnet2", 7004)]}}, admin),
                  400, "InvalidInput", "provider:physical_network specified for vxlan network")
    neutron_error(neutron.post("/networks", {"network": {"segments": [{"provider:physical_network": "x"}]}}, admin),
                  400, "InvalidInput", "network_type required")
    neutron_error(neutron.post("/networks", {"network": {"segments": [{"network_type": "vxlan"}]}}, admin),
                  400, "HTTPBadRequest", "Unrecognized attribute(s) 'network_type'")
    neutron_error(neutron.post("/networks", {"network": {"segments": ["vxlan"]}}, admin), 400, "HTTPBadRequest")
    neutron_error(neutron.post("/networks", {"network": {"segments": "vxlan"}}, admin), 400, "HTTPBadRequest")
    # A failed create holds nothing: the first segment's id is free again.
    taken = {"network": {"segments": [seg("vlan", "physnet2", 2103), seg("vlan", "physnet2", 2101)]}}
    neutron_error(neutron.post("/networks", taken, admin), 409, "VlanIdInUse")
    assert neutron.network(admin, **seg("vlan", "physnet2", 2103))["provider:segmentation_id"] == 2103
    # Segments cannot be changed through the network, and only the admin sets or sees them.
    net = neutron.network(admin, segments=[seg("vxlan", None, 7005), seg("gre", None, 30002)])
    neutron_error(neutron.put(f"/networks/{net['id']}", {"network": {"segments": [seg("vxlan", None, 7006)]}},
                              admin), 400, "InvalidInput")
    r = neutron.post("/networks", {"network": {"name": unique("m"), "segments": [seg("vxlan", None, 7007)]}})
    assert r.status_code == 403, r.text
    shared = neutron.network(admin, shared=True, segments=[seg("vxlan", None, 7008), seg("gre", None, 30003)])
    seen = neutron.get(f"/networks/{shared['id']}").json()["network"]
    assert "segments" not in seen and "provider:network_type" not in seen


def test_segments_crud_through_the_cli(neutron: Neutron, cloud: RunningCloud) -> None:
    net = cli_json(cloud, "network", "create", "--provider-network-type", "vxlan", "--provider-segment", "7010",
                   unique("cli"))
    listed = cli_json(cloud, "network", "segment", "list", "--network", net["id"])
    assert [(s["Network Type"], s["Segment"]) for s in listed] == [("vxlan", 7010)]
    name = unique("seg")
    made = cli_json(cloud, "network", "segment", "create", "--network", net["id"], "--network-type", "vlan",
                    "--physical-network", "physnet2", "--segment", "2110", "--description", "second", name)
    assert (made["network_type"], made["segmentation_id"], made["physical_network"]) == ("vlan", 2110, "physnet2")
    assert made["name"] == name and made["description"] == "second" and made["network_id"] == net["id"]
    shown = cli_json(cloud, "network", "segment", "show", name)
    assert shown["id"] == made["id"]
    cloud.openstack("network", "segment", "set", "--name", name + "-x", "--description", "renamed", made["id"],
                    cloud="litestack-admin")
    shown = cli_json(cloud, "network", "segment", "show", made["id"])
    assert (shown["name"], shown["description"], shown["revision_number"]) == (name + "-x", "renamed", 1)
    # The network now has two segments (and keeps the MTU of the smaller one).
    network = neutron.get(f"/networks/{net['id']}", neutron.admin).json()["network"]
    assert network["segments"] == [seg("vxlan", None, 7010), seg("vlan", "physnet2", 2110)]
    assert network["mtu"] == 1450
    # A subnet on the new segment (openstack subnet create --network-segment).
    sub = cli_json(cloud, "subnet", "create", "--network", net["id"], "--network-segment", made["id"],
                   "--subnet-range", "10.77.0.0/24", unique("sub"))
    assert sub["segment_id"] == made["id"]
    listed = cli_json(cloud, "subnet", "list", "--network", net["id"], "--long")
    assert [s["ID"] for s in listed] == [sub["id"]]
    # In use: refused with Neutron's SegmentInUse, then free once the subnet is gone.
    r = neutron.delete(f"/segments/{made['id']}", neutron.admin)
    neutron_error(r, 409, "SegmentInUse", f"Segment '{made['id']}' cannot be deleted: The segment is still "
                                          f"associated with subnet(s) {sub['id']}.")
    cloud.openstack("subnet", "delete", sub["id"], cloud="litestack-admin")
    cloud.openstack("network", "segment", "delete", made["id"], cloud="litestack-admin")
    neutron_error(neutron.get(f"/segments/{made['id']}", neutron.admin), 404, "SegmentNotFound")
    network = neutron.get(f"/networks/{net['id']}", neutron.admin).json()["network"]
    assert network["provider:segmentation_id"] == 7010 and "segments" not in network
    # Its VLAN was given back.
    assert neutron.network(neutron.admin, **seg("vlan", "physnet2", 2110))["provider:segmentation_id"] == 2110


def test_segments_through_the_sdk(cloud: RunningCloud) -> None:
    conn = cloud.sdk("litestack-admin")
    net = conn.network.create_network(name=unique("sdk"), provider_network_type="vxlan",
                                      provider_segmentation_id=7020)
    (first,) = list(conn.network.segments(network_id=net.id))
    assert (first.network_type, first.segmentation_id, first.name) == ("vxlan", 7020, None)
    second = conn.network.create_segment(network_id=net.id, network_type="vlan", physical_network="public",
                                         name="rack2")
    assert 100 <= second.segmentation_id <= 199 and second.physical_network == "public"
    assert conn.network.get_segment(second.id).name == "rack2"
    assert conn.network.update_segment(second, description="second rack").description == "second rack"
    assert {s.id for s in conn.network.segments(network_id=net.id)} == {first.id, second.id}
    assert [s.id for s in conn.network.segments(network_id=net.id, network_type="vlan")] == [second.id]
    subnet = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.78.0.0/24", segment_id=second.id)
    assert subnet.segment_id == second.id
    # All subnets of a network on segments, or none.
    from openstack import exceptions

    with pytest.raises(exceptions.BadRequestException, match="must either all be associated with segments"):
        conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.79.0.0/24")
    other = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.79.0.0/24", segment_id=first.id)
    # Subnets on segments: a routed network, not one L2 domain (the SDK has no attribute for it).
    raw = conn.network.get(f"/networks/{net.id}").json()["network"]
    assert raw["l2_adjacency"] is False and raw["segments"][1]["provider:network_type"] == "vlan"
    conn.network.delete_subnet(subnet)
    conn.network.delete_subnet(other)
    conn.network.delete_segment(second)
    assert [s.id for s in conn.network.segments(network_id=net.id)] == [first.id]
    conn.network.delete_network(net)


def test_subnet_segment_rules_and_bad_segments(neutron: Neutron) -> None:
    admin = neutron.admin
    net = neutron.network(admin, segments=[seg("vxlan", None, 7030), seg("gre", None, 30010)])
    other = neutron.network(admin, **seg("vxlan", None, 7031))
    segs = neutron.get("/segments", admin, params={"network_id": net["id"], "sort_key": "segmentation_id"}).json()
    vxlan, gre = segs["segments"]
    assert (vxlan["network_type"], gre["network_type"]) == ("vxlan", "gre")
    assert set(gre) == {"id", "network_id", "name", "description", "network_type", "physical_network",
                        "segmentation_id", "revision_number", "created_at", "updated_at"}
    plain = neutron.subnet(net["id"], "10.80.0.0/24", admin)
    assert plain["segment_id"] is None
    r = neutron.post("/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.81.0.0/24", "ip_version": 4,
                                             "segment_id": vxlan["id"]}}, admin)
    neutron_error(r, 400, "SubnetsNotAllAssociatedWithSegments",
                  f"All of the subnets on network '{net['id']}' must either all be associated with segments")
    r = neutron.post("/subnets", {"subnet": {"network_id": other["id"], "cidr": "10.82.0.0/24", "ip_version": 4,
                                             "segment_id": vxlan["id"]}}, admin)
    neutron_error(r, 400, "NetworkIdsDontMatch", f"doesn't match the network_id of segment '{vxlan['id']}'")
    r = neutron.post("/subnets", {"subnet": {"network_id": other["id"], "cidr": "10.82.0.0/24", "ip_version": 4,
                                             "segment_id": "0f6fe4a5-0000-4000-8000-000000000000"}}, admin)
    neutron_error(r, 404, "SegmentNotFound")
    r = neutron.put(f"/subnets/{plain['id']}", {"subnet": {"segment_id": vxlan["id"]}}, admin)
    neutron_error(r, 400, "NoUpdateSubnetWhenMultipleSegmentsOnNetwork",
                  f"The network '{net['id']}' has multiple segments")
    # Segments: Neutron's validation, unknown networks, read-only attributes.
    bad = [({"network_id": net["id"]}, 400, "HTTPBadRequest"),
           ({"network_type": "vxlan"}, 400, "HTTPBadRequest"),
           ({"network_id": net["id"], "network_type": "vxlan", "segmentation_id": 2**24}, 400, "InvalidInput"),
           ({"network_id": net["id"], "network_type": "flat"}, 400, "InvalidInput"),
           ({"network_id": net["id"], "network_type": "bogus"}, 400, "InvalidInput"),
           ({"network_id": net["id"], "network_type": "vxlan", "segmentation_id": 7030}, 409, "TunnelIdInUse"),
           ({"network_id": net["id"], "network_type": "vxlan", "segmentation_id": "x"}, 400, "HTTPBadRequest"),
           ({"network_id": net["id"], "network_type": "vxlan", "colour": "red"}, 400, "HTTPBadRequest"),
           ({"network_id": "0f6fe4a5-0000-4000-8000-000000000000", "network_type": "vxlan"}, 404,
            "NetworkNotFound")]
    for body, status, etype in bad:
        neutron_error(neutron.post("/segments", {"segment": body}, admin), status, etype)
    neutron_error(neutron.put(f"/segments/{gre['id']}", {"segment": {"segmentation_id": 30011}}, admin), 400,
                  "HTTPBadRequest", "Cannot update read-only attribute segmentation_id")
    neutron_error(neutron.get("/segments/nope", admin), 404, "SegmentNotFound")
    # Adding a VLAN segment (MTU 1500) to a network at 1450 is fine; its MTU stays the smallest.
    vlan = neutron.create("segments", "segment", {"network_id": net["id"], "network_type": "vlan",
                                                  "physical_network": "physnet2", "segmentation_id": 2120}, admin)
    assert neutron.get(f"/networks/{net['id']}", admin).json()["network"]["mtu"] == 1450
    # ... but a network at 1500 refuses a segment that cannot carry it, as ML2 does.
    wide = neutron.network(admin, **seg("vlan", "physnet2", 2121))
    r = neutron.post("/segments", {"segment": {"network_id": wide["id"], "network_type": "vxlan"}}, admin)
    neutron_error(r, 400, "InvalidInput", "Requested MTU is too big, maximum is 1450")
    assert neutron.delete(f"/segments/{vlan['id']}", admin).status_code == 204


def test_segments_are_the_admins(neutron: Neutron) -> None:
    admin = neutron.admin
    net = neutron.network(admin, shared=True, **seg("vxlan", None, 7040))
    (mine,) = neutron.get("/segments", admin, params={"network_id": net["id"]}).json()["segments"]
    for token in (neutron.demo, neutron.reader):
        assert neutron.get("/segments", token).status_code == 403
        assert neutron.get(f"/segments/{mine['id']}", token).status_code == 403
        r = neutron.post("/segments", {"segment": {"network_id": net["id"], "network_type": "vxlan"}}, token)
        assert r.status_code == 403, r.text
        assert neutron.put(f"/segments/{mine['id']}", {"segment": {"name": "x"}}, token).status_code == 403
        assert neutron.delete(f"/segments/{mine['id']}", token).status_code == 403
    # A member's subnet on the shared network cannot name a segment, and does not see segment ids.
    own = neutron.network()
    r = neutron.post("/subnets", {"subnet": {"network_id": own["id"], "cidr": "10.83.0.0/24", "ip_version": 4,
                                             "segment_id": mine["id"]}})
    assert r.status_code == 403, r.text
    sub = neutron.subnet(own["id"], "10.83.0.0/24")
    assert "segment_id" not in sub
    assert neutron.get(f"/segments/{mine['id']}", admin).json()["segment"]["name"] is None


def test_concurrent_segments_on_one_network_take_distinct_ids(neutron: Neutron) -> None:
    net = neutron.network(neutron.admin, **seg("vlan", "public", 150))

    def add(_: int) -> int:
        r = neutron.post("/segments", {"segment": {"network_id": net["id"], "network_type": "vlan",
                                                   "physical_network": "public"}}, neutron.admin)
        assert r.status_code == 201, r.text
        return int(r.json()["segment"]["segmentation_id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(add, range(8)))
    assert len(set(ids)) == 8 and 150 not in ids
    segs = neutron.get("/segments", neutron.admin, params={"network_id": net["id"]}).json()["segments"]
    assert len(segs) == 9
    assert neutron.delete(f"/networks/{net['id']}", neutron.admin).status_code == 204
    assert neutron.get("/segments", neutron.admin, params={"network_id": net["id"]}).json()["segments"] == []


def test_an_existing_subnet_moves_onto_the_segment_of_its_network(neutron: Neutron, cloud: RunningCloud) -> None:
    """``subnet-segmentid-writable``: the one subnet of a network of one segment goes onto it
    (``openstack subnet set --network-segment``), and then stays there."""
    admin = neutron.admin
    net = neutron.network(admin, **seg("vxlan", None, 7050))
    (only,) = neutron.get("/segments", admin, params={"network_id": net["id"]}).json()["segments"]
    sub = neutron.subnet(net["id"], "10.84.0.0/24", admin)
    r = neutron.put(f"/subnets/{sub['id']}", {"subnet": {"segment_id": only["id"]}}, neutron.demo)
    assert r.status_code in (403, 404), r.text  # the admin's attribute
    cloud.openstack("subnet", "set", "--network-segment", only["id"], sub["id"], cloud="litestack-admin")
    assert neutron.get(f"/subnets/{sub['id']}", admin).json()["subnet"]["segment_id"] == only["id"]
    assert neutron.get(f"/networks/{net['id']}", admin).json()["network"]["l2_adjacency"] is False
    r = neutron.put(f"/subnets/{sub['id']}", {"subnet": {"segment_id": None}}, admin)
    neutron_error(r, 400, "SubnetSegmentAssociationChangeNotAllowed")
    # A second subnet must be on a segment too, and then neither moves.
    second = neutron.subnet(net["id"], "10.85.0.0/24", admin, segment_id=only["id"])
    r = neutron.put(f"/subnets/{second['id']}", {"subnet": {"segment_id": None}}, admin)
    neutron_error(r, 400, "SubnetsNotAllAssociatedWithSegments")
    assert neutron.put(f"/subnets/{second['id']}", {"subnet": {"segment_id": only["id"], "name": "same"}},
                       admin).status_code == 200
