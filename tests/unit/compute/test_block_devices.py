"""Device names of volumes (``litestack/compute/manager/block_devices.py``): Nova's accepted
forms, the first free ``/dev/vdX``, the root disk of an image-backed server."""

from __future__ import annotations

import pytest

from litestack.common import errors
from litestack.compute.manager.block_devices import DeviceInUse, _letters, check_device, next_device

pytestmark = pytest.mark.unit


def test_device_names_nova_accepts() -> None:
    assert check_device(None) is None and check_device("") is None
    assert check_device("/dev/vdb") == "/dev/vdb"
    assert check_device("vdc") == "/dev/vdc"
    assert check_device("/dev/sdb") == "/dev/sdb"
    assert check_device("xvdd") == "/dev/xvdd"
    for bad in ("/dev/vd", "sda1", "/dev/../etc/passwd", "nope", "/dev/vdB"):
        with pytest.raises(errors.BadRequest):
            check_device(bad)


def test_next_free_device() -> None:
    assert [_letters(n) for n in (0, 1, 25, 26, 27)] == ["a", "b", "z", "aa", "ab"]
    assert next_device([]) == "/dev/vda"
    assert next_device(["/dev/vda"]) == "/dev/vdb"
    assert next_device(["/dev/vda", "/dev/vdc"]) == "/dev/vdb"
    assert next_device([f"/dev/vd{_letters(n)}" for n in range(26)]) == "/dev/vdaa"
    assert next_device(["/dev/vda"], "/dev/vdf") == "/dev/vdf"
    with pytest.raises(DeviceInUse):
        next_device(["/dev/vda", "/dev/vdb"], "/dev/vdb")


def test_views_by_microversion() -> None:
    """What the API shows of a mapping at each microversion, whatever the API advertises today."""
    from types import SimpleNamespace

    from litestack.common.api.microversion import Version
    from litestack.compute.api.volumes import attachment_view
    from litestack.compute.manager.block_devices import volumes_attached

    bdm = SimpleNamespace(volume_id="v1", device_name="/dev/vdb", tag="data", delete_on_termination=True)
    assert attachment_view(bdm, "s1", Version(2, 49)) == {"id": "v1", "serverId": "s1", "volumeId": "v1",
                                                          "device": "/dev/vdb"}
    assert attachment_view(bdm, "s1", Version(2, 70))["tag"] == "data"
    inst = SimpleNamespace(block_devices=[bdm, SimpleNamespace(volume_id=None)])
    assert volumes_attached(inst, False) == [{"id": "v1"}]
    assert volumes_attached(inst, True) == [{"id": "v1", "delete_on_termination": True}]
