"""What ``litestack verify`` writes into tempest.conf for the network service."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from typing import Any

from litestack.network.api.extensions import EXTENSIONS


def state(conf: Any) -> dict[str, Any]:
    """The cloud's network settings tempest needs, recorded when the cloud starts."""
    return {"tenant_network_types": list(conf.get("network", "tenant_network_types")),
            "flat_networks": list(conf.get("network", "flat_networks"))}


def configure(conf: configparser.ConfigParser, recorded: Any, cloud: Mapping[str, Any],
              state: Mapping[str, Any]) -> None:
    for section in ("network", "network-feature-enabled"):
        if not conf.has_section(section):
            conf.add_section(section)
    conf.set("network", "project_networks_reachable", "false")
    conf.set("network", "project_network_cidr", "10.100.0.0/16")
    conf.set("network", "project_network_mask_bits", "28")
    conf.set("network-feature-enabled", "api_extensions", ",".join(e.alias for e in EXTENSIONS))
    conf.set("network-feature-enabled", "ipv6", "true")
    conf.set("network-feature-enabled", "ipv6_subnet_attributes", "true")
    public = _public_network(cloud)
    if public is not None:
        # tempest's router and floating IP tests use the external network DevStack's bootstrap made.
        conf.set("network", "public_network_id", public)
        conf.set("network", "floating_network_name", "public")


def _public_network(cloud: Mapping[str, Any]) -> str | None:
    """The id of the external network ``public`` (made by the bootstrap), asked of the running cloud
    with the admin's credentials; None when there is none or the cloud cannot be asked."""
    import httpx

    auth = cloud.get("auth") or {}
    scope: dict[str, Any] = ({"system": {"all": True}} if auth.get("system_scope") else {"project": {
        "name": auth.get("project_name"), "domain": {"name": auth.get("project_domain_name") or "Default"}}})
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth.get("username"), "password": auth.get("password"),
        "domain": {"name": auth.get("user_domain_name") or "Default"}}}}, "scope": scope}}
    try:
        with httpx.Client(timeout=30) as http:
            base = str(auth.get("auth_url", "")).rstrip("/")
            base = base if base.endswith("/v3") else base + "/v3"
            r = http.post(f"{base}/auth/tokens", json=body)
            token = r.headers.get("X-Subject-Token")
            catalog = r.json().get("token", {}).get("catalog", [])
            url = next((e["url"] for s in catalog if s.get("type") == "network" for e in s.get("endpoints", [])
                        if e.get("interface") == "public"), None)
            if not token or not url:
                return None
            nets = http.get(f"{url.rstrip('/')}/v2.0/networks", params={"name": "public", "router:external": "true"},
                            headers={"X-Auth-Token": token}).json().get("networks", [])
    except (httpx.HTTPError, ValueError):
        return None
    return str(nets[0]["id"]) if nets else None
