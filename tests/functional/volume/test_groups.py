"""Generic volume groups, group types and group snapshots through the real ``openstack`` CLI,
openstacksdk and raw HTTP: a group snapshot is a real snapshot of every volume (bytes checked in
the backing files), groups made from a group snapshot or a source group get the data, delete with
delete-volumes leaves nothing on disk; Cinder's errors, project isolation, RBAC and the ``groups``
quota."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.image.conftest import Project
from tests.functional.volume.conftest import Api, admin_token, backing_file, cli_json, raw_bytes, user_token, write_at

pytestmark = pytest.mark.functional

MiB = 1 << 20
V = ("--os-volume-api-version", "3.38")


@pytest.fixture(scope="module")
def other(cloud: RunningCloud) -> Project:
    name = f"p-{uuid.uuid4().hex[:8]}"
    user, password = f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = "litestack-admin"
    pid = cloud.openstack("project", "create", name, "-f", "value", "-c", "id", cloud=admin).stdout.strip()
    cloud.openstack("user", "create", user, "--password", password, "--project", name, cloud=admin)
    cloud.openstack("role", "add", "--user", user, "--project", name, "member", cloud=admin)
    return Project(cloud, pid, name, user, password)


def fault(r: httpx.Response, code: int, name: str) -> str:
    assert r.status_code == code, (r.status_code, r.text)
    body = r.json()
    assert list(body) == [name] and body[name]["code"] == code, body
    message: str = body[name]["message"]
    return message


def wait_for(api: Api, path: str, key: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
    """Poll a group or group snapshot until it reaches one of ``statuses`` ("deleted": until 404)."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = api("GET", path)
        if r.status_code == 404 and "deleted" in statuses:
            return {}
        assert r.status_code == 200, r.text
        last = r.json()[key]
        if last["status"] in statuses:
            return last
        assert not last["status"].startswith("error"), last
        time.sleep(0.2)
    raise AssertionError(f"{path} stayed {last.get('status')}")


def group_type(cloud: RunningCloud, name: str) -> dict[str, Any]:
    adm = Api(cloud, admin_token(cloud))
    r = adm("POST", "group_types", {"group_type": {"name": name, "description": "test"}})
    assert r.status_code == 202, r.text
    return dict(r.json()["group_type"])


