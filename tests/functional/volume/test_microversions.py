"""The block storage additions of microversions 3.3–3.60 with the real clients and raw HTTP: user
messages left by real failures, generalised, like and time filters in SQL, metadata ETags,
services and clusters, manageable volumes, workers cleanup, log levels, backup metadata and
backups of snapshots, volumes from backups."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.image.conftest import Project
from tests.functional.volume.conftest import Api, admin_token, backing_file, cli_json, user_token

pytestmark = pytest.mark.functional


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
    assert api("POST", f"volumes/{vol['id']}/action", {"os-extend": {"new_size": 2}}).status_code == 202
    wait_status(api, "volume", vol["id"], "error_extending")
    events = {m["event_id"] for m in api("GET", f"messages?resource_uuid={vol['id']}").json()["messages"]}
    assert events == {"VOLUME_VOLUME_007_010"}

    # delete with the CLI
    cloud.openstack("--os-volume-api-version", "3.3", "volume", "message", "delete", msg["id"])
    fault(api("GET", f"messages/{msg['id']}"), 404, "itemNotFound")
    for ident in (failed, vol["id"]):
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
