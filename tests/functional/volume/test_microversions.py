"""The block storage additions of microversions 3.3 to 3.60 with the real clients and raw HTTP: user
messages left by real failures, generalised, like and time filters in SQL, metadata ETags,
services and clusters, manageable volumes, workers cleanup, log levels, backup metadata and
backups of snapshots, volumes from backups."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.databases import DATABASES, cloud_on
from tests.functional.image.conftest import Project
from tests.functional.volume.conftest import VOLUME_CLOUD, Api, admin_token, backing_file, cli_json, user_token

pytestmark = pytest.mark.functional
FILE_BACKEND = "vol-host@file-1"


@pytest.fixture(scope="module", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """The volume functional cloud with its agent in a cluster (``[volume] cluster``)."""
    with cloud_on(request.param, tmp_path_factory.mktemp(f"volume-mv-{request.param}"),
                  VOLUME_CLOUD + 'cluster = "cl-1"\n') as c:
        r = Api(c, admin_token(c))("POST", "types/__DEFAULT__/extra_specs",
                                   {"extra_specs": {"volume_backend_name": "file-1"}})
        assert r.status_code == 200, r.text
        yield c


@pytest.fixture(scope="module")
def stranger(cloud: RunningCloud) -> Api:
    """A member of another project."""
    name, user, password = f"p-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    pid = cloud.openstack("project", "create", name, "-f", "value", "-c", "id", cloud="litestack-admin").stdout.strip()
    cloud.openstack("user", "create", user, "--password", password, "--project", name, cloud="litestack-admin")
    cloud.openstack("role", "add", "--user", user, "--project", name, "member", cloud="litestack-admin")
    return Api(cloud, Project(cloud, pid, name, user, password).token())


def fault(r: httpx.Response, code: int, name: str) -> str:
    assert r.status_code == code, (r.status_code, r.text)
    body = r.json()
    assert list(body) == [name] and body[name]["code"] == code, body
    message: str = body[name]["message"]
    return message


def new_volume(api: Api, size: int = 1, **extra: Any) -> dict[str, Any]:
    r = api("POST", "volumes", {"volume": {"size": size, **extra}})
    assert r.status_code == 202, r.text
    return api.wait("volume", r.json()["volume"]["id"], "available")


def wait_status(api: Api, kind: str, ident: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item: dict[str, Any] = api("GET", f"{kind}s/{ident}").json()[kind]
        if item["status"] == status:
            return item
        time.sleep(0.2)
    raise AssertionError(f"{kind} {ident} never reached {status}")


def test_user_messages_from_real_failures(cloud: RunningCloud, stranger: Api) -> None:
    adm = Api(cloud, admin_token(cloud))
    api = Api(cloud, user_token(cloud))
    # a type no backend serves: the scheduler finds none, the volume goes to error and a message says why
    r = adm("POST", "types", {"volume_type": {"name": f"nowhere-{uuid.uuid4().hex[:6]}",
                                              "extra_specs": {"volume_backend_name": "no-such-backend"}}})
    assert r.status_code == 200, r.text
    vtype = r.json()["volume_type"]["name"]
    r = api("POST", "volumes", {"volume": {"size": 1, "volume_type": vtype}})
    assert r.status_code == 202
    failed = r.json()["volume"]["id"]
    assert wait_status(api, "volume", failed, "error")["status"] == "error"
    listed = cli_json(cloud, "--os-volume-api-version", "3.3", "volume", "message", "list")
    mine = [m for m in listed if m["Resource UUID"] == failed]
    assert len(mine) == 1, listed
    assert mine[0]["Event ID"] == "VOLUME_VOLUME_001_003"
    assert mine[0]["User Message"] == "schedule allocate volume: Could not find any available weighted backend."
    msg = api("GET", f"messages/{mine[0]['ID']}").json()["message"]
    assert msg["resource_type"] == "VOLUME" and msg["message_level"] == "ERROR"
    assert msg["request_id"].startswith("req-") and msg["guaranteed_until"] > msg["created_at"]
    # before 3.3 there is no such API; another project sees none of it
    fault(api("GET", "messages", version="3.2"), 404, "itemNotFound")
    fault(stranger("GET", f"messages/{msg['id']}"), 404, "itemNotFound")
    assert failed not in {m["resource_uuid"] for m in stranger("GET", "messages").json()["messages"]}
    fault(stranger("DELETE", f"messages/{msg['id']}"), 404, "itemNotFound")
    # filters and paging (3.5)
    only = api("GET", f"messages?resource_uuid={failed}").json()["messages"]
    assert [m["id"] for m in only] == [msg["id"]]
    page = api("GET", "messages?limit=1&sort=created_at:asc").json()
    assert len(page["messages"]) == 1

    # an extend the backend cannot do (its file is gone): error_extending and a message
    vol = new_volume(api)
    backing_file(cloud, vol["id"]).unlink()
    r = api("POST", f"volumes/{vol['id']}/action", {"os-extend": {"new_size": 2}})
    assert r.status_code == 202
    wait_status(api, "volume", vol["id"], "error_extending")
    found = api("GET", f"messages?resource_uuid={vol['id']}").json()["messages"]
    assert [m["event_id"] for m in found] == ["VOLUME_VOLUME_007_010"]
    # the request id of the extend travelled to the agent and back with the failure
    assert found[0]["request_id"] == r.headers["x-openstack-request-id"]

    # a connection the backend cannot give (its file is gone): 400 to the caller, a message to the project
    lost = new_volume(api)
    backing_file(cloud, lost["id"]).unlink()
    r = api("POST", "attachments", {"attachment": {"volume_uuid": lost["id"], "instance_uuid": str(uuid.uuid4()),
                                                   "connector": {"host": "vol-host"}}})
    fault(r, 400, "badRequest")
    assert api("GET", f"volumes/{lost['id']}").json()["volume"]["status"] == "available"  # nothing half-made
    found = api("GET", f"messages?resource_uuid={lost['id']}").json()["messages"]
    assert [m["event_id"] for m in found] == ["VOLUME_VOLUME_004_021"]

    # a create from an image whose data is not what it claims (qcow2 header missing): the copy fails
    conn = cloud.sdk("litestack")
    image = conn.image.create_image(name=f"bad-{uuid.uuid4().hex[:6]}", disk_format="qcow2",
                                    container_format="bare", data=b"not a qcow2 image" * 64)
    r = api("POST", "volumes", {"volume": {"size": 1, "imageRef": image.id}})
    assert r.status_code == 202, r.text
    from_image = r.json()["volume"]["id"]
    wait_status(api, "volume", from_image, "error")
    found = api("GET", f"messages?resource_uuid={from_image}").json()["messages"]
    assert [m["event_id"] for m in found] == ["VOLUME_VOLUME_005_001"]
    assert found[0]["user_message"] == "copy image to volume: An unknown error occurred."
    conn.image.delete_image(image)

    # delete with the CLI
    cloud.openstack("--os-volume-api-version", "3.3", "volume", "message", "delete", msg["id"])
    fault(api("GET", f"messages/{msg['id']}"), 404, "itemNotFound")
    for ident in (failed, vol["id"], from_image, lost["id"]):
        adm("POST", f"volumes/{ident}/action", {"os-reset_status": {"status": "available"}})
        assert api("DELETE", f"volumes/{ident}").status_code == 202


def test_filters_in_sql(cloud: RunningCloud) -> None:
    api = Api(cloud, user_token(cloud))
    tag = uuid.uuid4().hex[:6]
    a = new_volume(api, name=f"alpha-{tag}", metadata={"tier": "gold", "k": tag})
    b = new_volume(api, name=f"beta-{tag}", metadata={"tier": "silver", "k": tag})
    assert api("POST", f"volumes/{b['id']}/action",
               {"os-set_image_metadata": {"metadata": {"os_distro": f"debian-{tag}"}}}).status_code == 200

    def ids(query: str, version: str = "3.60") -> set[str]:
        r = api("GET", f"volumes?{query}", version=version)
        assert r.status_code == 200, r.text
        return {v["id"] for v in r.json()["volumes"]}

    assert ids(f'metadata={{"k":"{tag}","tier":"gold"}}') == {a["id"]}
    assert ids(f'glance_metadata={{"os_distro":"debian-{tag}"}}') == {b["id"]}
    assert ids(f"name~={tag}") == {a["id"], b["id"]}
    assert ids(f"name~=beta-{tag}") == {b["id"]}
    assert ids(f"name~=beta-{tag}&metadata={{\"k\":\"{tag}\"}}") == {b["id"]}
    assert ids("name~=100%25_nothing") == set()
    created = datetime.fromisoformat(a["created_at"])
    before, after = (created - timedelta(seconds=1)).isoformat(), (created + timedelta(seconds=1)).isoformat()
    assert a["id"] in ids(f"created_at=gte:{before}")
    assert a["id"] not in ids(f"created_at=lt:{before}")
    assert a["id"] in ids(f"created_at=gt:{before},lt:{after}")
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"updated_at=gt:{future}") == set()
    # malformed: 400, never 500
    fault(api("GET", "volumes?created_at=gte:yesterday"), 400, "badRequest")
    fault(api("GET", "volumes?created_at=between:x"), 400, "badRequest")
    fault(api("GET", "volumes?metadata=notadict"), 400, "badRequest")
    # an unknown filter: 400 from 3.31 on, ignored before; like filters from 3.34
    assert "Invalid filters" in fault(api("GET", "volumes?colour=red"), 400, "badRequest")
    assert a["id"] in ids("colour=red", version="3.30")
    fault(api("GET", f"volumes?name~={tag}", version="3.33"), 400, "badRequest")
    assert a["id"] in ids(f"name~={tag}", version="3.30")  # ignored before 3.31
    # the same through the CLI
    listed = cli_json(cloud, "--os-volume-api-version", "3.60", "volume", "list", "--property", "tier=gold")
    assert a["id"] in {v["ID"] for v in listed} and b["id"] not in {v["ID"] for v in listed}
    # /resource_filters (3.33)
    rf = api("GET", "resource_filters?resource=volume").json()["resource_filters"]
    assert rf[0]["resource"] == "volume" and {"metadata", "name", "created_at"} <= set(rf[0]["filters"])
    fault(api("GET", "resource_filters", version="3.32"), 404, "itemNotFound")
    # snapshots: metadata and like
    r = api("POST", "snapshots", {"snapshot": {"volume_id": a["id"], "name": f"snap-{tag}", "metadata": {"s": tag}}})
    snap = api.wait("snapshot", r.json()["snapshot"]["id"], "available")
    assert [s["id"] for s in api("GET", f'snapshots?metadata={{"s":"{tag}"}}').json()["snapshots"]] == [snap["id"]]
    assert [s["id"] for s in api("GET", f"snapshots?name~=nap-{tag}").json()["snapshots"]] == [snap["id"]]
    assert api("DELETE", f"snapshots/{snap['id']}").status_code == 202
    api.wait("snapshot", snap["id"], "deleted")
    for v in (a, b):
        assert api("DELETE", f"volumes/{v['id']}").status_code == 202


def test_services_freeze_disable_and_clusters(cloud: RunningCloud) -> None:
    adm = Api(cloud, admin_token(cloud))
    api = Api(cloud, user_token(cloud))
    rows = {s["host"]: s for s in adm("GET", "os-services", version="3.49").json()["services"]}
    assert rows[FILE_BACKEND]["backend_state"] == "up" and rows[FILE_BACKEND]["cluster"] == "cl-1"
    assert "backend_state" not in adm("GET", "os-services", version="3.48").json()["services"][1]
    # disable with a reason through the CLI: the scheduler no longer places volumes there
    cloud.openstack("volume", "service", "set", "--disable", "--disable-reason", "disk swap", FILE_BACKEND,
                    "cinder-volume", cloud="litestack-admin")
    listed = cli_json(cloud, "volume", "service", "list", "--long", cloud_name="litestack-admin")
    row = next(s for s in listed if s["Host"] == FILE_BACKEND)
    assert row["Status"] == "disabled" and row["Disabled Reason"] == "disk swap"
    r = api("POST", "volumes", {"volume": {"size": 1}})
    assert wait_status(api, "volume", r.json()["volume"]["id"], "error")
    cloud.openstack("volume", "service", "set", "--enable", FILE_BACKEND, "cinder-volume", cloud="litestack-admin")
    vol = new_volume(api)
    # negatives as Cinder (tempest's services negative tests)
    sched = next(s for s in adm("GET", "os-services").json()["services"] if s["binary"] == "cinder-scheduler")
    fault(adm("PUT", "os-services/enable", {"host": "invalid_host", "binary": "cinder-volume"}), 404,
          "itemNotFound")
    fault(adm("PUT", "os-services/disable", {"host": FILE_BACKEND, "binary": "invalid_binary"}), 404,
          "itemNotFound")
    fault(adm("PUT", "os-services/disable-log-reason", {"host": sched["host"], "binary": sched["binary"],
                                                        "disabled_reason": None}), 400, "badRequest")
    fault(adm("PUT", "os-services/freeze", {"host": "invalid_host"}), 400, "badRequest")
    fault(adm("PUT", "os-services/thaw", {"host": "invalid_host"}), 400, "badRequest")
    fault(adm("PUT", "os-services/nonsense", {}), 400, "badRequest")
    fault(api("PUT", "os-services/freeze", {"host": FILE_BACKEND}), 403, "forbidden")
    # freeze: nothing placed there, its volumes refuse management; thaw
    assert adm("PUT", "os-services/freeze", {"host": FILE_BACKEND}).status_code == 200
    fault(adm("PUT", "os-services/freeze", {"host": FILE_BACKEND}), 400, "badRequest")
    rows = {s["host"]: s for s in adm("GET", "os-services").json()["services"]}
    assert rows[FILE_BACKEND]["frozen"] is True
    assert "frozen" in fault(api("DELETE", f"volumes/{vol['id']}"), 400, "badRequest")
    assert adm("PUT", "os-services/thaw", {"host": FILE_BACKEND}).status_code == 200
    fault(adm("PUT", "os-services/thaw", {"host": FILE_BACKEND}), 400, "badRequest")
    # no backend replicates: failover is Cinder's 400
    fault(adm("PUT", "os-services/failover_host", {"host": FILE_BACKEND}), 400, "badRequest")

    # clusters (3.7) with the CLI: both backends of the host report cluster cl-1
    clusters = cli_json(cloud, "--os-volume-api-version", "3.7", "block", "storage", "cluster", "list", "--long",
                        cloud_name="litestack-admin")
    assert [(c["Name"], c["Binary"], c["State"], c["Status"], c["Num Hosts"]) for c in clusters] == [
        ("cl-1", "cinder-volume", "up", "enabled", 2)]
    # (the CLI's "cluster set" prints the cluster and exits non-zero: it returns it from a plain Command)
    cloud.openstack("--os-volume-api-version", "3.7", "block", "storage", "cluster", "set", "--disable",
                    "--disable-reason", "rack move", "cl-1", cloud="litestack-admin", check=False)
    shown = adm("GET", "clusters/cl-1", version="3.26").json()["cluster"]
    assert shown["status"] == "disabled" and shown["disabled_reason"] == "rack move"
    assert shown["replication_status"] == "disabled" and shown["frozen"] is False
    r = api("POST", "volumes", {"volume": {"size": 1}})  # a disabled cluster takes no volumes
    assert wait_status(api, "volume", r.json()["volume"]["id"], "error")
    r = adm("PUT", "clusters/enable", {"name": "cl-1"}, version="3.7")
    assert r.json()["cluster"] == {"name": "cl-1", "binary": "cinder-volume", "state": "up", "status": "enabled",
                                   "disabled_reason": None}
    assert adm("GET", "clusters/detail?is_up=true", version="3.7").json()["clusters"][0]["status"] == "enabled"
    fault(adm("GET", "clusters/nope", version="3.7"), 404, "itemNotFound")
    fault(adm("GET", "clusters", version="3.6"), 404, "itemNotFound")
    fault(api("GET", "clusters", version="3.7"), 403, "forbidden")
    assert api("DELETE", f"volumes/{vol['id']}").status_code == 202


def test_log_levels_on_api_and_agents(cloud: RunningCloud) -> None:
    adm = Api(cloud, admin_token(cloud))
    cloud.openstack("--os-volume-api-version", "3.32", "block", "storage", "log", "level", "set",
                    "--service", "cinder-volume", "--log-prefix", "cinder.volume.agent", "DEBUG",
                    cloud="litestack-admin")
    listed = cli_json(cloud, "--os-volume-api-version", "3.32", "block", "storage", "log", "level", "list",
                      "--log-prefix", "litestack.volume.agent", cloud_name="litestack-admin")
    agents = {(e["Host"], e["Level"]) for e in listed if e["Binary"] == "cinder-volume"
              and e["Prefix"] == "litestack.volume.agent"}
    assert agents == {(FILE_BACKEND, "DEBUG"), ("vol-host@fake-1", "DEBUG")}
    r = adm("PUT", "os-services/set-log", {"binary": "cinder-api", "prefix": "litestack.volume.api",
                                           "level": "WARNING"}, version="3.32")
    assert r.status_code == 202
    got = adm("PUT", "os-services/get-log", {"binary": "cinder-api", "prefix": "litestack.volume.api"},
              version="3.32").json()["log_levels"]
    assert got and got[0]["levels"]["litestack.volume.api"] == "WARNING"
    fault(adm("PUT", "os-services/set-log", {"binary": "*", "level": "LOUD"}, version="3.32"), 400, "badRequest")
    fault(adm("PUT", "os-services/set-log", {"binary": "cinder-x", "level": "INFO"}, version="3.32"), 400,
          "badRequest")
    fault(adm("PUT", "os-services/get-log", {}, version="3.31"), 404, "itemNotFound")
    adm("PUT", "os-services/set-log", {"binary": "*", "prefix": "litestack.volume", "level": "INFO"}, version="3.32")


def test_workers_cleanup_after_an_agent_restart(cloud: RunningCloud) -> None:
    adm = Api(cloud, admin_token(cloud))
    api = Api(cloud, user_token(cloud))
    vol = new_volume(api)
    # the volume was being extended when its agent died: its status stayed transitional
    assert adm("POST", f"volumes/{vol['id']}/action", {"os-reset_status": {"status": "extending"}}).status_code == 202
    cloud.restart()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = {s["host"]: s for s in adm("GET", "os-services").json()["services"]}
        if rows.get(FILE_BACKEND, {}).get("state") == "up":
            break
        time.sleep(0.3)
    fault(adm("POST", "workers/cleanup", {"binary": "cinder-volume"}, version="3.23"), 404, "itemNotFound")
    fault(api("POST", "workers/cleanup", {}, version="3.24"), 403, "forbidden")
    fault(adm("POST", "workers/cleanup", {"is_up": "maybe"}, version="3.24"), 400, "badRequest")
    r = adm("POST", "workers/cleanup", {"host": "vol-host", "resource_type": "Volume"}, version="3.24")
    assert r.status_code == 202, r.text
    assert {s["host"] for s in r.json()["cleaning"]} == {FILE_BACKEND, "vol-host@fake-1"}
    assert r.json()["unavailable"] == []
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "error_extending"
    # an operation started after the agent's start is not touched
    vol2 = new_volume(api)
    adm("POST", f"volumes/{vol2['id']}/action", {"os-reset_status": {"status": "extending"}})
    adm("POST", "workers/cleanup", {}, version="3.24")
    assert api("GET", f"volumes/{vol2['id']}").json()["volume"]["status"] == "extending"
    for v in (vol, vol2):
        adm("POST", f"volumes/{v['id']}/action", {"os-reset_status": {"status": "available"}})
        assert api("DELETE", f"volumes/{v['id']}").status_code == 202


def test_manage_and_unmanage_existing_files(cloud: RunningCloud) -> None:
    import subprocess

    adm = Api(cloud, admin_token(cloud))
    api = Api(cloud, user_token(cloud))
    host = f"{FILE_BACKEND}#file-1"
    directory = cloud.data_dir / "volume" / "file-1"
    # a file the backend did not make: listed as manageable (size rounded up to whole GiB)
    legacy = directory / f"legacy-{uuid.uuid4().hex[:6]}.img"
    subprocess.run(["qemu-img", "create", "-f", "raw", str(legacy), str(3 << 29)], check=True, capture_output=True)
    with legacy.open("r+b") as f:
        f.write(b"legacy data")
    vol = new_volume(api)
    found = adm("GET", f"manageable_volumes/detail?host={host}", version="3.8").json()["manageable-volumes"]
    by_name = {m["reference"]["source-name"]: m for m in found}
    assert by_name[legacy.name]["safe_to_manage"] is True and by_name[legacy.name]["size"] == 2
    mine = by_name[f"volume-{vol['id']}"]
    assert mine["safe_to_manage"] is False and mine["cinder_id"] == vol["id"]
    assert mine["reason_not_safe"] == "Already managed."
    summary = adm("GET", f"manageable_volumes?host={host}", version="3.8").json()["manageable-volumes"]
    assert set(summary[0]) == {"reference", "size", "safe_to_manage"}
    # manage it (POST manageable_volumes, 3.8): a volume of 2 GiB holding the file's data. (The CLI's
    # "volume create --remote-source" cannot be used: openstacksdk sends it at microversion 3.71.)
    r = adm("POST", "manageable_volumes", {"volume": {"host": host, "ref": {"source-name": legacy.name},
                                                      "name": "adopted"}}, version="3.8")
    assert r.status_code == 202, r.text
    adopted = adm.wait("volume", r.json()["volume"]["id"], "available")
    assert adopted["size"] == 2 and not legacy.exists()
    data = backing_file(cloud, adopted["id"]).read_bytes()
    assert data.startswith(b"legacy data") and len(data) == 2 << 30
    # unmanage: the volume leaves the cloud, its file stays and is manageable again
    assert adm("POST", f"volumes/{adopted['id']}/action", {"os-unmanage": {}}).status_code == 202
    fault(adm("GET", f"volumes/{adopted['id']}"), 404, "itemNotFound")
    assert backing_file(cloud, adopted["id"]).exists()
    again = {m["reference"]["source-name"]: m for m in adm("GET", f"manageable_volumes/detail?host={host}",
                                                           version="3.8").json()["manageable-volumes"]}
    assert again[f"volume-{adopted['id']}"]["safe_to_manage"] is True
    # negatives: a volume's own file, a missing file, no host, a member, before 3.8
    body = {"volume": {"host": host, "ref": {"source-name": f"volume-{vol['id']}"}}}
    assert "Already managed" in fault(adm("POST", "os-volume-manage", body), 400, "badRequest")
    body = {"volume": {"host": host, "ref": {"source-name": "no-such-file"}}}
    fault(adm("POST", "os-volume-manage", body), 400, "badRequest")
    fault(adm("POST", "os-volume-manage", {"volume": {"ref": {"source-name": "x"}}}), 400, "badRequest")
    fault(adm("POST", "os-volume-manage", {"volume": {"host": host, "ref": "x"}}), 400, "badRequest")
    fault(api("POST", "os-volume-manage", {"volume": {"host": host, "ref": {"source-name": "x"}}}), 403, "forbidden")
    fault(adm("GET", f"manageable_volumes?host={host}", version="3.7"), 404, "itemNotFound")
    fault(adm("GET", "manageable_volumes", version="3.8"), 400, "badRequest")
    # snapshots: unmanage one, find it among the manageable snapshots, manage it back
    r = api("POST", "snapshots", {"snapshot": {"volume_id": vol["id"], "name": "s"}})
    snap = api.wait("snapshot", r.json()["snapshot"]["id"], "available")
    assert adm("POST", f"snapshots/{snap['id']}/action", {"os-unmanage": {}}).status_code == 202
    fault(api("GET", f"snapshots/{snap['id']}"), 404, "itemNotFound")
    snaps = adm("GET", f"manageable_snapshots/detail?host={host}", version="3.8").json()["manageable-snapshots"]
    assert any(m["reference"]["source-name"] == f"snapshot-{snap['id']}" and m["safe_to_manage"] for m in snaps)
    r = adm("POST", "os-snapshot-manage", {"snapshot": {"volume_id": vol["id"],
                                                        "ref": {"source-name": f"snapshot-{snap['id']}"}}})
    assert r.status_code == 202, r.text
    back = adm.wait("snapshot", r.json()["snapshot"]["id"], "available")
    assert back["volume_id"] == vol["id"] and back["size"] == 1
    assert api("DELETE", f"snapshots/{back['id']}").status_code == 202
    api.wait("snapshot", back["id"], "deleted")
    assert api("DELETE", f"volumes/{vol['id']}").status_code == 202


def test_metadata_etags(cloud: RunningCloud) -> None:
    api = Api(cloud, user_token(cloud))
    vol = new_volume(api, metadata={"a": "1"})
    path = f"volumes/{vol['id']}/metadata"
    assert "ETag" not in api("GET", path, version="3.14").headers
    r = api("GET", path, version="3.15")
    etag = r.headers["ETag"]
    assert r.json() == {"metadata": {"a": "1"}}
    # someone else changes it: the first writer's If-Match no longer matches (412), a fresh one does
    assert api("POST", path, {"metadata": {"b": "2"}}).status_code == 200
    stale = api("PUT", path, {"metadata": {"a": "9"}}, version="3.15", headers={"If-Match": etag})
    assert stale.status_code == 412
    assert api("GET", path).json() == {"metadata": {"a": "1", "b": "2"}}
    fresh = api("GET", path, version="3.15").headers["ETag"]
    assert fresh != etag
    r = api("PUT", path, {"metadata": {"a": "9"}}, version="3.15", headers={"If-Match": f'"{fresh}"'})
    assert r.status_code == 200 and r.json() == {"metadata": {"a": "9"}}
    assert api("PUT", f"{path}/a", {"meta": {"a": "10"}}, version="3.15",
               headers={"If-Match": fresh}).status_code == 412
    assert api("PUT", f"{path}/a", {"meta": {"a": "10"}}, version="3.15").status_code == 200
    assert api("DELETE", f"volumes/{vol['id']}").status_code == 202


def test_backup_of_a_snapshot_with_metadata_and_a_volume_from_it(cloud: RunningCloud, stranger: Api) -> None:
    from tests.functional.volume.conftest import raw_bytes, write_at

    api = Api(cloud, user_token(cloud))
    vol = new_volume(api)
    write_at(backing_file(cloud, vol["id"]), 4096, b"snapshot-time data")
    r = api("POST", "snapshots", {"snapshot": {"volume_id": vol["id"], "name": "s1"}})
    snap = api.wait("snapshot", r.json()["snapshot"]["id"], "available")
    write_at(backing_file(cloud, vol["id"]), 4096, b"written afterwards")
    # the backup reads the snapshot (3.43 metadata with it); the volume stays available meanwhile
    body = {"backup": {"volume_id": vol["id"], "snapshot_id": snap["id"], "name": "of-snap",
                       "metadata": {"purpose": "test"}}}
    fault(api("POST", "backups", body, version="3.42"), 400, "badRequest")
    r = api("POST", "backups", body, version="3.43")
    assert r.status_code == 202, r.text
    backup_id = r.json()["backup"]["id"]
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "available"
    b = wait_status(api, "backup", backup_id, "available")
    assert b["snapshot_id"] == snap["id"] and b["metadata"] == {"purpose": "test"}
    assert "metadata" not in api("GET", f"backups/{backup_id}", version="3.42").json()["backup"]
    assert api("GET", f"snapshots/{snap['id']}").json()["snapshot"]["status"] == "available"
    r = api("PUT", f"backups/{backup_id}", {"backup": {"metadata": {"purpose": "kept"}}}, version="3.43")
    assert r.status_code == 200, r.text
    assert api("GET", f"backups/{backup_id}", version="3.43").json()["backup"]["metadata"] == {"purpose": "kept"}
    # 3.47: a new (larger) volume created from the backup holds the snapshot's bytes
    made = cli_json(cloud, "--os-volume-api-version", "3.47", "volume", "create", "--backup", backup_id,
                    "--size", "2", "from-backup")
    restored = api.wait("volume", made["id"], "available")
    assert restored["size"] == 2
    data = raw_bytes(backing_file(cloud, restored["id"]), length=8192)
    assert data[4096:4096 + 18] == b"snapshot-time data"
    # negatives
    fault(api("POST", "volumes", {"volume": {"backup_id": backup_id}}, version="3.46"), 400, "badRequest")
    fault(api("POST", "volumes", {"volume": {"backup_id": str(uuid.uuid4())}}, version="3.47"), 404,
          "itemNotFound")
    fault(stranger("POST", "volumes", {"volume": {"backup_id": backup_id}}, version="3.47"), 404, "itemNotFound")
    other = new_volume(api)
    fault(api("POST", "backups", {"backup": {"volume_id": other["id"], "snapshot_id": snap["id"]}}), 400,
          "badRequest")
    fault(api("POST", "backups", {"backup": {"volume_id": vol["id"], "snapshot_id": str(uuid.uuid4())}}), 404,
          "itemNotFound")
    assert api("DELETE", f"backups/{backup_id}").status_code == 202
    api.wait("backup", backup_id, "deleted")
    assert api("DELETE", f"snapshots/{snap['id']}").status_code == 202
    api.wait("snapshot", snap["id"], "deleted")
    for v in (vol, restored, other):
        assert api("DELETE", f"volumes/{v['id']}").status_code == 202


def test_backup_export_and_import_record(cloud: RunningCloud) -> None:
    import base64
    import json

    from tests.functional.volume.conftest import raw_bytes, write_at

    adm = Api(cloud, admin_token(cloud))
    api = Api(cloud, user_token(cloud))
    vol = new_volume(api)
    write_at(backing_file(cloud, vol["id"]), 0, b"exported bytes")
    r = api("POST", "backups", {"backup": {"volume_id": vol["id"], "name": "to-export"}})
    backup = wait_status(api, "backup", r.json()["backup"]["id"], "available")
    fault(api("GET", f"backups/{backup['id']}/export_record"), 403, "forbidden")
    record = cli_json(cloud, "volume", "backup", "record", "export", backup["id"], cloud_name="litestack-admin")
    assert record["backup_service"] == "cinder.backup.drivers.posix"
    # as tempest does: the same record under a new id (the original's id is taken)
    fault(adm("POST", "backups/import_record", {"backup-record": {"backup_service": record["backup_service"],
                                                                  "backup_url": record["backup_url"]}}),
          400, "badRequest")
    decoded = json.loads(base64.b64decode(record["backup_url"]))
    new_id = str(uuid.uuid4())
    url = base64.b64encode(json.dumps({**decoded, "id": new_id}).encode()).decode()
    # (raw HTTP, as tempest: openstacksdk's import_record posts to .../backups/export_record, with that path
    # in place of the record)
    r = adm("POST", "backups/import_record", {"backup-record": {"backup_service": record["backup_service"],
                                                                "backup_url": url}})
    assert r.status_code == 201, r.text
    assert r.json()["backup"]["id"] == new_id
    shown = adm("GET", f"backups/{new_id}").json()["backup"]
    assert shown["status"] == "available" and shown["volume_id"] == vol["id"] and shown["size"] == 1
    # the imported record restores the original's data
    r = adm("POST", f"backups/{new_id}/restore", {"restore": {"name": "from-record"}})
    assert r.status_code == 202, r.text
    restored = adm.wait("volume", r.json()["restore"]["volume_id"], "available")
    assert raw_bytes(backing_file(cloud, restored["id"]), length=14) == b"exported bytes"
    # malformed records: 400
    for bad in ({"backup_service": "cinder.backup.drivers.posix", "backup_url": "%%%"},
                {"backup_service": "cinder.backup.drivers.swift", "backup_url": url},
                {"backup_service": "x", "backup_url": base64.b64encode(b"[1]").decode()}):
        fault(adm("POST", "backups/import_record", {"backup-record": bad}), 400, "badRequest")
    fault(adm("POST", "backups/import_record", {"backup-record": {}}), 400, "badRequest")
    assert adm("DELETE", f"volumes/{restored['id']}").status_code == 202
    assert adm("DELETE", f"backups/{new_id}").status_code == 202
    adm.wait("backup", new_id, "deleted")
    assert api("DELETE", f"backups/{backup['id']}").status_code == 202
    api.wait("backup", backup["id"], "deleted")
    assert api("DELETE", f"volumes/{vol['id']}").status_code == 202


def test_view_and_filter_additions(cloud: RunningCloud) -> None:
    adm = Api(cloud, admin_token(cloud))
    api = Api(cloud, user_token(cloud))
    vol = new_volume(api)
    r = api("POST", "snapshots", {"snapshot": {"volume_id": vol["id"]}})
    snap = api.wait("snapshot", r.json()["snapshot"]["id"], "available")
    # 3.41: user_id on snapshots
    assert "user_id" not in api("GET", f"snapshots/{snap['id']}", version="3.40").json()["snapshot"]
    assert api("GET", f"snapshots/{snap['id']}", version="3.41").json()["snapshot"]["user_id"]
    # backups: 3.18 project attribute (admins), 3.56 user_id, 3.37 sort by name
    names = []
    for n in ("b-zeta", "b-alpha"):
        r = api("POST", "backups", {"backup": {"volume_id": vol["id"], "name": n}})
        names.append(wait_status(api, "backup", r.json()["backup"]["id"], "available")["id"])
    shown = adm("GET", f"backups/{names[0]}", version="3.56").json()["backup"]
    assert shown["os-backup-project-attr:project_id"] == api.project and shown["user_id"]
    assert "os-backup-project-attr:project_id" not in api("GET", f"backups/{names[0]}", version="3.56").json()["backup"]
    assert "user_id" not in api("GET", f"backups/{names[0]}", version="3.55").json()["backup"]
    listed = api("GET", "backups/detail?sort=name:asc", version="3.37").json()["backups"]
    assert [b["name"] for b in listed if b["id"] in names] == ["b-alpha", "b-zeta"]
    fault(api("GET", "backups?sort=name:asc", version="3.36"), 400, "badRequest")
    # 3.28 / 3.35: pool filters
    pools = adm("GET", "scheduler-stats/get_pools?name=vol-host@file-1%23file-1", version="3.28").json()["pools"]
    assert [p["name"] for p in pools] == ["vol-host@file-1#file-1"]
    pools = adm("GET", "scheduler-stats/get_pools?volume_type=__DEFAULT__", version="3.35").json()["pools"]
    assert [p["name"] for p in pools] == ["vol-host@file-1#file-1"]
    # 3.39: an admin reads another project's limits
    mine = api("GET", "limits").json()["limits"]["absolute"]["totalVolumesUsed"]
    theirs = adm("GET", f"limits?project_id={api.project}", version="3.39").json()["limits"]["absolute"]
    assert theirs["totalVolumesUsed"] == mine >= 1
    for b in names:
        assert api("DELETE", f"backups/{b}").status_code == 202
        api.wait("backup", b, "deleted")
    assert api("DELETE", f"volumes/{vol['id']}?cascade=true").status_code == 202


def test_counts_type_filters_and_transfer_pages(cloud: RunningCloud) -> None:
    adm = Api(cloud, admin_token(cloud))
    api = Api(cloud, user_token(cloud))
    vols = [new_volume(api, name=f"t{i}") for i in range(3)]
    # 3.45: count on snapshots and backups too
    r = api("POST", "snapshots", {"snapshot": {"volume_id": vols[0]["id"]}})
    snap = api.wait("snapshot", r.json()["snapshot"]["id"], "available")
    listed = api("GET", "snapshots?with_count=true&limit=0", version="3.45").json()
    assert listed["count"] >= 1 and listed["snapshots"] == []
    assert "count" not in api("GET", "snapshots?with_count=true", version="3.44").json()
    r = api("POST", "backups", {"backup": {"volume_id": vols[1]["id"]}})
    backup = wait_status(api, "backup", r.json()["backup"]["id"], "available")
    listed = api("GET", "backups?with_count=true&limit=0", version="3.45").json()
    assert listed["count"] >= 1 and listed["backups"] == []
    # 3.52: types by extra specs
    tag = uuid.uuid4().hex[:6]
    r = adm("POST", "types", {"volume_type": {"name": f"spec-{tag}", "extra_specs": {"tier": tag}}})
    type_id = r.json()["volume_type"]["id"]
    found = adm("GET", f'types?extra_specs={{"tier":"{tag}"}}', version="3.52").json()["volume_types"]
    assert [t["id"] for t in found] == [type_id]
    fault(adm("GET", "types?extra_specs=nope", version="3.52"), 400, "badRequest")
    # 3.59: transfers sorted and paged
    made = []
    for v in vols:
        r = api("POST", "volume-transfers", {"transfer": {"volume_id": v["id"], "name": v["name"]}}, version="3.59")
        assert r.status_code == 202, r.text
        made.append(r.json()["transfer"]["id"])
    page = api("GET", "volume-transfers?sort=name:asc&limit=2", version="3.59").json()["transfers"]
    assert [t["name"] for t in page] == ["t0", "t1"]
    rest = api("GET", f"volume-transfers?sort=name:asc&marker={page[1]['id']}", version="3.59").json()["transfers"]
    assert [t["name"] for t in rest] == ["t2"]
    fault(api("GET", f"volume-transfers?marker={uuid.uuid4()}", version="3.59"), 404, "itemNotFound")
    fault(api("GET", "volume-transfers?sort=colour:asc", version="3.59"), 400, "badRequest")
    for t in made:
        assert api("DELETE", f"volume-transfers/{t}", version="3.59").status_code == 202
    assert adm("DELETE", f"types/{type_id}").status_code == 202
    assert api("DELETE", f"backups/{backup['id']}").status_code == 202
    api.wait("backup", backup["id"], "deleted")
    assert api("DELETE", f"snapshots/{snap['id']}").status_code == 202
    api.wait("snapshot", snap["id"], "deleted")
    for v in vols:
        assert api("DELETE", f"volumes/{v['id']}").status_code == 202
