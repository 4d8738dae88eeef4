"""What ``litestack verify`` writes into tempest.conf for the block storage service."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from typing import Any

from litestack.volume.api.base import VERSIONS
from litestack.volume.api.misc import EXTENSIONS


def state(conf: Any) -> dict[str, Any]:
    backends = [b.partition(":")[0] for b in conf.get("volume", "backends")]
    return {"backends": backends, "zone": conf.get("volume", "availability_zone"),
            "format": conf.get("volume", "volume_format")}


def configure(conf: configparser.ConfigParser, recorded: Any, cloud: Mapping[str, Any],
              state: Mapping[str, Any]) -> None:
    settings = recorded or {}
    backends = settings.get("backends") or ["file-1"]
    conf["volume"] = {
        "catalog_type": "block-storage",
        "region": str(cloud.get("region_name") or "RegionOne"),
        "endpoint_type": "publicURL",
        "backend_names": ",".join(backends),
        "availability_zone": str(settings.get("zone") or "nova"),
        "min_microversion": str(VERSIONS.minimum),
        "max_microversion": str(VERSIONS.maximum),
        "volume_size": "1",
        "build_timeout": "120",
        "storage_protocol": "local",
        "vendor_name": "litestack",
        "disk_format": "raw,qcow2",
        "volume_type_multiattach": "",
        # the file backend's names for a volume's and a snapshot's data (what manage adopts)
        "manage_volume_ref": "source-name,volume-%s",
        "manage_snapshot_ref": "source-name,snapshot-%s",
    }
    conf["volume-feature-enabled"] = {
        "multi_backend": "true" if len(backends) > 1 else "false",
        "backup": "true",
        "snapshot": "true",
        "clone": "true",
        "manage_snapshot": "true",
        "manage_volume": "true",
        "extend_attached_volume": "false",
        "extend_volume_with_snapshot": "true",
        "volume_revert": "true",
        "api_v3": "true",
        "api_extensions": ",".join(alias for alias, _, _ in EXTENSIONS),
        "cluster_active_active": "false",
        "consistency_group": "false",
    }
