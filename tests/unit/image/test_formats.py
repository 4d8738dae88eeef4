"""Checksums and disk-format facts computed on the fly (``litestack/image/formats.py``).

Real images come from ``qemu-img`` (and ``genisoimage``) and every virtual size is compared with
what ``qemu-img info`` says; where a tool is missing those tests skip and say so, and the
hand-built headers below (laid out per the qcow2, VMDK, VHD, VHDX, VDI and ECMA-119 specs)
still run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litestack.image.formats import HEAD, Digest, digest_file

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]

QEMU_IMG = shutil.which("qemu-img")
GENISOIMAGE = shutil.which("genisoimage")
needs_qemu_img = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img is not installed (Debian: qemu-utils)")

#: Odd chunk sizes, cycled, so that headers, regions and the VHD footer straddle chunk edges.
ODD_CHUNKS = (1, 511, 4093, 65_537, 3, 1_048_583, 7)


def odd_chunks(data: bytes) -> Iterator[bytes]:
    pos, i = 0, 0
    while pos < len(data):
        n = ODD_CHUNKS[i % len(ODD_CHUNKS)]
        yield data[pos:pos + n]
        pos += n
        i += 1


def digest_of(data: bytes, disk_format: str | None, *, parallel: bool = True) -> Digest:
    d = Digest(disk_format, parallel=parallel)
    for chunk in odd_chunks(data):
        d.update(chunk)
    return d


def assert_hashes(d: Digest, data: bytes) -> None:
    assert d.size == len(data)
    assert d.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert d.sha512 == hashlib.sha512(data).hexdigest()
    assert d.os_hash_algo == "sha512"


def qemu_img(*args: str) -> str:
    assert QEMU_IMG is not None
    return subprocess.run([QEMU_IMG, *args], check=True, capture_output=True, text=True).stdout


def qemu_virtual_size(path: Path, qemu_format: str) -> int:
    return int(json.loads(qemu_img("info", "-f", qemu_format, "--output=json", str(path)))["virtual-size"])


@pytest.fixture(scope="module")
def seed_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 MiB raw disk with data in scattered places, to convert into each format."""
    path = tmp_path_factory.mktemp("seed") / "seed.raw"
    with path.open("wb") as f:
        f.truncate(6 * 1024 * 1024 + 4096)
        for offset in (0, 300_000, 2_500_000, 6 * 1024 * 1024):
            f.seek(offset)
            f.write(os.urandom(70_000))
    return path


# (name, qemu-img format, creation options, declared disk_format, create-or-convert, size)
QEMU_IMAGES = [
    ("qcow2-v3", "qcow2", [], "qcow2", "convert", None),
    ("qcow2-v2", "qcow2", ["-o", "compat=0.10"], "qcow2", "convert", None),
    ("qcow2-empty-odd-size", "qcow2", [], "qcow2", "create", "1234567k"),
    ("qcow2-3T", "qcow2", [], "qcow2", "create", "3T"),
    ("vmdk-sparse", "vmdk", [], "vmdk", "convert", None),
    ("vmdk-stream", "vmdk", ["-o", "subformat=streamOptimized"], "vmdk", "convert", None),
    ("vmdk-sparse-2G", "vmdk", [], "vmdk", "create", "2G"),
    ("vhd-dynamic", "vpc", [], "vhd", "convert", None),
    ("vhd-fixed", "vpc", ["-o", "subformat=fixed"], "vhd", "convert", None),
    ("vhd-force-size", "vpc", ["-o", "force_size=on"], "vhd", "create", "1000M"),
    ("vhdx", "vhdx", [], "vhdx", "convert", None),
    ("vhdx-5G", "vhdx", [], "vhdx", "create", "5G"),
    ("vdi", "vdi", [], "vdi", "convert", None),
    ("raw", "raw", [], "raw", "convert", None),
]


def build(tmp: Path, seed: Path, kind: str, qfmt: str, opts: list[str], how: str, size: str | None) -> Path:
    path = tmp / f"{kind}.img"
    if how == "convert":
        qemu_img("convert", "-f", "raw", "-O", qfmt, *opts, str(seed), str(path))
    else:
        assert size is not None
        qemu_img("create", "-f", qfmt, *opts, str(path), size)
    return path


