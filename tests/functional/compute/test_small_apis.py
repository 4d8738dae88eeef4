"""The compute API's smaller resources through the real clients: host aggregates (and the
scheduler's zone and aggregate filters over them, mirrored into placement), simple tenant usage,
quota classes, changePassword, diagnostics, the server password and interface attach/detach."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from tests.conftest import RunningCloud, until
from tests.functional.compute.conftest import Nova, nova_error, unique

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str, cloud_name: str = "litestack-admin") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=cloud_name).stdout)


def test_aggregates_zones_filters_and_placement(cloud: RunningCloud, nova: Nova) -> None:
    hosts = sorted(h["hypervisor_hostname"] for h in
                   nova.compute("GET", "/os-hypervisors", nova.admin).json()["hypervisors"])
    zone, name = unique("az"), unique("agg")
    agg = cli_json(cloud, "aggregate", "create", "--zone", zone, "--property", "ssd=true", name)
    assert agg["availability_zone"] == zone
    aid = agg["id"]
    try:
        cloud.openstack("aggregate", "add", "host", name, hosts[0], cloud="litestack-admin")
        shown = nova.compute("GET", f"/os-aggregates/{aid}", nova.admin).json()["aggregate"]
        assert shown["hosts"] == [hosts[0]] and shown["metadata"] == {"ssd": "true", "availability_zone": zone}
        # The host's provider joined the aggregate in placement, as Nova mirrors it.
        rp = next(p for p in nova.placement("/resource_providers").json()["resource_providers"]
              if p["name"] == hosts[0])["uuid"]
        uuid = nova.compute("GET", f"/os-aggregates/{aid}", nova.admin,
                            headers={"OpenStack-API-Version": "compute 2.1"}).json()["aggregate"].get("uuid")
        aggs = nova.placement(f"/resource_providers/{rp}/aggregates").json()["aggregates"]
        assert len(aggs) == 1 and (uuid is None or aggs == [uuid])
        zones = {z["zoneName"] for z in nova.compute("GET", "/os-availability-zone").json()["availabilityZoneInfo"]}
        assert {zone, "nova"} <= zones
        # The zone filter: a server asking for the zone lands on its one host.
        srv = nova.boot(availability_zone=zone)
        assert srv["OS-EXT-AZ:availability_zone"] == zone
        assert nova.server(srv["id"], nova.admin)["OS-EXT-SRV-ATTR:host"] == hosts[0]
        # AggregateInstanceExtraSpecsFilter: a flavor asking for ssd=true goes to the aggregate's host.
        flavor = nova.compute("POST", "/flavors", nova.admin, json={"flavor": {
            "name": unique("ssd"), "ram": 64, "vcpus": 1, "disk": 1}}).json()["flavor"]
        nova.compute("POST", f"/flavors/{flavor['id']}/os-extra_specs", nova.admin,
                     json={"extra_specs": {"aggregate_instance_extra_specs:ssd": "true"}})
        on_ssd = nova.boot(flavorRef=flavor["id"])
        assert nova.server(on_ssd["id"], nova.admin)["OS-EXT-SRV-ATTR:host"] == hosts[0]
        # AggregateMultiTenancyIsolation: the host now takes only another project's servers.
        _token, other_project = nova.other
        nova.compute("POST", f"/os-aggregates/{aid}/action", nova.admin,
                     json={"set_metadata": {"metadata": {"filter_tenant_id": other_project}}})
        refused = nova.boot(availability_zone=zone, wait="ERROR")
        assert "No valid host" in refused["fault"]["message"]
        # Errors: a duplicate name, an unknown host, a host twice, a non-empty delete, a non-admin.
        nova_error(nova.compute("POST", "/os-aggregates", nova.admin, json={"aggregate": {"name": name}}), 409,
                   "conflictingRequest")
        nova_error(nova.compute("POST", f"/os-aggregates/{aid}/action", nova.admin,
                                json={"add_host": {"host": "no-such-host"}}), 404, "itemNotFound")
        nova_error(nova.compute("POST", f"/os-aggregates/{aid}/action", nova.admin,
                                json={"add_host": {"host": hosts[0]}}), 409, "conflictingRequest")
        nova_error(nova.compute("DELETE", f"/os-aggregates/{aid}", nova.admin), 400, "badRequest")
        nova_error(nova.compute("GET", "/os-aggregates"), 403, "forbidden")
        nova_error(nova.compute("POST", "/os-aggregates", nova.admin, json={"aggregate": {"name": "x", "bad": 1}}),
                   400, "badRequest")
        other = nova.compute("POST", "/os-aggregates", nova.admin, json={"aggregate": {
            "name": unique("agg"), "availability_zone": unique("az")}}).json()["aggregate"]
        nova_error(nova.compute("POST", f"/os-aggregates/{other['id']}/action", nova.admin,
                                json={"add_host": {"host": hosts[0]}}), 409, "conflictingRequest")
        nova.compute("DELETE", f"/os-aggregates/{other['id']}", nova.admin)
        for s in (srv, on_ssd, refused):
            nova.compute("DELETE", f"/servers/{s['id']}")
        for s in (srv, on_ssd, refused):
            assert nova.gone(s["id"])
        nova.compute("DELETE", f"/flavors/{flavor['id']}", nova.admin)
    finally:
        nova.compute("POST", f"/os-aggregates/{aid}/action", nova.admin, json={"remove_host": {"host": hosts[0]}})
        cloud.openstack("aggregate", "delete", name, cloud="litestack-admin")
    assert nova.placement(f"/resource_providers/{rp}/aggregates").json()["aggregates"] == []
    after = [z["zoneName"] for z in nova.compute("GET", "/os-availability-zone").json()["availabilityZoneInfo"]]
    assert after == ["nova"]
    nova_error(nova.compute("GET", f"/os-aggregates/{aid}", nova.admin), 404, "itemNotFound")


def test_simple_tenant_usage_counts_the_servers_that_ran(cloud: RunningCloud, nova: Nova) -> None:
    start = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    srv = nova.boot()
    end = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    mine = nova.compute("GET", f"/os-simple-tenant-usage/{nova.demo_project}?start={start}&end={end}").json()
    usage = mine["tenant_usage"]
    assert srv["id"] in [u["instance_id"] for u in usage["server_usages"]]
    one = next(u for u in usage["server_usages"] if u["instance_id"] == srv["id"])
    assert one["state"] == "active" and one["flavor"] == "m1.tiny" and one["memory_mb"] == 512
    assert 0 < one["hours"] < 1.1 and usage["total_hours"] >= one["hours"]
    everyone = nova.compute("GET", f"/os-simple-tenant-usage?start={start}&end={end}&detailed=1",
                            nova.admin).json()["tenant_usages"]
    assert nova.demo_project in [u["tenant_id"] for u in everyone]
    tomorrow = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
    listed = cli_json(cloud, "usage", "list", "--start", start[:10], "--end", tomorrow)
    assert nova.demo_project in [u["Project"] for u in listed]
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])
    after = nova.compute("GET", f"/os-simple-tenant-usage/{nova.demo_project}?start={start}&end={end}").json()
    ended = next(u for u in after["tenant_usage"]["server_usages"] if u["instance_id"] == srv["id"])
    assert ended["state"] == "terminated" and ended["ended_at"]
    nova_error(nova.compute("GET", f"/os-simple-tenant-usage?start={end}&end={start}", nova.admin), 400,
               "badRequest", "start time cannot occur after the end time")
    nova_error(nova.compute("GET", "/os-simple-tenant-usage"), 403, "forbidden")
    token, _ = nova.other
    nova_error(nova.compute("GET", f"/os-simple-tenant-usage/{nova.demo_project}", token), 403, "forbidden")
    nova_error(nova.compute("GET", "/os-simple-tenant-usage?start=yesterday", nova.admin), 400, "badRequest")
    nova_error(nova.compute("GET", "/os-simple-tenant-usage/", nova.admin), 404, "itemNotFound")  # no project


def test_quota_class_default_is_every_projects_default(nova: Nova) -> None:
    before = nova.compute("GET", "/os-quota-class-sets/default", nova.admin).json()["quota_class_set"]
    assert before["id"] == "default" and "server_groups" not in before  # 2.50 brought them
    try:
        r = nova.compute("PUT", "/os-quota-class-sets/default", nova.admin,
                         json={"quota_class_set": {"metadata_items": 77, "floating_ips": 20}})
        assert r.json()["quota_class_set"]["metadata_items"] == 77 and r.json()["quota_class_set"]["floating_ips"] == 20
        _token, project = nova.other
        assert nova.compute("GET", f"/os-quota-sets/{project}/defaults", nova.admin).json()[
            "quota_set"]["metadata_items"] == 77
        assert nova.compute("GET", f"/os-quota-sets/{project}", nova.admin).json()["quota_set"]["metadata_items"] == 77
    finally:
        nova.compute("PUT", "/os-quota-class-sets/default", nova.admin,
                     json={"quota_class_set": {"metadata_items": before["metadata_items"],
                                               "floating_ips": before["floating_ips"]}})
    nova_error(nova.compute("GET", "/os-quota-class-sets/default"), 403, "forbidden")
    nova_error(nova.compute("PUT", "/os-quota-class-sets/default", nova.admin,
                            json={"quota_class_set": {"server_groups": 3}}), 400, "badRequest")
    nova_error(nova.compute("PUT", "/os-quota-class-sets/default", nova.admin,
                            json={"quota_class_set": {"cores": "many"}}), 400, "badRequest")


def test_password_diagnostics_and_server_password(cloud: RunningCloud, nova: Nova) -> None:
    conn = cloud.sdk()
    srv = nova.boot()
    sid = srv["id"]
    conn.compute.change_server_password(sid, "n3w-Passw0rd")
    actions = [a["action"] for a in nova.compute("GET", f"/servers/{sid}/os-instance-actions").json()[
        "instanceActions"]]
    assert "changePassword" in actions and nova.server(sid)["OS-EXT-STS:task_state"] is None
    # The host's steps of each action are its events (the admin's view, with tracebacks).
    listed = nova.compute("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    create = next(a for a in listed if a["action"] == "create")
    shown = nova.compute("GET", f"/servers/{sid}/os-instance-actions/{create['request_id']}",
                         nova.admin).json()["instanceAction"]
    assert [(e["event"], e["result"]) for e in shown["events"]] == [("compute_build_and_run_instance", "Success")]
    assert shown["events"][0]["finish_time"] and shown["events"][0]["traceback"] is None
    password = next(a for a in listed if a["action"] == "changePassword")
    shown = nova.compute("GET", f"/servers/{sid}/os-instance-actions/{password['request_id']}",
                         nova.admin).json()["instanceAction"]
    assert [e["event"] for e in shown["events"]] == ["compute_set_admin_password"]
    assert "events" not in nova.compute("GET", f"/servers/{sid}/os-instance-actions/{password['request_id']}"
                                        ).json()["instanceAction"]  # a user sees them from 2.51
    console = nova.compute("POST", f"/servers/{sid}/action", json={"os-getConsoleOutput": {}}).json()["output"]
    assert "password of the default user changed" in console
    diag = nova.compute("GET", f"/servers/{sid}/diagnostics", nova.admin).json()
    assert diag["memory"] == 512 * 1024 and "cpu0_time" in diag and "vda_read" in diag
    nova_error(nova.compute("GET", f"/servers/{sid}/diagnostics"), 403, "forbidden")
    r = nova.compute("POST", f"/servers/{sid}/action", nova.admin, json={"injectNetworkInfo": None})
    assert r.status_code == 202
    nova_error(nova.compute("POST", f"/servers/{sid}/action", json={"injectNetworkInfo": None}), 403, "forbidden")
    # An admin's project filter counts only with all_tenants (Nova ignores it otherwise).
    mine = nova.compute("GET", f"/servers?tenant_id={nova.demo_project}", nova.admin).json()["servers"]
    assert sid not in [x["id"] for x in mine]
    everyone = nova.compute("GET", f"/servers?all_tenants=1&tenant_id={nova.demo_project}", nova.admin).json()
    assert sid in [x["id"] for x in everyone["servers"]]
    assert nova.compute("GET", f"/servers/{sid}/os-server-password").json() == {"password": ""}
    assert nova.compute("DELETE", f"/servers/{sid}/os-server-password").status_code == 204
    nova.compute("POST", f"/servers/{sid}/action", json={"os-stop": None})
    nova.wait(sid, "SHUTOFF")
    r = nova.compute("POST", f"/servers/{sid}/action", json={"changePassword": {"adminPass": "x"}})
    nova_error(r, 409, "conflictingRequest", "vm_state stopped")
    r = nova.compute("POST", f"/servers/{sid}/action", json={"changePassword": {}})
    nova_error(r, 400, "badRequest")
    token, _ = nova.other
    nova_error(nova.compute("GET", f"/servers/{sid}/os-server-password", token), 404, "itemNotFound")
    nova_error(nova.compute("POST", f"/servers/{sid}/action", json={"restore": None}), 409, "conflictingRequest")
    nova_error(nova.compute("POST", f"/servers/{sid}/action", json={"forceDelete": None}), 409, "conflictingRequest")
    nova.compute("DELETE", f"/servers/{sid}")
    assert nova.gone(sid)


def test_interfaces_attach_and_detach_through_the_cli(cloud: RunningCloud, nova: Nova) -> None:
    net_id, net_name = nova.network
    srv = nova.boot()
    sid = srv["id"]
    conn = cloud.sdk()
    port = conn.network.create_port(network_id=net_id, name=unique("extra"))
    cloud.openstack("server", "add", "port", sid, port.id)
    listed = nova.compute("GET", f"/servers/{sid}/os-interface").json()["interfaceAttachments"]
    assert port.id in [i["port_id"] for i in listed] and len(listed) == 2
    shown = nova.compute("GET", f"/servers/{sid}/os-interface/{port.id}").json()["interfaceAttachment"]
    assert shown["net_id"] == net_id and shown["mac_addr"] == port.mac_address
    bound = nova.request("GET", f"/networking/v2.0/ports/{port.id}", nova.admin).json()["port"]
    assert bound["device_id"] == sid and bound["binding:host_id"]
    addresses = nova.server(sid)["addresses"][net_name]
    assert port.fixed_ips[0]["ip_address"] in [a["addr"] for a in addresses]
    console = nova.compute("POST", f"/servers/{sid}/action", json={"os-getConsoleOutput": {}}).json()["output"]
    assert "hot-plugged" in console
    # A network: the compute service makes the port.
    r = nova.compute("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"net_id": net_id}})
    assert r.status_code == 200, r.text
    made = r.json()["interfaceAttachment"]["port_id"]
    assert len(nova.ports(sid)) == 3
    cloud.openstack("server", "remove", "port", sid, port.id)
    assert until(lambda: port.id not in [i["port_id"] for i in nova.compute(
        "GET", f"/servers/{sid}/os-interface").json()["interfaceAttachments"]], 30)
    kept = nova.request("GET", f"/networking/v2.0/ports/{port.id}", nova.admin).json()["port"]
    assert kept["device_id"] == ""  # the user's port is unbound and kept
    nova.compute("DELETE", f"/servers/{sid}/os-interface/{made}")
    assert until(lambda: nova.request("GET", f"/networking/v2.0/ports/{made}", nova.admin).status_code == 404, 30)
    nova_error(nova.compute("DELETE", f"/servers/{sid}/os-interface/{port.id}"), 404, "itemNotFound")
    nova_error(nova.compute("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {
        "net_id": "8c2d2d2e-9a35-4a47-a6b4-2d3d0f8c1e77"}}), 400, "badRequest")
    token, _ = nova.other
    nova_error(nova.compute("GET", f"/servers/{sid}/os-interface", token), 404, "itemNotFound")
    actions = {a["action"] for a in nova.compute("GET", f"/servers/{sid}/os-instance-actions").json()[
        "instanceActions"]}
    assert {"attach_interface", "detach_interface"} <= actions
    nova.compute("DELETE", f"/servers/{sid}")
    assert nova.gone(sid)
    conn.network.delete_port(port)


def test_os_hosts_hypervisor_uptime_and_extensions(cloud: RunningCloud, nova: Nova) -> None:
    hosts = nova.compute("GET", "/os-hosts", nova.admin).json()["hosts"]
    assert len(hosts) == 10 and {h["service"] for h in hosts} == {"compute"} and hosts[0]["zone"] == "nova"
    assert nova.compute("GET", "/os-hosts?zone=elsewhere", nova.admin).json()["hosts"] == []
    assert len(nova.compute("GET", "/os-hosts?zone=", nova.admin).json()["hosts"]) == 10  # blank: every zone
    name = hosts[0]["host_name"]
    rows = nova.compute("GET", f"/os-hosts/{name}", nova.admin).json()["host"]
    assert [r["resource"]["project"] for r in rows[:3]] == ["(total)", "(used_now)", "(used_max)"]
    assert rows[0]["resource"]["cpu"] == 8 and rows[0]["resource"]["memory_mb"] == 8192
    r = nova.compute("PUT", f"/os-hosts/{name}", nova.admin, json={"status": "disable"})
    assert r.json() == {"host": name, "status": "disabled"}
    assert nova.compute("PUT", f"/os-hosts/{name}", nova.admin, json={"status": "enable"}).json()["status"] == "enabled"
    nova_error(nova.compute("PUT", f"/os-hosts/{name}", nova.admin, json={"status": "sideways"}), 400, "badRequest")
    nova_error(nova.compute("GET", f"/os-hosts/{name}/reboot", nova.admin), 501, "notImplemented")
    nova_error(nova.compute("GET", "/os-hosts/no-such-host", nova.admin), 404, "itemNotFound")
    nova_error(nova.compute("GET", "/os-hosts"), 403, "forbidden")
    hyp = nova.compute("GET", "/os-hypervisors", nova.admin).json()["hypervisors"][0]
    up = nova.compute("GET", f"/os-hypervisors/{hyp['id']}/uptime", nova.admin).json()["hypervisor"]
    assert up["hypervisor_hostname"] == hyp["hypervisor_hostname"] and "load average" in up["uptime"]
    shown = cli_json(cloud, "hypervisor", "show", hyp["hypervisor_hostname"])
    assert shown["hypervisor_hostname"] == hyp["hypervisor_hostname"]
    aliases = {e["alias"] for e in nova.compute("GET", "/extensions").json()["extensions"]}
    assert {"os-aggregates", "os-simple-tenant-usage", "os-attach-interfaces"} <= aliases
    nova_error(nova.compute("GET", "/extensions/os-fping"), 404, "itemNotFound")
    sid = nova.boot()["id"]
    r = nova.compute("POST", f"/servers/{sid}/remote-consoles", headers={"OpenStack-API-Version": "compute 2.6"},
                     json={"remote_console": {"protocol": "vnc", "type": "novnc"}})
    nova_error(r, 501, "notImplemented", "Unable to get vnc console")
    r = nova.compute("POST", f"/servers/{sid}/remote-consoles", headers={"OpenStack-API-Version": "compute 2.6"},
                     json={"remote_console": {"protocol": "vnc", "type": "spice-html5"}})
    nova_error(r, 400, "badRequest")
    nova.compute("DELETE", f"/servers/{sid}")
    assert nova.gone(sid)
