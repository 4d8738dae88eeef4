"""What ``litestack verify`` writes into tempest.conf for the image service."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from typing import Any

from litestack.common.config import Config


def state(conf: Config) -> dict[str, Any]:
    """The image settings recorded in state.json for ``litestack verify``."""
    img = conf.section("image")
    return {"disk_formats": list(img["disk_formats"]), "container_formats": list(img["container_formats"]),
            "stores": len(img["stores"]), "web_download": bool(img["web_download_enabled"])}


def configure(conf: configparser.ConfigParser, recorded: Any, cloud: Mapping[str, Any],
              state: Mapping[str, Any]) -> None:
    """The ``[image]`` and ``[image-feature-enabled]`` sections for the running cloud."""
    settings = recorded or {}
    conf["image"] = {
        "catalog_type": "image",
        "region": str(cloud.get("region_name") or "RegionOne"),
        "endpoint_type": "publicURL",
        "disk_formats": ",".join(settings.get("disk_formats", ["qcow2", "raw"])),
        "container_formats": ",".join(settings.get("container_formats", ["bare"])),
    }
    conf["image-feature-enabled"] = {
        "api_v2": "true",
        "api_v1": "false",
        "import_image": "true",
        "os_glance_reserved": "true",
        "manage_locations": "false",
    }
