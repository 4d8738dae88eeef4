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


def _common_first(formats: list[str], common: tuple[str, ...]) -> list[str]:
    return [*(f for f in common if f in formats), *(f for f in formats if f not in common)]


def configure(conf: configparser.ConfigParser, recorded: Any, cloud: Mapping[str, Any],
              state: Mapping[str, Any]) -> None:
    """The ``[image]`` and ``[image-feature-enabled]`` sections for the running cloud."""
    settings = recorded or {}
    conf["image"] = {
        "catalog_type": "image",
        "region": str(cloud.get("region_name") or "RegionOne"),
        "endpoint_type": "publicURL",
        # tempest creates its images from the first formats of these lists: the common ones first.
        "disk_formats": ",".join(_common_first(settings.get("disk_formats", ["qcow2", "raw"]), ("qcow2", "raw"))),
        "container_formats": ",".join(_common_first(settings.get("container_formats", ["bare"]), ("bare",))),
    }
    conf["image-feature-enabled"] = {
        "api_v2": "true",
        "api_v1": "false",
        "import_image": "true",
        "os_glance_reserved": "true",
        "manage_locations": "false",
        # Uploaded data is not checked against its disk_format (Glance's format inspector is not
        # reproduced), so tempest's tests that upload arbitrary bytes apply.
        "image_format_enforcement": "false",
    }
