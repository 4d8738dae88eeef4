"""How ``litestack verify`` configures tempest's compute tests."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from typing import Any


def state(conf: Any) -> dict[str, Any]:
    from litestack.compute.api.base import VERSIONS

    return {"min_microversion": str(VERSIONS.minimum), "max_microversion": str(VERSIONS.maximum),
            "fake_hosts": conf.get("compute", "fake_hosts")}


def configure(conf: configparser.ConfigParser, settings: Mapping[str, Any], cloud: Mapping[str, Any],
              state: Mapping[str, Any]) -> None:
    if not conf.has_section("compute"):
        conf.add_section("compute")
    conf.set("compute", "min_microversion", str(settings.get("min_microversion", "2.1")))
    conf.set("compute", "max_microversion", str(settings.get("max_microversion", "2.1")))
    image, alt = tempest_images(cloud)
    conf.set("compute", "image_ref", image)
    conf.set("compute", "image_ref_alt", alt)
    conf.set("compute", "flavor_ref", "1")
    conf.set("compute", "flavor_ref_alt", "d1")
    conf.set("compute", "build_timeout", "60")
    conf.set("compute", "min_compute_nodes", str(settings.get("fake_hosts", 1)))
    if not conf.has_section("compute-feature-enabled"):
        conf.add_section("compute-feature-enabled")
    for flag, value in (("resize", "true"), ("snapshot", "true"), ("shelve", "true"), ("rescue", "true"),
                        ("console_output", "true"), ("pause", "true"), ("suspend", "true"),
                        ("live_migration", "true"), ("cold_migration", "true"), ("change_password", "true"),
                        ("interface_attach", "true"), ("vnc_console", "false"), ("serial_console", "false"),
                        ("spice_console", "false"), ("personality", "false"), ("attach_encrypted_volume", "false"),
                        ("config_drive", "false"), ("metadata_service", "false"),
                        ("block_migration_for_live_migration", "true")):
        conf.set("compute-feature-enabled", flag, value)


#: The images ``litestack verify`` registers for tempest's servers when the cloud has none.
IMAGE_NAMES = ("litestack-tempest-image", "litestack-tempest-image-alt")


def tempest_images(cloud: Mapping[str, Any]) -> tuple[str, str]:
    """Ids of two active public images for tempest's ``image_ref`` and ``image_ref_alt``: the
    ones registered by an earlier run, else two small raw images made now (as the admin)."""
    import httpx

    auth = cloud.get("auth") or {}
    url = str(auth["auth_url"]).rstrip("/")
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "password": auth["password"],
        "domain": {"name": auth.get("user_domain_name") or "Default"}}}},
        "scope": {"project": {"name": auth["project_name"],
                              "domain": {"name": auth.get("project_domain_name") or "Default"}}}}}
    with httpx.Client(timeout=60) as http:
        r = http.post(f"{url}/v3/auth/tokens", json=body)
        r.raise_for_status()
        token = r.headers["x-subject-token"]
        image_url = next(e["url"] for s in r.json()["token"]["catalog"] if s["type"] == "image"
                         for e in s["endpoints"] if e["interface"] == "public").rstrip("/")
        h = {"X-Auth-Token": token}
        ids = []
        for name in IMAGE_NAMES:
            found = http.get(f"{image_url}/v2/images", headers=h, params={"name": name, "status": "active"})
            images = found.json().get("images", [])
            if images:
                ids.append(str(images[0]["id"]))
                continue
            made = http.post(f"{image_url}/v2/images", headers=h, json={
                "name": name, "disk_format": "raw", "container_format": "bare", "visibility": "public"})
            made.raise_for_status()
            iid = str(made.json()["id"])
            http.put(f"{image_url}/v2/images/{iid}/file", headers={**h, "Content-Type": "application/octet-stream"},
                     content=b"\0" * 1024).raise_for_status()
            ids.append(iid)
    return ids[0], ids[1]
