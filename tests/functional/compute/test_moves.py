"""Moving servers with the real clients: resize (confirm, revert), cold and live migration,
evacuation from a host that is down, snapshots and backups, shelve/unshelve and rescue; the
placement allocations checked after each step (the migration holds the source, the instance the
destination, nothing leaks); Nova's errors for wrong states, other projects and bad bodies.

One cloud of three small fake hosts for the module (SQLite; PostgreSQL and MariaDB with RabbitMQ
in the integration runs). The microversioned parts (2.23 migration types, 2.45 image_id, 2.59
uuids, server migrations, force-complete and abort) run once the API advertises those versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from litestack.common.api.microversion import Version
from litestack.compute.api.base import VERSIONS
from litestack.compute.drivers.fake import fake_disk
from tests.conftest import RunningCloud, until
from tests.databases import DATABASES, cloud_on
from tests.functional.compute.conftest import Nova, nova_error, unique
from tests.functional.identity.keystone import FAST_HASH, Keystone

pytestmark = pytest.mark.functional

HOSTS = 3
CONFIG = FAST_HASH + f"""
[DEFAULT]
services = ["identity", "image", "network", "placement", "compute"]

[network]
bootstrap = false

[compute]
fake_hosts = {HOSTS}
fake_vcpus = 8
fake_memory_mb = 16384
fake_disk_gb = 200
report_interval = 1.0
service_down_time = 6.0
move_poll_interval = 0.5
fake_live_migration_time = 3.0
"""

#: The microversion tests need the API to advertise these (the compute-api branch raises VERSIONS).
needs = {v: pytest.mark.skipif(VERSIONS.maximum < Version(*map(int, v.split("."))),
                               reason=f"the API does not advertise {v} yet") for v in ("2.25", "2.45", "2.59")}


@pytest.fixture(scope="module", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with cloud_on(request.param, tmp_path_factory.mktemp(f"moves-{request.param}"), CONFIG) as c:
        yield c


@pytest.fixture(scope="module")
def nova(cloud: RunningCloud) -> Iterator[Nova]:
    ks = Keystone(cloud)
    n = Nova(cloud, ks)
    n.network  # noqa: B018 - the demo project's one network

    def all_up() -> bool:
        found = n.compute("GET", "/os-hypervisors", n.admin).json().get("hypervisors", [])
        return len(found) == HOSTS and all(h["state"] == "up" for h in found)
    assert until(all_up, 30)
    yield n
    n.close()
    ks.close()


def cli_json(cloud: RunningCloud, *args: str, cloud_name: str = "litestack") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=cloud_name).stdout)


def node_of(nova: Nova, host: str) -> str:
    hyps = nova.compute("GET", "/os-hypervisors/detail", nova.admin).json()["hypervisors"]
    return str(next(h["id"] for h in hyps if h["hypervisor_hostname"] == host)) if hyps and isinstance(
        hyps[0]["id"], str) else next(str(h["id"]) for h in hyps if h["hypervisor_hostname"] == host)


def allocations(nova: Nova, consumer: str) -> dict[str, dict[str, int]]:
    body = nova.placement(f"/allocations/{consumer}").json()["allocations"]
    return {rp: a["resources"] for rp, a in body.items()}


def providers(nova: Nova) -> dict[str, str]:
    """host name → resource provider uuid."""
    r = nova.placement("/resource_providers").json()["resource_providers"]
    return {p["name"]: p["uuid"] for p in r}


def migrations(nova: Nova, server_id: str, version: str = "2.1") -> list[dict[str, Any]]:
    r = nova.compute("GET", "/os-migrations", nova.admin, params={"instance_uuid": server_id},
                     headers={"OpenStack-API-Version": f"compute {version}"})
    assert r.status_code == 200, r.text
    return list(r.json()["migrations"])


def host_of(nova: Nova, server_id: str) -> str:
    return str(nova.server(server_id, nova.admin)["OS-EXT-SRV-ATTR:host"])


def binding(nova: Nova, server_id: str) -> list[str]:
    return [p["binding:host_id"] for p in nova.ports(server_id)]


def image_bytes(nova: Nova, image_id: str) -> bytes:
    r = nova.request("GET", f"/image/v2/images/{image_id}/file", nova.admin)
    assert r.status_code == 200, r.text
    return r.content


def test_cli_resize_confirm_then_revert_moves_the_allocations(cloud: RunningCloud, nova: Nova) -> None:
    rps = providers(nova)
    name = unique("rsz")
    srv = cli_json(cloud, "server", "create", "--image", nova.image, "--flavor", "m1.tiny", "--wait", name)
    source = host_of(nova, srv["id"])
    assert allocations(nova, srv["id"]) == {rps[source]: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    cloud.openstack("server", "resize", "--flavor", "m1.small", "--wait", name)
    shown = nova.wait(srv["id"], "VERIFY_RESIZE")
    assert shown["flavor"]["id"] == "2"
    dest = host_of(nova, srv["id"])
    assert dest != source  # allow_resize_to_same_host is off
    [m] = migrations(nova, srv["id"])
    assert (m["status"], m["source_compute"], m["dest_compute"]) == ("finished", source, dest)
    assert (m["old_instance_type_id"], m["new_instance_type_id"]) == (1, 2)
    # As Nova: the migration holds the old flavor on the source, the instance the new one on the destination.
    holds: dict[str, dict[str, dict[str, int]]] = {
        "m": allocations(nova, next(u for u in [_migration_uuid(nova, m["id"])] if u)),
        "i": allocations(nova, srv["id"])}
    assert holds["m"] == {rps[source]: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    assert holds["i"] == {rps[dest]: {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}}
    assert binding(nova, srv["id"]) == [dest]
    cloud.openstack("server", "resize", "confirm", name)
    nova.wait(srv["id"], "ACTIVE")
    assert until(lambda: migrations(nova, srv["id"])[0]["status"] == "confirmed", 15)
    assert allocations(nova, _migration_uuid(nova, m["id"])) == {}
    assert allocations(nova, srv["id"]) == {rps[dest]: {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}}
    # a second resize, reverted: everything as before it
    cloud.openstack("server", "resize", "--flavor", "m1.medium", "--wait", name)
    nova.wait(srv["id"], "VERIFY_RESIZE")
    third = host_of(nova, srv["id"])
    assert third != dest and allocations(nova, srv["id"])[rps[third]]["MEMORY_MB"] == 4096
    cloud.openstack("server", "resize", "revert", name)
    reverted = nova.wait(srv["id"], "ACTIVE")
    assert reverted["flavor"]["id"] == "2" and host_of(nova, srv["id"]) == dest
    assert allocations(nova, srv["id"]) == {rps[dest]: {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}}
    assert [x["status"] for x in migrations(nova, srv["id"])] == ["reverted", "confirmed"]
    listed = cli_json(cloud, "server", "migration", "list", "--server", srv["id"], cloud_name="litestack-admin")
    assert [(x["Status"], x["Source Compute"]) for x in listed] == [("reverted", dest), ("confirmed", source)]
    assert binding(nova, srv["id"]) == [dest]
    assert nova.server(srv["id"])["OS-EXT-STS:power_state"] == 1
    actions = {a["Action"] for a in cli_json(cloud, "server", "event", "list", name)}
    assert {"resize", "confirmResize", "revertResize"} <= actions
    cloud.openstack("server", "delete", "--wait", name)
    assert nova.gone(srv["id"]) and allocations(nova, srv["id"]) == {}


def _migration_uuid(nova: Nova, migration_id: int) -> str:
    """The uuid of a migration (its placement consumer), from the compute database."""
    with compute_db(nova.cloud) as engine, engine.connect() as c:
        return str(c.execute(text("SELECT uuid FROM migrations WHERE id = :i"), {"i": migration_id}).scalar_one())


class compute_db:
    """An engine on a cloud's compute database (its SQLite file, or the server's database)."""

    def __init__(self, cloud: RunningCloud) -> None:
        url = cloud.env.get("LITESTACK_DEFAULT_DATABASE_URL") or f"sqlite:///{cloud.data_dir / 'compute.db'}"
        self.engine = create_engine(url.replace("{service}", "compute"))

    def __enter__(self) -> Any:
        return self.engine

    def __exit__(self, *exc: object) -> None:
        self.engine.dispose()


def test_resize_of_a_stopped_server_stays_stopped(nova: Nova) -> None:
    srv = nova.boot()
    assert nova.compute("POST", f"/servers/{srv['id']}/action", json={"os-stop": None}).status_code == 202
    nova.wait(srv["id"], "SHUTOFF")
    r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"resize": {"flavorRef": "d1"}})
    assert r.status_code == 202, r.text
    assert nova.wait(srv["id"], "VERIFY_RESIZE")["OS-EXT-STS:power_state"] == 4
    assert nova.compute("POST", f"/servers/{srv['id']}/action", json={"confirmResize": None}).status_code == 204
    done = nova.wait(srv["id"], "SHUTOFF")
    assert done["flavor"]["id"] == "d1"
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
    assert nova.gone(srv["id"])


def test_sdk_cold_and_live_migration_as_admin(cloud: RunningCloud, nova: Nova) -> None:
    rps = providers(nova)
    srv = nova.boot()
    admin = cloud.sdk("litestack-admin")
    server = admin.compute.get_server(srv["id"])
    first = host_of(nova, srv["id"])
    admin.compute.migrate_server(server)
    nova.wait(srv["id"], "VERIFY_RESIZE")
    second = host_of(nova, srv["id"])
    assert second != first
    admin.compute.confirm_server_resize(server)
    nova.wait(srv["id"], "ACTIVE")
    assert until(lambda: allocations(nova, srv["id"]) == {rps[second]: {"VCPU": 1, "MEMORY_MB": 512,
                                                                        "DISK_GB": 1}}, 15)
    [m] = migrations(nova, srv["id"])
    assert m["status"] == "confirmed" and m["old_instance_type_id"] == m["new_instance_type_id"] == 1
    disk = fake_disk(nova.image, srv["id"])
    # live: the guest keeps running and its disk goes with it
    admin.compute.live_migrate_server(server, host=None, block_migration=False)
    assert until(lambda: host_of(nova, srv["id"]) != second
                 and nova.server(srv["id"])["OS-EXT-STS:task_state"] is None, 30)
    third = host_of(nova, srv["id"])
    shown = nova.server(srv["id"])
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-STS:power_state"] == 1
    assert allocations(nova, srv["id"]) == {rps[third]: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    live = [x for x in migrations(nova, srv["id"]) if x["status"] == "completed"]
    assert len(live) == 1 and live[0]["source_compute"] == second and live[0]["dest_compute"] == third
    assert allocations(nova, _migration_uuid(nova, live[0]["id"])) == {}
    assert binding(nova, srv["id"]) == [third]
    # the CLI, to a named host
    fourth = next(h for h in rps if h not in (third,))
    cloud.openstack("server", "migrate", "--live-migration", "--host", fourth, "--os-compute-api-version", "2.1",
                    srv["id"], cloud="litestack-admin", check=False)
    r = nova.compute("POST", f"/servers/{srv['id']}/action", nova.admin, json={"os-migrateLive": {
        "host": fourth, "block_migration": False, "disk_over_commit": False}})
    if nova.server(srv["id"])["OS-EXT-STS:task_state"] is None and host_of(nova, srv["id"]) == fourth:
        pass  # the CLI did it
    else:
        assert r.status_code in (202, 409), r.text
    assert until(lambda: host_of(nova, srv["id"]) == fourth and nova.server(srv["id"])["OS-EXT-STS:task_state"]
                 is None, 30)
    snap = nova.compute("POST", f"/servers/{srv['id']}/action", json={"createImage": {"name": unique("after")}})
    assert snap.status_code == 202, snap.text
    image_id = snap.headers["Location"].rsplit("/", 1)[-1]
    assert until(lambda: nova.request("GET", f"/image/v2/images/{image_id}").json()["status"] == "active", 20)
    assert image_bytes(nova, image_id) == disk  # the same disk, three hosts later
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
    assert nova.gone(srv["id"]) and allocations(nova, srv["id"]) == {}


def test_evacuate_from_a_host_that_is_down(cloud: RunningCloud, nova: Nova) -> None:
    rps = providers(nova)
    srv = nova.boot()
    source = host_of(nova, srv["id"])
    r = nova.compute("POST", f"/servers/{srv['id']}/action", nova.admin, json={"evacuate": {
        "onSharedStorage": False}})
    nova_error(r, 400, "badRequest", f"Compute service of {source} is still in use.")
    with compute_db(cloud) as engine, engine.begin() as c:
        c.execute(text("UPDATE compute_services SET forced_down = :t WHERE host = :h"), {"t": True, "h": source})
    try:
        # (no --wait: python-openstackclient 10.5 compares the lowercased status with "ACTIVE" and waits for ever)
        cli_json(cloud, "server", "evacuate", srv["id"], cloud_name="litestack-admin")
        assert until(lambda: nova.server(srv["id"])["OS-EXT-STS:task_state"] is None, 30)
        assert nova.server(srv["id"])["status"] == "ACTIVE"
        dest = host_of(nova, srv["id"])
        assert dest != source and binding(nova, srv["id"]) == [dest]
        # as Nova: the instance holds both hosts until the dead one comes back and cleans up
        assert set(allocations(nova, srv["id"])) == {rps[source], rps[dest]}
        [m] = migrations(nova, srv["id"])
        assert (m["status"], m["source_compute"], m["dest_compute"]) == ("done", source, dest)
    finally:
        with compute_db(cloud) as engine, engine.begin() as c:
            c.execute(text("UPDATE compute_services SET forced_down = :t WHERE host = :h"),
                      {"t": False, "h": source})
    assert until(lambda: set(allocations(nova, srv["id"])) == {rps[dest]}, 20)
    assert migrations(nova, srv["id"])[0]["status"] == "completed"
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
    assert nova.gone(srv["id"]) and allocations(nova, srv["id"]) == {}


def test_cli_image_create_uploads_the_disk_and_backups_rotate(cloud: RunningCloud, nova: Nova) -> None:
    srv = nova.boot(metadata={"app": "db"})
    name = unique("snap")
    image = cli_json(cloud, "server", "image", "create", "--name", name, "--wait", srv["id"])
    assert image["status"] == "active"
    shown = nova.request("GET", f"/image/v2/images/{image['id']}").json()
    assert shown["instance_uuid"] == srv["id"] and shown["image_type"] == "snapshot"
    assert shown["base_image_ref"] == nova.image and shown["min_disk"] == 1
    assert image_bytes(nova, image["id"]) == fake_disk(nova.image, srv["id"])
    assert nova.server(srv["id"])["status"] == "ACTIVE"
    made = []
    for n in range(3):
        r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"createBackup": {
            "name": f"{name}-b{n}", "backup_type": "daily", "rotation": 2}})
        assert r.status_code == 202, r.text
        made.append(r.headers["Location"].rsplit("/", 1)[-1])
        assert until(lambda: nova.server(srv["id"])["OS-EXT-STS:task_state"] is None, 20)
    left = nova.request("GET", "/image/v2/images", params={"instance_uuid": srv["id"], "image_type": "backup"})
    assert sorted(i["id"] for i in left.json()["images"]) == sorted(made[1:])
    cloud.openstack("server", "backup", "create", "--name", f"{name}-cli", "--type", "weekly", "--rotate", "1",
                    "--wait", srv["id"])
    backups = nova.request("GET", "/image/v2/images", params={"instance_uuid": srv["id"]}).json()["images"]
    assert {i.get("backup_type") for i in backups if i.get("image_type") == "backup"} == {"daily", "weekly"}
    for i in [*backups, image]:
        nova.request("DELETE", f"/image/v2/images/{i['id']}")
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204


def test_cli_shelve_offloads_then_unshelve_schedules_again(cloud: RunningCloud, nova: Nova) -> None:
    rps = providers(nova)
    name = unique("shelf")
    srv = cli_json(cloud, "server", "create", "--image", nova.image, "--flavor", "m1.tiny", "--wait", name)
    port_ids = [p["id"] for p in nova.ports(srv["id"])]
    cloud.openstack("server", "shelve", name)
    shelved = nova.wait(srv["id"], "SHELVED_OFFLOADED")  # shelved_offload_time = 0: at once
    assert shelved["OS-EXT-STS:task_state"] is None
    assert allocations(nova, srv["id"]) == {}  # its resources are free
    assert [p["id"] for p in nova.ports(srv["id"])] == port_ids and binding(nova, srv["id"]) == [""]
    images = nova.request("GET", "/image/v2/images", params={"name": f"{name}-shelved"}).json()["images"]
    assert len(images) == 1 and images[0]["status"] == "active"
    assert image_bytes(nova, images[0]["id"]) == fake_disk(nova.image, srv["id"])
    r = nova.compute("POST", f"/servers/{srv['id']}/action", nova.admin, json={"shelveOffload": None})
    nova_error(r, 409, "conflictingRequest")
    cloud.openstack("server", "unshelve", "--wait", name)
    back = nova.wait(srv["id"], "ACTIVE")
    host = host_of(nova, srv["id"])
    assert allocations(nova, srv["id"]) == {rps[host]: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    assert binding(nova, srv["id"]) == [host] and back["addresses"] == srv_addresses(nova, srv["id"])
    assert until(lambda: nova.request("GET", f"/image/v2/images/{images[0]['id']}").status_code == 404, 10)
    # the disk came back from the shelved image: a snapshot now has the same bytes
    snap = nova.compute("POST", f"/servers/{srv['id']}/action", json={"createImage": {"name": unique("s")}})
    image_id = snap.headers["Location"].rsplit("/", 1)[-1]
    assert until(lambda: nova.request("GET", f"/image/v2/images/{image_id}").json()["status"] == "active", 20)
    assert image_bytes(nova, image_id) == fake_disk(nova.image, srv["id"])
    nova.request("DELETE", f"/image/v2/images/{image_id}")
    cloud.openstack("server", "delete", "--wait", name)
    assert nova.gone(srv["id"])


def srv_addresses(nova: Nova, server_id: str) -> Any:
    return nova.server(server_id)["addresses"]


def test_cli_rescue_and_unrescue(cloud: RunningCloud, nova: Nova) -> None:
    srv = nova.boot()
    cloud.openstack("server", "rescue", srv["id"])
    rescued = nova.wait(srv["id"], "RESCUE")
    assert rescued["OS-EXT-STS:vm_state"] == "rescued"
    out = nova.compute("POST", f"/servers/{srv['id']}/action", json={"os-getConsoleOutput": {}}).json()["output"]
    assert f"rescue: booted from image {nova.image}" in out
    r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"rescue": None})
    nova_error(r, 409, "conflictingRequest")
    cloud.openstack("server", "unrescue", srv["id"])
    nova.wait(srv["id"], "ACTIVE")
    r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"rescue": {"adminPass": "s3cret"}})
    assert r.status_code == 200 and r.json() == {"adminPass": "s3cret"}
    nova.wait(srv["id"], "RESCUE")
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
    assert nova.gone(srv["id"])


def test_wrong_states_other_projects_and_bad_bodies(nova: Nova) -> None:
    srv = nova.boot()
    sid = srv["id"]

    def act(body: Any, token: str | None = None) -> Any:
        return nova.compute("POST", f"/servers/{sid}/action", token, json=body)

    nova_error(act({"resize": {"flavorRef": "1"}}), 400, "badRequest", "must change flavor")
    nova_error(act({"resize": {"flavorRef": "nope"}}), 400, "badRequest", "Flavor nope could not be found.")
    nova_error(act({"resize": {}}), 400, "badRequest")
    nova_error(act({"confirmResize": None}), 400, "badRequest", "has not been resized")
    nova_error(act({"revertResize": None}), 400, "badRequest", "has not been resized")
    nova_error(act({"unrescue": None}), 409, "conflictingRequest")
    nova_error(act({"unshelve": None}), 409, "conflictingRequest")
    nova_error(act({"shelveOffload": None}, nova.admin), 409, "conflictingRequest")
    nova_error(act({"migrate": None}), 403, "forbidden")
    nova_error(act({"os-migrateLive": {"host": None, "block_migration": False, "disk_over_commit": False}}),
               403, "forbidden")
    nova_error(act({"evacuate": {"onSharedStorage": False}}), 403, "forbidden")
    host = host_of(nova, sid)
    nova_error(act({"os-migrateLive": {"host": host, "block_migration": False, "disk_over_commit": False}},
                   nova.admin), 400, "badRequest", "current host")
    nova_error(act({"os-migrateLive": {"host": "nowhere", "block_migration": False, "disk_over_commit": False}},
                   nova.admin), 400, "badRequest", "Compute host nowhere could not be found.")
    nova_error(act({"os-migrateLive": {"host": None}}, nova.admin), 400, "badRequest")
    nova_error(act({"migrate": {"host": "x"}}, nova.admin), 400, "badRequest")  # host needs 2.56
    nova_error(act({"createImage": {}}), 400, "badRequest")
    nova_error(act({"createBackup": {"name": "b", "backup_type": "daily", "rotation": -1}}), 400, "badRequest")
    other, _ = nova.other
    for body in ({"resize": {"flavorRef": "2"}}, {"createImage": {"name": "x"}}, {"shelve": None},
                 {"rescue": None}):
        nova_error(act(body, other), 404, "itemNotFound")
    nova_error(nova.compute("GET", "/os-migrations"), 403, "forbidden")
    # a server in VERIFY_RESIZE refuses another resize; deleting it cleans both hosts
    assert act({"resize": {"flavorRef": "2"}}).status_code == 202
    nova.wait(sid, "VERIFY_RESIZE")
    nova_error(act({"resize": {"flavorRef": "3"}}), 409, "conflictingRequest")
    nova_error(act({"createImage": {"name": "x"}}), 409, "conflictingRequest")
    assert nova.compute("DELETE", f"/servers/{sid}").status_code == 204
    assert nova.gone(sid) and allocations(nova, sid) == {}
    [m] = migrations(nova, sid)
    assert until(lambda: allocations(nova, _migration_uuid(nova, m["id"])) == {}, 15)


def test_quota_counts_the_upsize(nova: Nova) -> None:
    srv = nova.boot()
    project = nova.demo_project
    r = nova.request("PUT", f"/compute/v2.1/os-quota-sets/{project}", nova.admin,
                     json={"quota_set": {"ram": 1024}})
    assert r.status_code == 200, r.text
    try:
        r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"resize": {"flavorRef": "2"}})
        nova_error(r, 403, "forbidden", "Quota exceeded for ram")
        assert nova.server(srv["id"])["status"] == "ACTIVE"
    finally:
        nova.request("DELETE", f"/compute/v2.1/os-quota-sets/{project}", nova.admin)
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204


@needs["2.59"]
def test_migrations_list_at_2_59_has_types_uuids_and_pages(nova: Nova) -> None:
    srv = nova.boot()
    r = nova.compute("POST", f"/servers/{srv['id']}/action", nova.admin, json={"migrate": None})
    assert r.status_code == 202
    nova.wait(srv["id"], "VERIFY_RESIZE")
    [m] = migrations(nova, srv["id"], "2.59")
    assert m["migration_type"] == "migration" and len(m["uuid"]) == 36 and "links" not in m
    r = nova.compute("GET", "/os-migrations", nova.admin, params={"limit": 1},
                     headers={"OpenStack-API-Version": "compute 2.59"})
    assert len(r.json()["migrations"]) == 1 and r.json()["migrations_links"][0]["rel"] == "next"
    assert nova.compute("POST", f"/servers/{srv['id']}/action", json={"revertResize": None}).status_code == 202
    nova.wait(srv["id"], "ACTIVE")
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204


@needs["2.25"]
def test_live_migration_can_be_listed_and_aborted(nova: Nova) -> None:
    srv = nova.boot()
    sid = srv["id"]
    before = host_of(nova, sid)
    h = {"OpenStack-API-Version": "compute 2.25"}
    r = nova.compute("POST", f"/servers/{sid}/action", nova.admin, headers=h,
                     json={"os-migrateLive": {"host": None, "block_migration": "auto"}})
    assert r.status_code == 202, r.text
    assert until(lambda: nova.compute("GET", f"/servers/{sid}/migrations", nova.admin, headers=h).json()
                 ["migrations"], 10)
    [m] = nova.compute("GET", f"/servers/{sid}/migrations", nova.admin, headers=h).json()["migrations"]
    assert m["server_uuid"] == sid and m["source_compute"] == before
    r = nova.compute("DELETE", f"/servers/{sid}/migrations/{m['id']}", nova.admin, headers=h)
    assert r.status_code == 202, r.text
    assert until(lambda: nova.server(sid)["OS-EXT-STS:task_state"] is None, 20)
    assert host_of(nova, sid) == before and migrations(nova, sid)[0]["status"] == "cancelled"
    assert allocations(nova, sid) == {providers(nova)[before]: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    # again, forced to complete while it copies the memory
    r = nova.compute("POST", f"/servers/{sid}/action", nova.admin, headers=h,
                     json={"os-migrateLive": {"host": None, "block_migration": "auto"}})
    assert r.status_code == 202, r.text

    def running() -> list[Any]:
        found = nova.compute("GET", f"/servers/{sid}/migrations", nova.admin, headers=h).json()["migrations"]
        return [x for x in found if x["status"] == "running"]
    assert until(running, 10)
    m = running()[0]
    assert m["memory_total_bytes"] == 512 * 1024 * 1024
    r = nova.compute("POST", f"/servers/{sid}/migrations/{m['id']}/action", nova.admin, headers=h,
                     json={"force_complete": None})
    assert r.status_code == 202, r.text
    assert until(lambda: nova.server(sid)["OS-EXT-STS:task_state"] is None, 20)
    assert host_of(nova, sid) != before and migrations(nova, sid)[0]["status"] == "completed"
    r = nova.compute("DELETE", f"/servers/{sid}/migrations/{m['id']}", nova.admin, headers=h)
    nova_error(r, 400, "badRequest", "Cannot abort")
    assert nova.compute("DELETE", f"/servers/{sid}").status_code == 204


@needs["2.45"]
def test_create_image_at_2_45_answers_the_image_id(nova: Nova) -> None:
    srv = nova.boot()
    r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"createImage": {"name": unique("i")}},
                     headers={"OpenStack-API-Version": "compute 2.45"})
    assert r.status_code == 202 and "Location" not in r.headers
    image_id = r.json()["image_id"]
    assert until(lambda: nova.request("GET", f"/image/v2/images/{image_id}").json()["status"] == "active", 20)
    nova.request("DELETE", f"/image/v2/images/{image_id}")
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
