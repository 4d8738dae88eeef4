"""Image data on the fly: Glance's checksums, and what the disk-format headers say.

A ``Digest`` is fed every chunk of an upload, in order, and never holds the data: it keeps the
first ``HEAD`` bytes (where qcow2, vmdk, vhdx, vdi and ISO 9660 say what they are), the last 512
(a VHD's footer), and the few regions further in that a header points to (the VHDX region table
and metadata, a VMDK descriptor placed after the head). From these it gives:

- ``md5`` (Glance's ``checksum``) and ``sha512`` (``os_hash_value``, ``os_hash_algo`` "sha512");
- ``virtual_size()``: from the header for qcow2, vmdk, vhd, vhdx and vdi; the data size for raw
  and iso; None for formats it does not read (ami, ari, aki, ploop…) and for broken headers;
- ``detected_format()`` and ``matches()``: whether the content is what ``disk_format`` claims,
  as Glance checks with ``[image_format] require_image_format_match``;
- ``safety_problem()``: the content Glance refuses even when the format matches (a qcow2 with
  a backing file or an external data file, a vmdk that is not one self-contained sparse file).

Nothing here raises on bad data: truncated or garbage headers give None (and "raw").

Speed: md5 and sha512 are the CPU cost of an upload (≈780 and ≈1060 MiB/s on one core of the
machine this was written on). With ``parallel=True`` (the default) each chunk of at least
``PARALLEL_MIN`` bytes is hashed with sha512 on a shared worker thread while the calling thread
does md5, so the two run on two cores; ``update`` returns once md5 is done and the previous
chunk's sha512 has finished, and the properties wait for the last one. Call ``update`` from a
worker thread, with chunks of about 1 MiB, never on the event loop
(``litestack.image.drivers.transfer.receive`` does both).
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

#: Disk formats whose content is recognised (and whose virtual size comes from a header).
INSPECTED = frozenset({"qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"})
#: The hash Glance reports as ``os_hash_algo`` (its default ``hashing_algorithm``).
OS_HASH_ALGO = "sha512"

HEAD = 64 * 1024  # covers the ISO 9660 primary volume descriptor at 32 KiB
TAIL = 512  # a VHD footer
PARALLEL_MIN = 64 * 1024  # smaller chunks are hashed inline: the thread hop would cost more
_MAX_REGION = 1024 * 1024  # the largest region a header may make us keep (a VMDK descriptor)

_QCOW2_MAGIC = b"QFI\xfb"
_VMDK_MAGIC = b"KDMV"
_VMDK_DESCRIPTOR = b"# Disk DescriptorFile"
_VHD_COOKIE = b"conectix"
_VHDX_SIGNATURE = b"vhdxfile"
_VDI_SIGNATURE = 0xBEDA107F
_ISO_OFFSET = 16 * 2048 + 1  # "CD001" in the first volume descriptor

_VHDX_REGION_TABLE = 192 * 1024
_VHDX_METADATA_REGION = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
_VHDX_VIRTUAL_DISK_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le

# qcow2 v3 incompatible feature bits: dirty, corrupt, external data file, compression type,
# extended L2 entries. Any other bit is a feature we cannot vouch for.
_QCOW2_DATA_FILE = 1 << 2
_QCOW2_KNOWN_INCOMPATIBLE = 0b11111

_VMDK_ALLOWED = ("monolithicSparse", "streamOptimized")
_VMDK_EXTENT = re.compile(r'^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)")?(?:\s+(\d+))?\s*$')

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    # A forked worker (``litestack up --workers``) inherits the pool but not its threads: work
    # submitted there would wait forever. Each child starts its own on first use.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def hash_pool() -> ThreadPoolExecutor:
    """The threads that sha512 (and ``transfer``'s writes) run on: one per core, shared by every
    upload, so twenty concurrent uploads do not start forty threads."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="image-hash")
        return _pool


class _Region:
    """Bytes ``[offset, offset + length)`` of the stream, kept as they pass by."""

    __slots__ = ("buf", "length", "missed", "offset", "on_complete")

    def __init__(self, offset: int, length: int, on_complete: Callable[[_Region], None] | None = None) -> None:
        self.offset = offset
        self.length = length
        self.buf = bytearray()
        self.missed = False  # asked for after its start had gone by
        self.on_complete = on_complete

    @property
    def complete(self) -> bool:
        return len(self.buf) >= self.length

    def feed(self, chunk: bytes, start: int) -> None:
        want = self.offset + len(self.buf)  # the next byte this region needs
        end = start + len(chunk)
        if want < start:
            self.missed = True
            return
        stop = min(end, self.offset + self.length)
        if want < stop:
            self.buf += chunk[want - start:stop - start]


def _completed(region: _Region) -> None:
    """Run a region's parser; a malformed one only means the facts it would give stay None."""
    if region.on_complete is not None:
        try:
            region.on_complete(region)
        except (struct.error, ValueError):
            pass


class Digest:
    """Checksums and format facts of one image's data, fed chunk by chunk (see the module doc).

    Not for concurrent ``update`` calls: one feeder at a time, in stream order. Chunks must not
    change after ``update`` (``bytes`` cannot); the sha512 worker may still be reading one.
    """

    def __init__(self, disk_format: str | None, *, parallel: bool = True) -> None:
        self.disk_format = disk_format
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha512 = hashlib.sha512()
        self._parallel = parallel
        self._pending: Future[None] | None = None
        self._head = bytearray()
        self._tail = b""
        self._regions: list[_Region] = []  # still filling
        self._kept: dict[str, _Region] = {}
        self._head_seen = False

    # --- feeding --------------------------------------------------------------------------

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Account for the next ``chunk`` of the data (anything but ``bytes`` is copied first)."""
        if type(chunk) is not bytes:
            chunk = bytes(chunk)  # the sha512 thread may still read it after we return
        n = len(chunk)
        if not n:
            return
        if self._pending is not None:
            self._pending.result()  # sha512 of the previous chunk: keeps the order
            self._pending = None
        if self._parallel and n >= PARALLEL_MIN:
            self._pending = hash_pool().submit(self._sha512.update, chunk)
        else:
            self._sha512.update(chunk)
        self._md5.update(chunk)
        start = self.size
        self.size += n
        if len(self._head) < HEAD:
            self._head += chunk[:HEAD - len(self._head)]
            if len(self._head) >= HEAD:
                self._on_head()
        if self._regions:
            self._feed_regions(chunk, start)
        self._tail = chunk[-TAIL:] if n >= TAIL else (self._tail + chunk)[-TAIL:]

    def _feed_regions(self, chunk: bytes, start: int) -> None:
        # A region completed here may ask for another one that this same chunk already covers.
        i = 0
        while i < len(self._regions):
            region = self._regions[i]
            region.feed(chunk, start)
            if region.complete or region.missed:
                self._regions.pop(i)
                if region.complete:
                    _completed(region)
                continue
            i += 1

    def _want(self, name: str, offset: int, length: int, on_complete: Callable[[_Region], None] | None = None,
              *, known: bytes = b"", known_at: int = 0) -> None:
        """Keep bytes ``[offset, offset + length)`` under ``name``, taking what is already at hand
        from the head (or from ``known``, the bytes at ``known_at``); ``on_complete`` parses them."""
        if offset < 0 or length <= 0 or length > _MAX_REGION:
            return
        region = _Region(offset, length, on_complete)
        self._kept[name] = region
        for have, at in ((self._head, 0), (known, known_at)):
            if at <= offset < at + len(have):
                region.buf += have[offset - at:min(offset + length, at + len(have)) - at]
                break
        if region.complete:
            _completed(region)
        else:
            self._regions.append(region)

    def _on_head(self) -> None:
        """Once the head is in: ask for the regions its header points to."""
        if self._head_seen:
            return
        self._head_seen = True
        head = bytes(self._head)
        if head.startswith(_VMDK_MAGIC):
            try:
                offset, length = struct.unpack_from("<QQ", head, 28)
            except struct.error:
                return
            if offset:
                self._want("vmdk-descriptor", offset * 512, length * 512)
        elif head.startswith(_VHDX_SIGNATURE):
            self._want("vhdx-regions", _VHDX_REGION_TABLE, 64 * 1024, self._on_vhdx_regions)

    def _on_vhdx_regions(self, region: _Region) -> None:
        table = bytes(region.buf)
        if table[:4] != b"regi":
            return
        (count,) = struct.unpack_from("<I", table, 8)
        for i in range(min(count, 2047)):
            guid, offset, _length = struct.unpack_from("<16sQI", table, 16 + 32 * i)
            if guid == _VHDX_METADATA_REGION:
                self._want("vhdx-metadata-table", offset, 64 * 1024, partial(self._on_vhdx_metadata, base=offset))
                return

    def _on_vhdx_metadata(self, region: _Region, base: int) -> None:
        table = bytes(region.buf)
        if table[:8] != b"metadata":
            return
        (count,) = struct.unpack_from("<H", table, 10)
        for i in range(min(count, 2047)):
            guid, offset, length = struct.unpack_from("<16sII", table, 32 + 32 * i)
            if guid == _VHDX_VIRTUAL_DISK_SIZE and length >= 8:
                self._want("vhdx-virtual-size", base + offset, 8, known=table, known_at=base)
                return

    # --- checksums ------------------------------------------------------------------------

    def _settle(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    @property
    def md5(self) -> str:
        """Hex md5 of the data so far: Glance's ``checksum``."""
        return self._md5.hexdigest()

    @property
    def sha512(self) -> str:
        """Hex sha512 of the data so far: Glance's ``os_hash_value``."""
        self._settle()
        return self._sha512.hexdigest()

    os_hash_algo = OS_HASH_ALGO

    def image_fields(self) -> dict[str, object]:
        """The image attributes the data gives, as Glance names them (call after the last chunk)."""
        return {"size": self.size, "checksum": self.md5, "os_hash_algo": self.os_hash_algo,
                "os_hash_value": self.sha512, "virtual_size": self.virtual_size()}

    # --- format facts (after the last chunk) ----------------------------------------------

    def _finish_head(self) -> bytes:
        if not self._head_seen:
            self._on_head()  # data shorter than the head: parse what there is
            if self._regions:
                self._feed_regions(bytes(self._head), 0)
        return bytes(self._head)

    def _region(self, name: str) -> bytes | None:
        region = self._kept.get(name)
        return bytes(region.buf) if region is not None and region.complete else None

    def detected_formats(self) -> frozenset[str]:
        """Every format whose signature the data carries (empty: raw)."""
        head = self._finish_head()
        found = set()
        if head.startswith(_QCOW2_MAGIC) and len(head) >= 72:
            found.add("qcow2")
        if (head.startswith(_VMDK_MAGIC) and len(head) >= 512) or head.startswith(_VMDK_DESCRIPTOR):
            found.add("vmdk")
        if head.startswith(_VHDX_SIGNATURE):
            found.add("vhdx")
        if len(head) >= 0x180 and struct.unpack_from("<I", head, 0x40)[0] == _VDI_SIGNATURE:
            found.add("vdi")
        if head[_ISO_OFFSET:_ISO_OFFSET + 5] == b"CD001":
            found.add("iso")
        if self._vhd_footer() is not None:
            found.add("vhd")
        return frozenset(found)

    def detected_format(self) -> str | None:
        """The format the content is in: one of ``INSPECTED``, "raw" when it carries no known
        signature, None when it carries several (a qcow2 hidden in an ISO, say)."""
        found = self.detected_formats()
        if len(found) > 1:
            return None
        return next(iter(found), "raw")

    def matches(self, disk_format: str | None = None) -> bool:
        """Whether the content fits ``disk_format`` (default: the one given at creation).

        An inspected format (``INSPECTED``) and raw must be exactly what was detected; a format
        this module does not read (ami, ari, aki, ploop, …) fits any content that is not one of
        the inspected formats. Content with several signatures fits nothing.
        """
        fmt = disk_format if disk_format is not None else self.disk_format
        found = self.detected_format()
        if found is None:
            return False
        if fmt in INSPECTED or fmt == "raw":
            return found == fmt
        return found == "raw"

    def virtual_size(self) -> int | None:
        """The disk size the guest sees, in bytes, per the declared format (the detected one
        when none was declared); None when the header is missing, truncated or nonsense, and for
        formats not read here."""
        fmt = self.disk_format or self.detected_format()
        if fmt in ("raw", "iso"):
            return self.size
        reader = _SIZE_READERS.get(fmt or "")
        if reader is None or fmt not in self.detected_formats():
            return None
        try:
            size = reader(self)
        except (struct.error, ValueError, UnicodeDecodeError):
            return None
        return size if size is not None and 0 <= size < 1 << 63 else None

    def safety_problem(self) -> str | None:
        """Why Glance would refuse this content whatever its declared format, or None."""
        found = self.detected_formats()
        if len(found) > 1:
            return f"The image content matches more than one disk format ({', '.join(sorted(found))})."
        head = self._finish_head()
        try:
            if "qcow2" in found:
                return _qcow2_problem(head)
            if "vmdk" in found:
                return self._vmdk_problem()
        except (struct.error, ValueError, UnicodeDecodeError):
            return "The image header is corrupt."
        return None

    # --- per-format readers -----------------------------------------------------------------

    def _vhd_footer(self) -> bytes | None:
        # Fixed disks have the footer only at the end; dynamic ones also copy it at the start.
        if self.size >= TAIL and self._tail.startswith(_VHD_COOKIE) and len(self._tail) == TAIL:
            return self._tail
        if self._head.startswith(_VHD_COOKIE) and len(self._head) >= TAIL:
            return bytes(self._head[:TAIL])
        return None

    def _vmdk_descriptor(self) -> str | None:
        head = self._finish_head()
        if head.startswith(_VMDK_DESCRIPTOR):
            text = head
        else:
            text = self._region("vmdk-descriptor") or b""
        text = text.split(b"\0", 1)[0]
        return text.decode("utf-8", "replace") if text else None

    def _vmdk_problem(self) -> str | None:
        descriptor = self._vmdk_descriptor()
        if descriptor is None:
            return "The VMDK descriptor is missing."
        create_type = _vmdk_create_type(descriptor)
        if create_type not in _VMDK_ALLOWED:
            return f"VMDK create type {create_type or 'unknown'} is not allowed (only {', '.join(_VMDK_ALLOWED)})."
        extents = _vmdk_extents(descriptor)
        if len(extents) != 1 or extents[0][1] != "SPARSE":
            return "A VMDK image must be one file with a single sparse extent."
        return None


def _qcow2_virtual_size(d: Digest) -> int | None:
    head = d._finish_head()
    version, = struct.unpack_from(">I", head, 4)
    if version not in (2, 3):
        return None
    (size,) = struct.unpack_from(">Q", head, 24)
    return int(size)


def _qcow2_problem(head: bytes) -> str | None:
    version, backing_offset = struct.unpack_from(">IQ", head, 4)
    if version not in (2, 3):
        return f"Unsupported qcow2 version {version}."
    if backing_offset:
        return "A qcow2 image with a backing file is not allowed."
    if version == 3:
        (incompatible,) = struct.unpack_from(">Q", head, 72)
        if incompatible & _QCOW2_DATA_FILE:
            return "A qcow2 image with an external data file is not allowed."
        if incompatible & ~_QCOW2_KNOWN_INCOMPATIBLE:
            return "The qcow2 image has unknown incompatible features."
    return None


def _vmdk_create_type(descriptor: str) -> str | None:
    m = re.search(r'^\s*createType\s*=\s*"([^"]*)"', descriptor, re.MULTILINE)
    return m.group(1) if m else None


def _vmdk_extents(descriptor: str) -> list[tuple[int, str]]:
    """``(sectors, type)`` of each extent line of a descriptor."""
    out = []
    for line in descriptor.splitlines():
        m = _VMDK_EXTENT.match(line.strip())
        if m:
            out.append((int(m.group(2)), m.group(3)))
    return out


def _vmdk_virtual_size(d: Digest) -> int | None:
    head = d._finish_head()
    if head.startswith(_VMDK_MAGIC):
        (capacity,) = struct.unpack_from("<Q", head, 12)
        return int(capacity) * 512
    # A descriptor file on its own (monolithicFlat and the like): the extents it lists.
    descriptor = d._vmdk_descriptor()
    if descriptor is None or d.size > HEAD:
        return None
    extents = _vmdk_extents(descriptor)
    return sum(sectors for sectors, _ in extents) * 512 if extents else None


def _vhd_virtual_size(d: Digest) -> int | None:
    footer = d._vhd_footer()
    if footer is None:
        return None
    (current_size,) = struct.unpack_from(">Q", footer, 48)
    return int(current_size)


def _vhdx_virtual_size(d: Digest) -> int | None:
    d._finish_head()
    raw = d._region("vhdx-virtual-size")
    if raw is None:
        return None
    (size,) = struct.unpack_from("<Q", raw, 0)
    return int(size)


def _vdi_virtual_size(d: Digest) -> int | None:
    head = d._finish_head()
    (size,) = struct.unpack_from("<Q", head, 0x170)
    return int(size)


_SIZE_READERS: dict[str, Callable[[Digest], int | None]] = {
    "qcow2": _qcow2_virtual_size,
    "vmdk": _vmdk_virtual_size,
    "vhd": _vhd_virtual_size,
    "vhdx": _vhdx_virtual_size,
    "vdi": _vdi_virtual_size,
}


def digest_file(path: str | os.PathLike[str], disk_format: str | None, chunk_size: int = 1024 * 1024) -> Digest:
    """A ``Digest`` of a whole file (a staged upload, say), read in ``chunk_size`` pieces."""
    digest = Digest(disk_format)
    with Path(path).open("rb", buffering=0) as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    digest._settle()
    return digest