@needs_qemu_img
@pytest.mark.parametrize(("kind", "qfmt", "opts", "disk_format", "how", "size"), QEMU_IMAGES,
                         ids=[i[0] for i in QEMU_IMAGES])
def test_qemu_images_give_qemus_virtual_size_and_exact_hashes(
        tmp_path: Path, seed_raw: Path, kind: str, qfmt: str, opts: list[str], disk_format: str, how: str,
        size: str | None) -> None:
    path = build(tmp_path, seed_raw, kind, qfmt, opts, how, size)
    data = path.read_bytes()
    d = digest_of(data, disk_format)
    assert_hashes(d, data)
    assert d.virtual_size() == qemu_virtual_size(path, qfmt)
    assert d.detected_format() == disk_format
    assert d.matches()
    assert d.safety_problem() is None
    # The same facts whatever the chunking: whole file at once, 1 MiB pieces, no hash thread.
    whole = Digest(disk_format)
    whole.update(data)
    assert whole.virtual_size() == d.virtual_size() and whole.sha512 == d.sha512
    assert digest_file(path, disk_format).virtual_size() == d.virtual_size()
    serial = digest_of(data, disk_format, parallel=False)
    assert serial.sha512 == d.sha512 and serial.virtual_size() == d.virtual_size()
    for step in (512, 65_000, 4 << 20):
        even = Digest(disk_format)
        for i in range(0, len(data), step):
            even.update(data[i:i + step])
        assert even.virtual_size() == d.virtual_size() and even.md5 == d.md5, step


@needs_qemu_img
@pytest.mark.parametrize(("kind", "qfmt", "opts", "disk_format", "how", "size"),
                         [i for i in QEMU_IMAGES if i[4] == "convert" and i[3] != "raw"],
                         ids=[i[0] for i in QEMU_IMAGES if i[4] == "convert" and i[3] != "raw"])
def test_truncated_images_never_raise(tmp_path: Path, seed_raw: Path, kind: str, qfmt: str, opts: list[str],
                                      disk_format: str, how: str, size: str | None) -> None:
    data = build(tmp_path, seed_raw, kind, qfmt, opts, how, size).read_bytes()
    for cut in (0, 1, 3, 4, 8, 31, 100, 511, 512, 513, 4096, HEAD - 1, HEAD, HEAD + 1, 200_000, 300_000,
                len(data) - 513, len(data) - 1):
        part = data[:cut]
        d = digest_of(part, disk_format)
        size_seen = d.virtual_size()
        assert size_seen is None or size_seen >= 0
        d.detected_format()
        d.matches()
        d.safety_problem()
        assert_hashes(d, part)


@needs_qemu_img
def test_vhdx_cut_before_its_metadata_has_no_virtual_size(tmp_path: Path, seed_raw: Path) -> None:
    data = build(tmp_path, seed_raw, "vhdx", "vhdx", [], "convert", None).read_bytes()
    d = digest_of(data[:256 * 1024], "vhdx")
    assert d.detected_format() == "vhdx"
    assert d.virtual_size() is None


@needs_qemu_img
def test_a_vmdk_descriptor_with_a_flat_extent_is_sized_but_refused(tmp_path: Path) -> None:
    path = tmp_path / "flat.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(path), "100M")
    d = digest_of(path.read_bytes(), "vmdk")
    assert d.detected_format() == "vmdk"
    assert d.virtual_size() == qemu_virtual_size(path, "vmdk") == 100 * 1024 * 1024
    assert d.safety_problem() is not None and "monolithicFlat" in d.safety_problem()  # type: ignore[operator]


@needs_qemu_img
def test_qcow2_with_a_backing_file_or_a_data_file_is_unsafe(tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    qemu_img("create", "-f", "qcow2", str(base), "10M")
    child = tmp_path / "child.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(child))
    external = tmp_path / "external.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", f"data_file={tmp_path / 'data.raw'}", str(external), "10M")
    for path, word in ((child, "backing file"), (external, "data file")):
        d = digest_of(path.read_bytes(), "qcow2")
        assert d.matches()
        assert d.virtual_size() == qemu_virtual_size(path, "qcow2")
        problem = d.safety_problem()
        assert problem is not None and word in problem


