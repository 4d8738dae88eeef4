"""Networks through the real CLI, openstacksdk and raw HTTP: provider types, the project
default, validation with Neutron's messages, visibility, policy-hidden attributes, revisions,
tags, and the generic list behaviour (fields, filters, sorting, pagination)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningCloud
from tests.functional.network.neutron import Neutron, neutron_error, unique

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str, cloud_name: str = "litestack") -> dict:
    out = cloud.openstack(*args, "-f", "json", cloud=cloud_name)
    return json.loads(out.stdout)


def test_version_discovery_and_extensions(neutron: Neutron, cloud: RunningCloud) -> None:
    import httpx

    versions = httpx.get(f"{cloud.url}/networking/").json()["versions"]
    assert [(v["id"], v["status"]) for v in versions] == [("v2.0", "CURRENT")]
    aliases = {e["alias"] for e in neutron.get("/extensions").json()["extensions"]}
    assert {"provider", "external-net", "security-group", "binding", "port-security", "allowed-address-pairs",
            "standard-attr-tag", "revision-if-match", "pagination", "sorting"} <= aliases
    assert {"router", "ext-gw-mode", "extraroute", "quotas", "floating-ip-port-forwarding"} <= aliases
    assert "metering" not in aliases and "dvr" not in aliases  # not implemented: not listed
    assert neutron.get("/extensions/provider").json()["extension"]["name"] == "Provider Network"
    neutron_error(neutron.get("/extensions/metering"), 404, "ExtensionNotFound")


def test_cli_creates_a_network_of_each_provider_type(cloud: RunningCloud) -> None:
    cases = [
        (("--provider-network-type", "local"), ("local", None, None), 1500),
        (("--provider-network-type", "flat", "--provider-physical-network", "flat1"), ("flat", "flat1", None), 1500),
        (("--provider-network-type", "vlan", "--provider-physical-network", "physnet2", "--provider-segment", "42"),
         ("vlan", "physnet2", 42), 1500),
        (("--provider-network-type", "vxlan", "--provider-segment", "5000"), ("vxlan", None, 5000), 1450),
        (("--provider-network-type", "gre", "--provider-segment", "77"), ("gre", None, 77), 1458),
    ]
    for args, (ntype, physnet, seg), mtu in cases:
        net = cli_json(cloud, "network", "create", *args, unique("prov"), cloud_name="litestack-admin")
        assert (net["provider:network_type"], net["provider:physical_network"]) == (ntype, physnet), net
        assert net["provider:segmentation_id"] == seg and net["mtu"] == mtu and net["status"] == "ACTIVE"
    # A partial VLAN segment gets the first free id of the physnet's range.
    net = cli_json(cloud, "network", "create", "--provider-network-type", "vlan", "--provider-physical-network",
                   "public", unique("partial"), cloud_name="litestack-admin")
    assert 100 <= net["provider:segmentation_id"] <= 199


def test_a_project_network_is_vxlan_from_the_range_and_provider_attributes_are_admin_only(
        neutron: Neutron, cloud: RunningCloud) -> None:
    created = cli_json(cloud, "network", "create", unique("tenant"))
    # The member does not see the provider attributes (policy hides them)...
    raw = neutron.get(f"/networks/{created['id']}").json()["network"]
    assert "provider:network_type" not in raw and raw["mtu"] == 1450
    assert raw["project_id"] == raw["tenant_id"] == neutron.demo_project
    # ...the admin does: a VNI of the configured range.
    shown = neutron.get(f"/networks/{created['id']}", neutron.admin).json()["network"]
    assert shown["provider:network_type"] == "vxlan" and 1000 <= shown["provider:segmentation_id"] <= 1999
    # Setting them is admin-only too.
    r = neutron.post("/networks", {"network": {"name": "x", "provider:network_type": "vlan"}})
    neutron_error(r, 403, "PolicyNotAuthorized")
    r = neutron.post("/networks", {"network": {"name": "x", "shared": True}})
    neutron_error(r, 403, "PolicyNotAuthorized")


@pytest.mark.parametrize("body, message", [
    ({"provider:network_type": "flat"}, "physical_network required for flat provider network"),
    ({"provider:network_type": "flat", "provider:physical_network": "nowhere"},
     "physical_network 'nowhere' unknown for flat provider network"),
    ({"provider:network_type": "flat", "provider:physical_network": "flat2", "provider:segmentation_id": 5},
     "segmentation_id prohibited for flat provider network"),
    ({"provider:network_type": "vlan", "provider:physical_network": "public", "provider:segmentation_id": 4095},
     "segmentation_id out of range (1 through 4094)"),
    ({"provider:network_type": "vlan", "provider:segmentation_id": 10},
     "segmentation_id requires physical_network for VLAN provider network"),
    ({"provider:network_type": "vlan", "provider:physical_network": "nowhere"},
     "physical_network 'nowhere' unknown for VLAN provider network"),
    ({"provider:network_type": "vxlan", "provider:physical_network": "public"},
     "provider:physical_network specified for vxlan network"),
    ({"provider:network_type": "gre", "provider:physical_network": "public"},
     "provider:physical_network specified for gre network"),
    ({"provider:network_type": "vxlan", "provider:segmentation_id": 2**24},
     "segmentation_id out of range (1 through 16777215)"),
    ({"provider:network_type": "local", "provider:segmentation_id": 3},
     "segmentation_id prohibited for local provider network"),
    ({"provider:network_type": "local", "provider:physical_network": "public"},
     "physical_network prohibited for local provider network"),
    ({"provider:network_type": "geneve"}, "network_type value 'geneve' not supported"),
    ({"provider:physical_network": "public"}, "network_type required"),
])
def test_every_invalid_provider_combination_is_400_invalid_input(neutron: Neutron, body: dict, message: str) -> None:
    r = neutron.post("/networks", {"network": {"name": "bad", **body}}, neutron.admin)
    text = neutron_error(r, 400, "InvalidInput")
    assert text == f"Invalid input for operation: {message}."


def test_taken_segments_are_409(neutron: Neutron) -> None:
    neutron.network(neutron.admin, **{"provider:network_type": "flat", "provider:physical_network": "flat2"})
    r = neutron.post("/networks", {"network": {"provider:network_type": "flat",
                                               "provider:physical_network": "flat2"}}, neutron.admin)
    neutron_error(r, 409, "FlatNetworkInUse", "Unable to create the flat network. Physical network flat2 is in use.")
    neutron.network(neutron.admin, **{"provider:network_type": "vlan", "provider:physical_network": "physnet2",
                                      "provider:segmentation_id": 900})
    r = neutron.post("/networks", {"network": {"provider:network_type": "vlan", "provider:physical_network":
                                               "physnet2", "provider:segmentation_id": 900}}, neutron.admin)
    neutron_error(r, 409, "VlanIdInUse", "The VLAN 900 on physical network physnet2 is in use.")
    neutron.network(neutron.admin, **{"provider:network_type": "gre", "provider:segmentation_id": 15})
    # The largest GRE key fits (a 64-bit column: PostgreSQL's INTEGER would overflow).
    top = neutron.network(neutron.admin, **{"provider:network_type": "gre", "provider:segmentation_id": 2**32 - 1})
    assert top["provider:segmentation_id"] == 2**32 - 1
    r = neutron.post("/networks", {"network": {"provider:network_type": "gre", "provider:segmentation_id": 15}},
                     neutron.admin)
    neutron_error(r, 409, "TunnelIdInUse", "The tunnel ID 15 is in use.")


def test_another_projects_private_network_is_404_and_shared_or_external_ones_are_visible(neutron: Neutron) -> None:
    other_token, _ = neutron.other
    private = neutron.network()
    neutron_error(neutron.get(f"/networks/{private['id']}", other_token), 404, "NetworkNotFound",
                  f"Network {private['id']} could not be found.")
    neutron_error(neutron.delete(f"/networks/{private['id']}", other_token), 404, "NetworkNotFound")
    neutron_error(neutron.put(f"/networks/{private['id']}", {"network": {"name": "x"}}, other_token), 404,
                  "NetworkNotFound")
    assert private["id"] not in {n["id"] for n in neutron.get("/networks", other_token).json()["networks"]}
    shared = neutron.network(neutron.admin, shared=True)
    external = neutron.network(neutron.admin, **{"router:external": True})
    seen = {n["id"] for n in neutron.get("/networks", other_token).json()["networks"]}
    assert {shared["id"], external["id"]} <= seen
    # Visible is not writable: the admin's shared network is 403 for the member.
    neutron_error(neutron.put(f"/networks/{shared['id']}", {"network": {"name": "x"}}, other_token), 403,
                  "PolicyNotAuthorized")
    # A reader reads and does not write.
    neutron_error(neutron.post("/networks", {"network": {"name": "x"}}, neutron.reader), 403, "PolicyNotAuthorized")
    assert neutron.get("/networks", neutron.reader).status_code == 200


def test_revision_numbers_and_if_match(neutron: Neutron, cloud: RunningCloud) -> None:
    net = neutron.network()
    assert net["revision_number"] == 0
    r = neutron.put(f"/networks/{net['id']}", {"network": {"description": "one"}},
                    headers={"If-Match": "revision_number=0"})
    assert r.status_code == 200 and r.json()["network"]["revision_number"] == 1, r.text
    r = neutron.put(f"/networks/{net['id']}", {"network": {"description": "two"}},
                    headers={"If-Match": "revision_number=0"})
    neutron_error(r, 412, "RevisionNumberConstraintFailed", "Constrained to 0, but current revision is 1")
    assert neutron.get(f"/networks/{net['id']}").json()["network"]["description"] == "one"
    cloud.openstack("network", "set", "--name", "renamed", "--description", "cli", net["id"])
    shown = cli_json(cloud, "network", "show", net["id"])
    assert shown["name"] == "renamed" and shown["revision_number"] == 2


def test_tags_and_tag_filters(neutron: Neutron, cloud: RunningCloud) -> None:
    a, b, c = neutron.network(), neutron.network(), neutron.network()
    cloud.openstack("network", "set", "--tag", "red", "--tag", "blue", a["id"])
    assert neutron.put(f"/networks/{b['id']}/tags", {"tags": ["red"]}).json() == {"tags": ["red"]}
    assert neutron.put(f"/networks/{c['id']}/tags/green", {}).status_code == 201
    assert neutron.get(f"/networks/{c['id']}/tags/green").status_code == 204
    neutron_error(neutron.get(f"/networks/{c['id']}/tags/red"), 404, "TagNotFound")
    mine = {a["id"], b["id"], c["id"]}

    def ids(query: str) -> set[str]:
        return {n["id"] for n in neutron.get(f"/networks?{query}").json()["networks"]} & mine

    assert ids("tags=red,blue") == {a["id"]}
    assert ids("tags-any=blue,green") == {a["id"], c["id"]}
    assert ids("not-tags=red,blue") == {b["id"], c["id"]}
    assert ids("not-tags-any=red") == {c["id"]}
    assert sorted(cli_json(cloud, "network", "show", a["id"])["tags"]) == ["blue", "red"]
    assert neutron.delete(f"/networks/{a['id']}/tags").status_code == 204
    assert neutron.get(f"/networks/{a['id']}").json()["network"]["tags"] == []


def test_fields_filters_sorting_and_pagination(neutron: Neutron) -> None:
    prefix = unique("page")
    made = [neutron.network(name=f"{prefix}-{i}", description="odd" if i % 2 else "even") for i in range(7)]
    names = [n["name"] for n in made]
    r = neutron.get("/networks", params={"name": names[3], "fields": ["id", "name"]})
    assert r.json()["networks"] == [{"id": made[3]["id"], "name": names[3]}]
    r = neutron.get("/networks", params={"name": names, "description": "odd", "sort_key": "name",
                                         "sort_dir": "desc"})
    assert [n["name"] for n in r.json()["networks"]] == [names[5], names[3], names[1]]
    # Pages of 3 forwards with next links, then backwards with previous links.
    seen, url = [], "/networks"
    params: dict | None = {"name": names, "sort_key": "name", "sort_dir": "asc", "limit": 3}
    while True:
        body = neutron.get(url, params=params).json()
        seen += [n["name"] for n in body["networks"]]
        nxt = [lk["href"] for lk in body.get("networks_links", []) if lk["rel"] == "next"]
        if not nxt:
            break
        url, params = nxt[0].split("/v2.0", 1)[1], None
    assert seen == names
    prev = [lk["href"] for lk in body["networks_links"] if lk["rel"] == "previous"]
    back = neutron.get(prev[0].split("/v2.0", 1)[1]).json()
    assert [n["name"] for n in back["networks"]] == names[3:6]
    neutron_error(neutron.get("/networks", params={"sort_key": "bogus"}), 400, "BadRequest")
    neutron_error(neutron.get("/networks", params={"limit": "x"}), 400, "BadRequest")


def test_bad_requests_are_neutron_errors_never_500(neutron: Neutron) -> None:
    r = neutron.request("POST", "/networks", content=b'{"network": {"name": ', headers={
        "Content-Type": "application/json"})
    assert r.status_code == 400 and "NeutronError" in r.json()
    neutron_error(neutron.post("/networks", {"network": {"name": "x", "color": "red"}}), 400, "HTTPBadRequest",
                  "Unrecognized attribute(s) 'color'")
    neutron_error(neutron.post("/networks", {"network": {"admin_state_up": "maybe"}}), 400, "HTTPBadRequest",
                  "Invalid input for admin_state_up")
    neutron_error(neutron.post("/networks", {"net": {}}), 400, "ValidationError")
    neutron_error(neutron.get("/networks/" + "x" * 300), 404, "NetworkNotFound")
    neutron_error(neutron.get("/nothing/here"), 404, "NotFound")
    neutron_error(neutron.request("PATCH", "/networks"), 405, "MethodNotAllowed")
    net = neutron.network()
    neutron_error(neutron.put(f"/networks/{net['id']}", {"network": {"project_id": "x"}}), 400, "HTTPBadRequest",
                  "Cannot update read-only attribute project_id")
    assert neutron.get("/networks", token="garbage").status_code == 401


def test_sdk_network_lifecycle(cloud: RunningCloud) -> None:
    conn = cloud.sdk("litestack")
    net = conn.network.create_network(name=unique("sdk"), description="via sdk")
    assert conn.network.get_network(net.id).description == "via sdk"
    assert conn.network.find_network(net.name).id == net.id
    conn.network.update_network(net, is_admin_state_up=False)
    assert conn.network.get_network(net.id).is_admin_state_up is False
    conn.network.delete_network(net)
    assert conn.network.find_network(net.id) is None