def test_group_types_with_the_cli_and_sdk(cloud: RunningCloud, other: Project) -> None:
    admin = "litestack-admin"
    created = cli_json(cloud, "--os-volume-api-version", "3.11", "volume", "group", "type", "create",
                       "--description", "fast ones", "gt-cli", cloud_name=admin)
    assert created["Name"] == "gt-cli" and created["Is Public"] is True
    cloud.openstack("--os-volume-api-version", "3.11", "volume", "group", "type", "set", "--property",
                    "consistent_group_snapshot_enabled=<is> True", "--description", "renamed", "gt-cli", cloud=admin)
    # (renamed with the SDK: the CLI looks the type up again by its old name after a rename)
    conn = cloud.sdk(admin)
    assert conn.block_storage.update_group_type(created["ID"], name="gt-cli2").name == "gt-cli2"
    shown = cli_json(cloud, "--os-volume-api-version", "3.11", "volume", "group", "type", "show", "gt-cli2",
                     cloud_name=admin)
    assert shown["Description"] == "renamed"
    assert shown["Properties"] == {"consistent_group_snapshot_enabled": "<is> True"}
    listed = cli_json(cloud, "--os-volume-api-version", "3.11", "volume", "group", "type", "list", cloud_name=admin)
    assert "gt-cli2" in {t["Name"] for t in listed}
    # (this openstackclient has no "volume group type unset": the SDK's call)
    conn.block_storage.delete_group_type_group_specs_property(created["ID"], "consistent_group_snapshot_enabled")
    adm = Api(cloud, admin_token(cloud))
    assert adm("GET", f"group_types/{created['ID']}/group_specs").json() == {"group_specs": {}}

    # group specs one by one (Cinder's codes: create 202, item update 200, delete 202)
    r = adm("POST", f"group_types/{created['ID']}/group_specs", {"group_specs": {"a": "1", "b": "2"}})
    assert r.status_code == 202 and r.json() == {"group_specs": {"a": "1", "b": "2"}}
    r = adm("PUT", f"group_types/{created['ID']}/group_specs/a", {"a": "3"})
    assert r.status_code == 200 and r.json() == {"a": "3"}
    assert adm("GET", f"group_types/{created['ID']}/group_specs/a").json() == {"a": "3"}
    assert adm("DELETE", f"group_types/{created['ID']}/group_specs/a").status_code == 202
    fault(adm("GET", f"group_types/{created['ID']}/group_specs/a"), 404, "itemNotFound")
    fault(adm("PUT", f"group_types/{created['ID']}/group_specs/a", {"b": "3"}), 400, "badRequest")
    fault(adm("POST", f"group_types/{created['ID']}/group_specs", {"group_specs": {"bad key": "x"}}), 400,
          "badRequest")

    # the openstacksdk
    sdk_type = conn.block_storage.create_group_type(name="gt-sdk", is_public=False)
    assert conn.block_storage.get_group_type(sdk_type.id).is_public is False
    conn.block_storage.update_group_type(sdk_type, description="from the sdk")
    assert conn.block_storage.find_group_type("gt-sdk").description == "from the sdk"

    # members see public types without their specs, not private ones; they cannot change types
    member = Api(cloud, user_token(cloud))
    seen = {t["name"]: t for t in member("GET", "group_types").json()["group_types"]}
    assert "gt-cli2" in seen and "gt-sdk" not in seen and "group_specs" not in seen["gt-cli2"]
    fault(member("GET", f"group_types/{sdk_type.id}"), 404, "itemNotFound")
    fault(member("POST", "group_types", {"group_type": {"name": "mine"}}), 403, "forbidden")
    fault(member("DELETE", f"group_types/{created['ID']}"), 403, "forbidden")
    fault(Api(cloud, other.token())("POST", f"group_types/{created['ID']}/group_specs",
                                    {"group_specs": {"x": "y"}}), 403, "forbidden")

    # no default group type configured: Cinder's 404; duplicates 409; bad bodies 400; below 3.11 404
    assert "Default group type" in fault(adm("GET", "group_types/default"), 404, "itemNotFound")
    fault(adm("POST", "group_types", {"group_type": {"name": "gt-cli2"}}), 409, "conflictingRequest")
    fault(adm("POST", "group_types", {"group_type": {"name": ""}}), 400, "badRequest")
    fault(adm("POST", "group_types", {"group_type": {"name": "x", "flavor": 1}}), 400, "badRequest")
    fault(adm("PUT", f"group_types/{created['ID']}", {"group_type": {}}), 400, "badRequest")
    fault(adm("GET", "group_types", version="3.10"), 404, "itemNotFound")

    conn.block_storage.delete_group_type(sdk_type)
    cloud.openstack("--os-volume-api-version", "3.11", "volume", "group", "type", "delete", "gt-cli2", cloud=admin)
    fault(adm("GET", f"group_types/{created['ID']}"), 404, "itemNotFound")