@needs_qemu_img
def test_content_that_is_not_the_declared_format_does_not_match(tmp_path: Path, seed_raw: Path) -> None:
    qcow2 = build(tmp_path, seed_raw, "q", "qcow2", [], "convert", None).read_bytes()
    raw = seed_raw.read_bytes()
    as_raw = digest_of(qcow2, "raw")
    assert as_raw.detected_format() == "qcow2"
    assert not as_raw.matches()
    assert as_raw.matches("qcow2")
    as_qcow2 = digest_of(raw, "qcow2")
    assert not as_qcow2.matches()
    assert as_qcow2.virtual_size() is None  # not a qcow2 header
    assert digest_of(qcow2, "vmdk").matches() is False
    # Formats not inspected here take anything but a recognised disk image.
    assert digest_of(raw, "ami").matches()
    assert digest_of(raw, "ami").virtual_size() is None
    assert not digest_of(qcow2, "aki").matches()


@pytest.mark.skipif(GENISOIMAGE is None, reason="genisoimage is not installed")
def test_an_iso_made_by_genisoimage_is_iso_and_sized_as_its_data(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "hello.txt").write_text("hello\n" * 1000)
    iso = tmp_path / "x.iso"
    subprocess.run([GENISOIMAGE or "genisoimage", "-quiet", "-o", str(iso), str(tmp_path / "content")], check=True)
    data = iso.read_bytes()
    d = digest_of(data, "iso")
    assert_hashes(d, data)
    assert d.detected_format() == "iso" and d.matches() and d.safety_problem() is None
    assert d.virtual_size() == len(data)
    assert not digest_of(data, "raw").matches()


# --- hand-built headers, per the published specs --------------------------------------------


def qcow2_header(size: int, *, version: int = 3, backing: int = 0, incompatible: int = 0) -> bytes:
    head = struct.pack(">4sIQIIQIIQQIIQ", b"QFI\xfb", version, backing, 0, 16, size, 0, 1, 0x30000,
                       0x10000, 1, 0, 0)
    if version == 3:
        head += struct.pack(">QQQII", incompatible, 0, 0, 4, 104)
    return head.ljust(4096, b"\0")


def vmdk_sparse(capacity_sectors: int, create_type: str = "monolithicSparse", descriptor_sector: int = 1) -> bytes:
    header = struct.pack("<4sIIQQQQIQQQB4sH", b"KDMV", 1, 3, capacity_sectors, 128, descriptor_sector, 20, 512, 0,
                         21, 128, 0, b"\n \r\n", 0).ljust(descriptor_sector * 512, b"\0")
    descriptor = (f'# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="{create_type}"\n'
                  f'\n# Extent description\nRW {capacity_sectors} SPARSE "disk.vmdk"\n').encode()
    return header + descriptor.ljust(20 * 512, b"\0") + b"\0" * 4096


def vhd_footer(current_size: int, disk_type: int = 2) -> bytes:
    footer = struct.pack(">8sIIQI4sI4sQQIII16sB", b"conectix", 2, 0x10000, 0xFFFFFFFFFFFFFFFF, 0, b"win ",
                         0x000A0000, b"Wi2k", current_size, current_size, 0, disk_type, 0, uuid.uuid4().bytes, 0)
    return footer.ljust(512, b"\0")


def vhdx_image(virtual_size: int, metadata_at: int = 2 * 1024 * 1024, size_item_at: int = 65544) -> bytes:
    data = bytearray(metadata_at + 128 * 1024)
    data[0:8] = b"vhdxfile"
    metadata_guid = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
    bat_guid = uuid.UUID("2DC27766-F623-4200-9D64-115E9BFD4A08").bytes_le
    for table in (192 * 1024, 256 * 1024):
        data[table:table + 16] = struct.pack("<4sIII", b"regi", 0, 2, 0)
        data[table + 16:table + 48] = struct.pack("<16sQII", bat_guid, 3 * 1024 * 1024, 1024 * 1024, 1)
        data[table + 48:table + 80] = struct.pack("<16sQII", metadata_guid, metadata_at, 1024 * 1024, 1)
    size_guid = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le
    other_guid = uuid.UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B").bytes_le  # file parameters
    data[metadata_at:metadata_at + 32] = struct.pack("<8sHH20x", b"metadata", 0, 2)
    data[metadata_at + 32:metadata_at + 64] = struct.pack("<16sIII4x", other_guid, 65536, 8, 4)
    data[metadata_at + 64:metadata_at + 96] = struct.pack("<16sIII4x", size_guid, size_item_at, 8, 6)
    data[metadata_at + size_item_at:metadata_at + size_item_at + 8] = struct.pack("<Q", virtual_size)
    return bytes(data)


