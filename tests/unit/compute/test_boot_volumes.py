"""The image properties of a snapshot of a volume-backed server and their way back into block
device mappings (``litestack/compute/api/boot_volumes.py``)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from litestack.compute.api.boot_volumes import image_mappings, volume_backed_image_properties

pytestmark = pytest.mark.unit


def test_snapshot_image_properties_round_trip() -> None:
    root = SimpleNamespace(device_name="/dev/vda", boot_index=0, delete_on_termination=True, tag=None,
                           volume_type=None, volume_size=1)
    data = SimpleNamespace(device_name="/dev/vdb", boot_index=None, delete_on_termination=False, tag="db",
                           volume_type="fast", volume_size=5)
    props = volume_backed_image_properties([(root, {"id": "s1", "size": 1}), (data, {"id": "s2", "size": 5})])
    assert props["bdm_v2"] == "True" and props["root_device_name"] == "/dev/vda"
    assert [m["snapshot_id"] for m in json.loads(props["block_device_mapping"])] == ["s1", "s2"]
    items = image_mappings({"id": "img", **props})
    assert items == [
        {"source_type": "snapshot", "destination_type": "volume", "boot_index": 0, "volume_size": 1,
         "device_name": "/dev/vda", "delete_on_termination": True, "uuid": "s1"},
        {"source_type": "snapshot", "destination_type": "volume", "volume_size": 5, "device_name": "/dev/vdb",
         "delete_on_termination": False, "volume_type": "fast", "tag": "db", "uuid": "s2"}]
    # An ordinary image, a broken property, or mappings without bdm_v2: none.
    assert image_mappings({"id": "img"}) == []
    assert image_mappings({"bdm_v2": "True", "block_device_mapping": "{not json"}) == []
    assert image_mappings({"block_device_mapping": props["block_device_mapping"]}) == []