def test_groups_and_group_snapshots_keep_the_data(cloud: RunningCloud) -> None:
    gt = group_type(cloud, "gt-data")
    api = Api(cloud, user_token(cloud))
    made = cli_json(cloud, *V, "volume", "group", "create", "--volume-group-type", "gt-data", "--volume-type",
                    "__DEFAULT__", "--name", "grp-a", "--description", "two disks")
    assert made["Status"] == "available" and made["Group Type"] == gt["id"]
    group = api("GET", f"groups/{made['ID']}").json()["group"]
    assert group["replication_status"] == "disabled" and group["description"] == "two disks"

    # volumes created in the group go to the group's backend and show their group_id (3.13)
    vols = []
    for i in range(2):
        r = api("POST", "volumes", {"volume": {"size": 1, "name": f"gv-{i}", "group_id": group["id"],
                                               "volume_type": "__DEFAULT__"}})
        assert r.status_code == 202, r.text
        vols.append(api.wait("volume", r.json()["volume"]["id"], "available"))
    assert {v["group_id"] for v in vols} == {group["id"]}
    assert api("GET", "volumes/detail", version="3.12").json()["volumes"][0].get("group_id") is None
    in_group = api("GET", f"volumes/detail?group_id={group['id']}").json()["volumes"]
    assert {v["id"] for v in in_group} == {v["id"] for v in vols}
    shown = api("GET", f"groups/{group['id']}?list_volume=True").json()["group"]
    assert sorted(shown["volumes"]) == sorted(v["id"] for v in vols)

    data = [os.urandom(MiB), os.urandom(MiB)]
    for vol, chunk in zip(vols, data, strict=True):
        write_at(backing_file(cloud, vol["id"]), 3 * MiB, chunk)

    # a group snapshot: one real snapshot per volume, taken from the files
    gs = cli_json(cloud, *V, "volume", "group", "snapshot", "create", "--name", "gsnap-a", "grp-a")
    gs = wait_for(api, f"group_snapshots/{gs['ID']}", "group_snapshot", "available")
    assert gs["group_id"] == group["id"] and gs["group_type_id"] == gt["id"]
    snaps = [s for s in api("GET", "snapshots/detail").json()["snapshots"] if s.get("group_snapshot_id") == gs["id"]]
    assert sorted(s["volume_id"] for s in snaps) == sorted(v["id"] for v in vols)
    assert all(s["status"] == "available" for s in snaps)
    for vol in vols:
        write_at(backing_file(cloud, vol["id"]), 3 * MiB, os.urandom(MiB))  # the volumes change afterwards
    listed = cli_json(cloud, *V, "volume", "group", "snapshot", "list")
    assert "gsnap-a" in {x["Name"] for x in listed}
    # a member snapshot cannot be deleted alone
    assert "part of a group" in fault(api("DELETE", f"snapshots/{snaps[0]['id']}"), 400, "badRequest")
    adm = Api(cloud, admin_token(cloud))
    fault(adm("POST", f"snapshots/{snaps[0]['id']}/action", {"os-force_delete": {}}), 400, "badRequest")

    # a group from the group snapshot has the snapshot's bytes
    from_snap = cli_json(cloud, *V, "volume", "group", "create", "--group-snapshot", "gsnap-a", "--name", "grp-b")
    from_snap = wait_for(api, f"groups/{from_snap['ID']}", "group", "available")
    assert from_snap["group_snapshot_id"] == gs["id"]
    new_vols = api("GET", f"volumes/detail?group_id={from_snap['id']}").json()["volumes"]
    by_origin = {v["snapshot_id"]: v for v in new_vols}
    assert set(by_origin) == {s["id"] for s in snaps}
    for snap in snaps:
        want = data[[v["id"] for v in vols].index(snap["volume_id"])]
        got = raw_bytes(backing_file(cloud, by_origin[snap["id"]]["id"]), length=4 * MiB)[3 * MiB:]
        assert got == want

    # a group from a source group: clones of its volumes now
    clone = cli_json(cloud, *V, "volume", "group", "create", "--source-group", "grp-a", "--name", "grp-c")
    clone = wait_for(api, f"groups/{clone['ID']}", "group", "available")
    assert clone["source_group_id"] == group["id"]
    clones = api("GET", f"volumes/detail?group_id={clone['id']}").json()["volumes"]
    assert sorted(c["source_volid"] for c in clones) == sorted(v["id"] for v in vols)
    for c in clones:
        assert raw_bytes(backing_file(cloud, c["id"])) == raw_bytes(backing_file(cloud, c["source_volid"]))

    # update: name, remove and add a volume (the CLI's group set / remove volume / add volume)
    cloud.openstack(*V, "volume", "group", "set", "--name", "grp-a2", "--description", "renamed", "grp-a")
    cloud.openstack(*V, "volume", "group", "remove", "volume", "grp-a2", vols[0]["id"])
    assert api("GET", f"volumes/{vols[0]['id']}").json()["volume"]["group_id"] is None
    cloud.openstack(*V, "volume", "group", "add", "volume", "grp-a2", vols[0]["id"])
    g = cli_json(cloud, *V, "volume", "group", "show", "grp-a2")
    assert g["Name"] == "grp-a2" and g["Description"] == "renamed"
    assert {x["Name"] for x in cli_json(cloud, *V, "volume", "group", "list")} >= {"grp-a2", "grp-b", "grp-c"}

    # deleting: a volume of a group alone, a group with a group snapshot or (without --force) volumes: 400
    fault(api("DELETE", f"volumes/{vols[0]['id']}"), 400, "badRequest")
    msg = fault(api("POST", f"groups/{group['id']}/action", {"delete": {"delete-volumes": True}}), 400, "badRequest")
    assert "existing snapshots" in msg
    msg = fault(api("POST", f"groups/{clone['id']}/action", {"delete": {}}), 400, "badRequest")
    assert "delete-volumes" in msg
    cloud.openstack(*V, "volume", "group", "snapshot", "delete", "gsnap-a")
    wait_for(api, f"group_snapshots/{gs['id']}", "group_snapshot", "deleted")
    assert all(api("GET", f"snapshots/{s['id']}").status_code == 404 for s in snaps)

    every = [*vols, *new_vols, *clones]
    for name in ("grp-a2", "grp-b", "grp-c"):
        cloud.openstack(*V, "volume", "group", "delete", "--force", name)
    for g_id in (group["id"], from_snap["id"], clone["id"]):
        wait_for(api, f"groups/{g_id}", "group", "deleted")
    for v in every:
        api.wait("volume", v["id"], "deleted")
    left = {p.name for p in (cloud.data_dir / "volume" / "file-1").iterdir()}
    assert not {n for n in left for v in every if v["id"] in n}
    assert not {n for n in left for s in snaps if s["id"] in n}