def vdi_header(disk_size: int) -> bytes:
    head = bytearray(512)
    head[0:40] = b"<<< QEMU VM Virtual Disk Image >>>\n".ljust(40, b"\0")
    struct.pack_into("<II", head, 0x40, 0xBEDA107F, 0x00010001)
    struct.pack_into("<Q", head, 0x170, disk_size)
    return bytes(head) + b"\0" * 4096


def iso_image(sectors: int = 40) -> bytes:
    data = bytearray(sectors * 2048)
    pvd = 16 * 2048
    data[pvd:pvd + 7] = b"\x01CD001\x01"
    struct.pack_into("<I", data, pvd + 80, sectors)
    struct.pack_into(">I", data, pvd + 84, sectors)
    data[17 * 2048:17 * 2048 + 7] = b"\xffCD001\x01"  # volume descriptor set terminator
    return bytes(data)


@pytest.mark.parametrize(("data", "disk_format", "virtual_size"), [
    (qcow2_header(10 * 2**30), "qcow2", 10 * 2**30),
    (qcow2_header(12345 * 512, version=2), "qcow2", 12345 * 512),
    (vmdk_sparse(8 * 2048), "vmdk", 8 * 2**20),
    (vmdk_sparse(8 * 2048, "streamOptimized"), "vmdk", 8 * 2**20),
    (vhd_footer(5 * 2**30, disk_type=3) + b"\0" * 1536 + b"x" * 100_000 + vhd_footer(5 * 2**30, disk_type=3),
     "vhd", 5 * 2**30),
    (os.urandom(300_000) + vhd_footer(300_000 - 300_000 % 512), "vhd", 300_000 - 300_000 % 512),
    (vhdx_image(7 * 2**30), "vhdx", 7 * 2**30),
    (vhdx_image(3 * 2**30, metadata_at=1024 * 1024), "vhdx", 3 * 2**30),
    (vhdx_image(9 * 2**30, size_item_at=4096), "vhdx", 9 * 2**30),
    (vmdk_sparse(4 * 2048, descriptor_sector=120), "vmdk", 4 * 2**20),
    (vdi_header(2**31), "vdi", 2**31),
    (iso_image(), "iso", 40 * 2048),
    (os.urandom(100_000), "raw", 100_000),
    (b"", "raw", 0),
], ids=["qcow2-v3", "qcow2-v2", "vmdk", "vmdk-stream", "vhd-dynamic", "vhd-fixed", "vhdx", "vhdx-1M",
        "vhdx-size-in-table", "vmdk-descriptor-across-head", "vdi", "iso", "raw", "empty"])
def test_hand_built_headers(data: bytes, disk_format: str, virtual_size: int) -> None:
    d = digest_of(data, disk_format)
    assert_hashes(d, data)
    assert d.detected_format() == disk_format
    assert d.matches()
    assert d.virtual_size() == virtual_size
    assert d.safety_problem() is None
    undeclared = digest_of(data, None)
    assert undeclared.virtual_size() == virtual_size


def test_hand_built_unsafe_headers() -> None:
    assert "backing file" in (digest_of(qcow2_header(2**20, backing=512), "qcow2").safety_problem() or "")
    assert "data file" in (digest_of(qcow2_header(2**20, incompatible=4), "qcow2").safety_problem() or "")
    assert "unknown" in (digest_of(qcow2_header(2**20, incompatible=1 << 40), "qcow2").safety_problem() or "")
    assert "not allowed" in (digest_of(vmdk_sparse(2048, "vmfs"), "vmdk").safety_problem() or "")
    assert digest_of(qcow2_header(2**20, version=4), "qcow2").virtual_size() is None


