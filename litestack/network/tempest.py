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
