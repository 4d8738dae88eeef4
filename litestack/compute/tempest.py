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
    conf.set("compute", "flavor_ref", "1")
    conf.set("compute", "flavor_ref_alt", "d1")
    conf.set("compute", "build_timeout", "60")
    conf.set("compute", "min_compute_nodes", str(settings.get("fake_hosts", 1)))
    if not conf.has_section("compute-feature-enabled"):
        conf.add_section("compute-feature-enabled")
    for flag, value in (("resize", "false"), ("snapshot", "false"), ("shelve", "false"), ("rescue", "false"),
                        ("console_output", "true"), ("pause", "true"), ("suspend", "true"),
                        ("live_migration", "false"), ("cold_migration", "false"), ("change_password", "false"),
                        ("interface_attach", "false"), ("vnc_console", "false"), ("serial_console", "false"),
                        ("spice_console", "false"), ("personality", "false"), ("attach_encrypted_volume", "false"),
                        ("config_drive", "false"), ("metadata_service", "false"),
                        ("block_migration_for_live_migration", "false")):
        conf.set("compute-feature-enabled", flag, value)