def test_a_qcow2_hidden_in_an_iso_matches_nothing() -> None:
    data = bytearray(iso_image())
    data[:4096] = qcow2_header(2**30)
    d = digest_of(bytes(data), "iso")
    assert d.detected_formats() == {"iso", "qcow2"}
    assert d.detected_format() is None
    assert not d.matches() and not d.matches("qcow2") and not d.matches("raw")
    assert d.safety_problem() is not None


MAGICS = [b"QFI\xfb", b"KDMV", b"vhdxfile", b"# Disk DescriptorFile\n", b"conectix", b""]


@settings(max_examples=150, deadline=None)
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=3000), fmt=st.sampled_from(
    ["qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "raw", "ami", None]), footer=st.booleans())
def test_garbage_never_raises(magic: bytes, body: bytes, fmt: str | None, footer: bool) -> None:
    data = magic + body + (b"conectix" + body[:504] if footer else b"")
    d = digest_of(data, fmt)
    size = d.virtual_size()
    assert size is None or size >= 0
    d.detected_format()
    d.matches()
    d.safety_problem()
    assert_hashes(d, data)


def test_garbage_headers_with_region_pointers_never_raise() -> None:
    # Region tables and descriptors pointing anywhere, including before the current position.
    vhdx = bytearray(vhdx_image(2**30))
    struct.pack_into("<Q", vhdx, 192 * 1024 + 48 + 16, 100)  # metadata "region" inside the header
    assert digest_of(bytes(vhdx), "vhdx").virtual_size() is None
    struct.pack_into("<I", vhdx, 192 * 1024 + 8, 2**31)  # absurd entry count
    assert digest_of(bytes(vhdx), "vhdx").virtual_size() is None
    vmdk = bytearray(vmdk_sparse(2048))
    struct.pack_into("<QQ", vmdk, 28, 2**60, 2**60)  # descriptor far away and huge
    d = digest_of(bytes(vmdk), "vmdk")
    assert d.virtual_size() == 2048 * 512
    assert d.safety_problem() == "The VMDK descriptor is missing."


def test_the_digest_keeps_no_more_than_its_windows() -> None:
    chunk = os.urandom(1 << 20)
    d = Digest("vhd")
    d.update(chunk)  # warm up: the hash thread pool, the head
    tracemalloc.start()
    try:
        for _ in range(48):
            d.update(chunk)
        assert d.sha512  # waits for the last chunk's sha512
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current < 256 * 1024  # 48 MiB went through
    assert d.size == 49 << 20


def test_a_reused_buffer_is_hashed_as_it_was_when_given() -> None:
    buf = bytearray(b"a" * (1 << 20))
    d = Digest("raw")
    d.update(buf)
    buf[:] = b"b" * (1 << 20)  # the caller refills its buffer at once
    d.update(memoryview(buf))
    expected = b"a" * (1 << 20) + b"b" * (1 << 20)
    assert_hashes(d, expected)


@pytest.mark.parametrize(("data", "virtual_size"), [
    (vmdk_sparse(4 * 2048, descriptor_sector=120), 4 * 2**20),
    (vhdx_image(9 * 2**30, size_item_at=4096), 9 * 2**30),
], ids=["vmdk-descriptor-across-head", "vhdx-size-in-table"])
def test_regions_that_began_in_bytes_already_seen_are_still_read(data: bytes, virtual_size: int) -> None:
    # 65,000-byte chunks: the chunk that completes the head (or the VHDX metadata table) starts
    # after the region it points to, so that region must come from what was kept.
    d = Digest(None)
    for i in range(0, len(data), 65_000):
        d.update(data[i:i + 65_000])
    assert d.virtual_size() == virtual_size
    assert d.safety_problem() is None


def test_a_forked_worker_hashes_on_threads_of_its_own() -> None:
    parent = Digest("raw")
    parent.update(b"p" * (1 << 20))  # the parent's pool exists now
    assert parent.sha512
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if hashing on the pool works there
        ok = False
        try:
            child = Digest("raw")
            child.update(b"c" * (1 << 20))
            ok = child.sha512 == hashlib.sha512(b"c" * (1 << 20)).hexdigest()
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung hashing")
    assert os.waitstatus_to_exitcode(done[1]) == 0
