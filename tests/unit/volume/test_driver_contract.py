"""One contract suite for every volume backend driver (``file`` with real qemu-img, and ``fake``):
what the agent relies on. Data checks run where the driver keeps data."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from litestack.volume.drivers import make_driver
from litestack.volume.drivers.base import GiB, ImageTooLarge, NotFoundOnBackend, VolumeDriver
from litestack.volume.drivers.file import FileDriver

pytestmark = pytest.mark.unit

MiB = 1 << 20


@pytest.fixture(params=["file-raw", "file-qcow2", "fake"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VolumeDriver]:
    kind, _, fmt = request.param.partition("-")
    yield make_driver(kind, "b1", tmp_path, volume_format=fmt or "raw", capacity_gb=10, host="h1")


def read(driver: VolumeDriver, volume_id: str, length: int) -> bytes | None:
    """The first bytes a guest would see, or None for a driver without data."""
    if not isinstance(driver, FileDriver):
        return None
    out = driver.directory / f"read-{volume_id}"
    subprocess.run(["qemu-img", "convert", "-f", driver.format, "-O", "raw", str(driver.path(volume_id)), str(out)],
                   check=True)
    try:
        with out.open("rb") as f:
            return f.read(length)
    finally:
        out.unlink()


def write(driver: VolumeDriver, volume_id: str, data: bytes) -> None:
    if isinstance(driver, FileDriver):
        subprocess.run(["qemu-io", "-f", driver.format, "-c", f"write -P 0x5a 0 {len(data)}",
                        str(driver.path(volume_id))], check=True, capture_output=True)


def test_create_extend_delete(driver: VolumeDriver) -> None:
    driver.create("v1", 1)
    assert driver.volume_ids() == {"v1"}
    driver.extend("v1", 2)
    if isinstance(driver, FileDriver):
        from litestack.volume.drivers.file import image_info

        assert image_info(driver.path("v1"), driver.format)["virtual-size"] == 2 * GiB
    driver.delete("v1")
    driver.delete("v1")  # idempotent
    assert driver.volume_ids() == set()
    with pytest.raises(NotFoundOnBackend):
        driver.extend("v1", 3)


def test_snapshot_is_independent_of_later_writes(driver: VolumeDriver) -> None:
    driver.create("v1", 1)
    write(driver, "v1", b"Z" * MiB)
    driver.create_snapshot("v1", "s1")
    if isinstance(driver, FileDriver):
        subprocess.run(["qemu-io", "-f", driver.format, "-c", f"write -P 0x11 0 {MiB}", str(driver.path("v1"))],
                       check=True, capture_output=True)
    driver.create_from_snapshot("s1", "v2", 2)
    driver.clone("v1", "v3", 1)
    got = read(driver, "v2", MiB)
    assert got is None or got == b"Z" * MiB
    got = read(driver, "v3", MiB)
    assert got is None or got == b"\x11" * MiB
    driver.revert_to_snapshot("v1", "s1", 1)
    got = read(driver, "v1", MiB)
    assert got is None or got == b"Z" * MiB
    assert driver.snapshot_ids() == {"s1"}
    driver.delete_snapshot("s1")
    driver.delete_snapshot("s1")
    for v in ("v1", "v2", "v3"):
        driver.delete(v)
    assert driver.volume_ids() == set() and driver.snapshot_ids() == set()
    if isinstance(driver, FileDriver):
        assert list(driver.directory.iterdir()) == []  # nothing left on disk


def test_image_in_and_out(driver: VolumeDriver, tmp_path: Path) -> None:
    data = os.urandom(MiB + 512)
    img = tmp_path / "img.raw"
    img.write_bytes(data)
    driver.copy_image_to_volume("v1", img, "raw", 1)
    got = read(driver, "v1", len(data))
    assert got is None or got == data
    out = tmp_path / "out.qcow2"
    driver.copy_volume_to_image("v1", out, "qcow2")
    if isinstance(driver, FileDriver):
        raw = tmp_path / "out.raw"
        subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(out), str(raw)], check=True)
        assert raw.read_bytes()[:len(data)] == data and raw.stat().st_size == GiB
    big = tmp_path / "big.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(big), str(3 * GiB)], check=True, capture_output=True)
    if isinstance(driver, FileDriver):
        with pytest.raises(ImageTooLarge):
            driver.copy_image_to_volume("v2", big, "qcow2", 1)
        assert "v2" not in driver.volume_ids()


def test_connection_info(driver: VolumeDriver) -> None:
    driver.create("v1", 1)
    info = driver.connection_info("v1", {"host": "h1"})
    assert info["driver_volume_type"] in ("local", "fake")
    if isinstance(driver, FileDriver):
        assert info["data"]["device_path"] == str(driver.path("v1"))
    with pytest.raises(NotFoundOnBackend):
        driver.connection_info("nope", None)
    assert driver.stats().total_capacity_gb == 10


def test_file_driver_sweeps_half_written_files(tmp_path: Path) -> None:
    d = FileDriver("b1", tmp_path / "b1")
    (d.directory / ".tmp-1234-volume-x").write_bytes(b"partial")
    assert d.remove_temporary() == 1 and d.volume_ids() == set()


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown volume backend kind"):
        make_driver("lvm", "b", tmp_path)


def test_a_consumed_raw_download_becomes_the_volume(driver: VolumeDriver, tmp_path: Path) -> None:
    data = os.urandom(MiB)
    img = tmp_path / "download.raw"
    img.write_bytes(data)
    driver.copy_image_to_volume("v1", img, "raw", 1, consume=True)
    got = read(driver, "v1", 2 * MiB)
    assert got is None or got == data + bytes(MiB)
    if isinstance(driver, FileDriver) and driver.format == "raw":
        assert driver.path("v1").stat().st_size == GiB and not img.exists()  # taken over, grown sparsely


def test_a_volume_is_exported_over_nbd_to_another_host(tmp_path: Path) -> None:
    d = FileDriver("b1", tmp_path / "b1", "qcow2", host="host-b")
    d.create("v1", 1)
    assert d.connection_info("v1", {"host": "host-b"})["driver_volume_type"] == "local"
    info = d.connection_info("v1", {"host": "host-a"})
    try:
        assert info["driver_volume_type"] == "nbd"
        assert d.connection_info("v1", {"host": "host-a"})["data"]["port"] == info["data"]["port"]  # one export
        uri = info["data"]["uri"]
        # bytes written through the export (as host-a's hypervisor would) land in the file on host-b
        subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x7e 1M 64k", uri], check=True, capture_output=True)
    finally:
        d.remove_export("v1")
    deadline = time.monotonic() + 10
    while True:  # qemu-nbd releases the file's lock as it exits
        try:
            got = read(d, "v1", 2 * MiB)
            break
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert got is not None and got[MiB:MiB + 65536] == b"\x7e" * 65536 and got[:MiB] == bytes(MiB)
    failed = subprocess.run(["qemu-io", "-f", "raw", "-c", "read 0 4k", info["data"]["uri"]], capture_output=True)
    assert failed.returncode != 0  # the export is gone
    d.delete("v1")
    assert list(d.directory.iterdir()) == []