def test_group_errors_isolation_and_quota(cloud: RunningCloud, other: Project) -> None:
    gt = group_type(cloud, "gt-errors")
    api = Api(cloud, user_token(cloud))
    adm = Api(cloud, admin_token(cloud))
    body = {"group": {"name": "ge", "group_type": gt["id"], "volume_types": ["__DEFAULT__"]}}
    r = api("POST", "groups", body)
    assert r.status_code == 202 and set(r.json()["group"]) == {"id", "name"}, r.text
    gid = r.json()["group"]["id"]
    # the SDK sees it (openstacksdk's block_storage groups)
    conn = cloud.sdk("litestack")
    assert gid in {g.id for g in conn.block_storage.groups()}
    assert conn.block_storage.get_group(gid).status == "available"

    # bad bodies 400, unknown types 404, below 3.13 404
    fault(api("POST", "groups", {"group": {"group_type": gt["id"]}}), 400, "badRequest")
    fault(api("POST", "groups", {"group": {"group_type": gt["id"], "volume_types": []}}), 400, "badRequest")
    fault(api("POST", "groups", {"group": {**body["group"], "size": 1}}), 400, "badRequest")
    fault(api("POST", "groups", {"group": {**body["group"], "group_type": "nope"}}), 404, "itemNotFound")
    fault(api("POST", "groups", {"group": {**body["group"], "volume_types": ["nope"]}}), 404, "itemNotFound")
    fault(api("POST", "groups", {"group": {**body["group"], "availability_zone": "mars"}}), 400, "badRequest")
    fault(api("GET", "groups", version="3.12"), 404, "itemNotFound")
    fault(api("POST", "group_snapshots", {"group_snapshot": {"group_id": gid}}, version="3.13"), 404,
          "itemNotFound")
    fault(api("POST", f"groups/{gid}/action", {"explode": {}}), 400, "badRequest")
    fault(api("POST", f"groups/{gid}/action", {"delete": {"delete-volumes": "maybe"}}), 400, "badRequest")
    fault(api("PUT", f"groups/{gid}", {"group": {}}), 400, "badRequest")
    fault(api("PUT", f"groups/{gid}", {"group": {"add_volumes": str(uuid.uuid4())}}), 400, "badRequest")
    fault(api("POST", "groups/action", {"create-from-src": {"group_snapshot_id": str(uuid.uuid4()),
                                                            "source_group_id": gid}}), 400, "badRequest")
    assert "empty" in fault(api("POST", "groups/action", {"create-from-src": {"source_group_id": gid}}), 400,
                            "badRequest")
    # a volume in the group needs one of the group's types, named
    fault(api("POST", "volumes", {"volume": {"size": 1, "group_id": gid}}), 400, "badRequest")
    fault(api("POST", "volumes", {"volume": {"size": 1, "group_id": str(uuid.uuid4()),
                                             "volume_type": "__DEFAULT__"}}), 404, "itemNotFound")

    # replication: Cinder's 400 for a type without the spec; with it, the backends do not replicate
    assert "not a replication group type" in fault(
        api("POST", f"groups/{gid}/action", {"enable_replication": {}}), 400, "badRequest")
    adm("POST", f"group_types/{gt['id']}/group_specs", {"group_specs": {"group_replication_enabled": "<is> True"}})
    assert "replication_enabled" in fault(api("POST", f"groups/{gid}/action", {"list_replication_targets": {}}),
                                          400, "badRequest")
    fault(api("POST", f"groups/{gid}/action", {"failover_replication": {}}, version="3.37"), 404, "itemNotFound")
    r = adm("POST", "types", {"volume_type": {"name": "repl-t", "extra_specs": {"replication_enabled": "<is> True"}}})
    assert r.status_code == 200, r.text
    r = api("POST", "groups", {"group": {"group_type": gt["id"], "volume_types": ["repl-t"], "name": "rg"}})
    assert r.status_code == 202, r.text
    rg = r.json()["group"]["id"]
    r = api("POST", f"groups/{rg}/action", {"list_replication_targets": {}})
    assert r.status_code == 200 and r.json() == {"replication_targets": []}, r.text
    assert "does not support replication" in fault(api("POST", f"groups/{rg}/action", {"enable_replication": None}),
                                                   400, "badRequest")
    assert api("POST", f"groups/{rg}/action", {"delete": {}}).status_code == 202

    # reset status: admins only, Cinder's statuses
    fault(api("POST", f"groups/{gid}/action", {"reset_status": {"status": "error"}}), 403, "forbidden")
    fault(adm("POST", f"groups/{gid}/action", {"reset_status": {"status": "sleeping"}}), 400, "badRequest")
    assert adm("POST", f"groups/{gid}/action", {"reset_status": {"status": "error"}}).status_code == 202
    assert api("GET", f"groups/{gid}").json()["group"]["status"] == "error"
    fault(api("POST", "group_snapshots", {"group_snapshot": {"group_id": gid}}), 400, "badRequest")
    assert adm("POST", f"groups/{gid}/action", {"reset_status": {"status": "available"}}).status_code == 202
    r = api("POST", "group_snapshots", {"group_snapshot": {"group_id": gid, "name": "empty"}})
    assert r.status_code == 202 and set(r.json()["group_snapshot"]) == {"id", "name", "group_type_id"}
    gsid = r.json()["group_snapshot"]["id"]
    fault(api("POST", f"group_snapshots/{gsid}/action", {"reset_status": {"status": "error"}}), 403, "forbidden")
    assert adm("POST", f"group_snapshots/{gsid}/action", {"reset_status": {"status": "error"}}).status_code == 202
    assert api("GET", f"group_snapshots/{gsid}").json()["group_snapshot"]["status"] == "error"
    summary = api("GET", "group_snapshots").json()["group_snapshots"]
    assert {"id": gsid, "name": "empty"} in summary

    # another project sees none of it: 404 for every verb, empty lists
    stranger = Api(cloud, other.token())
    for method, path, payload in (("GET", f"groups/{gid}", None), ("PUT", f"groups/{gid}", {"group": {"name": "x"}}),
                                  ("POST", f"groups/{gid}/action", {"delete": {}}),
                                  ("GET", f"group_snapshots/{gsid}", None), ("DELETE", f"group_snapshots/{gsid}", None),
                                  ("POST", "group_snapshots", {"group_snapshot": {"group_id": gid}}),
                                  ("POST", "groups/action", {"create-from-src": {"source_group_id": gid}})):
        fault(stranger(method, path, payload), 404, "itemNotFound")
    assert stranger("GET", "groups/detail").json() == {"groups": []}
    assert stranger("GET", "group_snapshots/detail").json() == {"group_snapshots": []}
    # the admin sees them with all_tenants, and project_id from 3.58
    listed = adm("GET", "groups/detail?all_tenants=1").json()["groups"]
    assert any(g["id"] == gid and g["project_id"] == api.project for g in listed)
    assert "project_id" not in api("GET", f"groups/{gid}").json()["group"]

    # the groups quota: Cinder's 413, counted in the quota set
    assert adm("PUT", f"os-quota-sets/{other.id}", {"quota_set": {"groups": 1}}).status_code == 200
    first = stranger("POST", "groups", body)
    assert first.status_code == 202, first.text
    assert "Maximum number of groups" in fault(stranger("POST", "groups", body), 413, "overLimit")
    usage = stranger("GET", f"os-quota-sets/{other.id}?usage=True").json()["quota_set"]["groups"]
    assert usage["limit"] == 1 and usage["in_use"] == 1
    r = stranger("POST", f"groups/{first.json()['group']['id']}/action", {"delete": {"delete-volumes": False}})
    assert r.status_code == 202
    assert stranger("POST", "groups", body).status_code == 202

    # the group type in use cannot go; the group with a group snapshot neither
    assert "in use" in fault(adm("DELETE", f"group_types/{gt['id']}"), 400, "badRequest")
    fault(api("POST", f"groups/{gid}/action", {"delete": {}}), 400, "badRequest")
    assert adm("POST", f"group_snapshots/{gsid}/action", {"reset_status": {"status": "available"}}).status_code == 202
    assert api("DELETE", f"group_snapshots/{gsid}").status_code == 202
    fault(api("GET", f"group_snapshots/{gsid}"), 404, "itemNotFound")
    conn.block_storage.delete_group(gid)
    fault(api("GET", f"groups/{gid}"), 404, "itemNotFound")
