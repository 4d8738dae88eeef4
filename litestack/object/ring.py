"""The ring: which devices hold each partition's replicas, as Swift's ring does it.

An account, container or object name is hashed (md5 of ``prefix + /a/c/o + suffix``, with the
cluster's secret prefix and suffix) and the top ``part_power`` bits of the hash are its partition.
The ring maps each (replica, partition) to a device. ``RingBuilder.rebalance`` assigns them so
that each device holds a share proportional to its weight, the replicas of one partition are
spread across regions, then zones, then devices (never two in one zone while another zone has
none of them), and a rebalance moves as few assignments as it can (at most one replica of a
partition per rebalance, except off removed devices).

One ring serves accounts, containers and objects (Swift keeps three files of the same format).
It is stored as gzip'd JSON, written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


class RingError(ValueError):
    """Raised for an invalid ring operation (bad parameters, no devices, unknown device)."""


@dataclass
class Device:
    """A storage device: a directory ``device`` served by the storage server at ``ip:port``."""

    id: int
    region: int
    zone: int
    ip: str
    port: int
    device: str
    weight: float

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"


def hash_path(prefix: str, suffix: str, account: str, container: str | None = None,
              obj: str | None = None) -> str:
    """The hex md5 that names an account, container or object on disk and picks its partition."""
    path = "/" + account
    if container is not None:
        path += "/" + container
        if obj is not None:
            path += "/" + obj
    return hashlib.md5((prefix + path + suffix).encode("utf-8", "surrogateescape"),
                       usedforsecurity=False).hexdigest()


class Ring:
    """A built ring: devices and the replica-to-partition-to-device table."""

    def __init__(self, part_power: int, replicas: int, devices: list[Device | None],
                 assignment: list[list[int]], hash_prefix: str = "", hash_suffix: str = "") -> None:
        self.part_power = part_power
        self.replicas = replicas
        self.devices = devices
        #: ``assignment[replica][partition]`` is a device id (-1: not assigned yet).
        self.assignment = assignment
        self.hash_prefix = hash_prefix
        self.hash_suffix = hash_suffix

    @property
    def partitions(self) -> int:
        return 1 << self.part_power

    def live_devices(self) -> list[Device]:
        return [d for d in self.devices if d is not None]

    def partition(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        h = hash_path(self.hash_prefix, self.hash_suffix, account, container, obj)
        return int(h[:8], 16) >> (32 - self.part_power)

    def primaries(self, part: int) -> list[Device]:
        if not self.assignment or not self.assignment[0]:
            raise RingError("the ring has not been rebalanced: no partition is assigned")
        out: list[Device] = []
        for row in self.assignment:
            dev = self.devices[row[part]] if row[part] >= 0 else None
            if dev is not None:
                out.append(dev)
        return out

    def get_nodes(self, account: str, container: str | None = None,
                  obj: str | None = None) -> tuple[int, list[Device]]:
        """The partition of a name and the devices that hold its primary replicas."""
        part = self.partition(account, container, obj)
        return part, self.primaries(part)

    def handoffs(self, part: int) -> Iterator[Device]:
        """The other devices, in the order a proxy tries them when a primary fails: devices in
        regions and zones that hold no primary first, then the rest; the order is fixed per
        partition so that readers find what writers put on handoffs."""
        primaries = self.primaries(part)
        used_zones = {(d.region, d.zone) for d in primaries}
        used_regions = {d.region for d in primaries}
        ids = {d.id for d in primaries}
        rest = [d for d in self.live_devices() if d.id not in ids]
        rng = random.Random(part)  # deterministic per partition
        rng.shuffle(rest)
        rest.sort(key=lambda d: (d.region in used_regions, (d.region, d.zone) in used_zones))
        yield from rest

    # --- files -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"part_power": self.part_power, "replicas": self.replicas,
                "devices": [asdict(d) if d is not None else None for d in self.devices],
                "assignment": self.assignment, "hash_prefix": self.hash_prefix,
                "hash_suffix": self.hash_suffix}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ring:
        devices = [Device(**d) if d is not None else None for d in data["devices"]]
        return cls(int(data["part_power"]), int(data["replicas"]), devices,
                   [list(r) for r in data["assignment"]], data.get("hash_prefix", ""),
                   data.get("hash_suffix", ""))

    def save(self, path: Path) -> None:
        """Write atomically: readers see the old ring or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        raw = gzip.compress(json.dumps(self.to_dict(), separators=(",", ":")).encode(), mtime=0)
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @classmethod
    def load(cls, path: Path) -> Ring:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise RingError(f"no ring at {path}") from None
        return cls.from_dict(json.loads(gzip.decompress(raw)))


class RingBuilder(Ring):
    """A ring that can be changed: devices added, removed or reweighted, then rebalanced."""

    @classmethod
    def create(cls, part_power: int, replicas: int, hash_prefix: str = "", hash_suffix: str = "") -> RingBuilder:
        if not 1 <= part_power <= 24:
            raise RingError("part_power must be between 1 and 24")
        if not 1 <= replicas <= 10:
            raise RingError("replicas must be between 1 and 10")
        return cls(part_power, replicas, [], [], hash_prefix, hash_suffix)

    def add_device(self, region: int, zone: int, ip: str, port: int, device: str, weight: float) -> Device:
        if weight < 0:
            raise RingError("weight must not be negative")
        if not device or "/" in device or device in (".", ".."):
            raise RingError(f"bad device name {device!r}")
        for d in self.live_devices():
            if (d.ip, d.port, d.device) == (ip, port, device):
                raise RingError(f"device {ip}:{port}/{device} is already in the ring (id {d.id})")
        dev = Device(len(self.devices), region, zone, ip, port, device, float(weight))
        self.devices.append(dev)
        return dev

    def remove_device(self, dev_id: int) -> None:
        if not 0 <= dev_id < len(self.devices) or self.devices[dev_id] is None:
            raise RingError(f"no device {dev_id}")
        self.devices[dev_id] = None

    def set_weight(self, dev_id: int, weight: float) -> None:
        dev = self.devices[dev_id] if 0 <= dev_id < len(self.devices) else None
        if dev is None:
            raise RingError(f"no device {dev_id}")
        dev.weight = float(weight)

    def _targets(self, devs: list[Device]) -> dict[int, float]:
        total = sum(d.weight for d in devs)
        slots = self.partitions * self.replicas
        return {d.id: slots * d.weight / total for d in devs}

    def rebalance(self, seed: int = 0) -> int:
        """Assign every partition's replicas; return how many (replica, partition) slots changed."""
        devs = [d for d in self.live_devices() if d.weight > 0]
        if not devs:
            raise RingError("no device with a weight above 0: add devices first")
        parts, reps = self.partitions, self.replicas
        if not self.assignment:
            self.assignment = [[-1] * parts for _ in range(reps)]
        before = [row[:] for row in self.assignment]
        alive = {d.id: d for d in devs}
        target = self._targets(devs)
        count = dict.fromkeys(alive, 0)
        for row in self.assignment:
            for p, dev_id in enumerate(row):
                if dev_id in alive:
                    count[dev_id] += 1
                else:
                    row[p] = -1  # the device is gone (or weighs 0): its replicas must move
        rng = random.Random(seed)
        zones = {(d.region, d.zone) for d in devs}
        # 1. Unassign replicas that break dispersion (two in one zone while a zone has none of the
        #    partition), then replicas on devices above their share, one replica per partition.
        touched: set[int] = set()
        for p in range(parts):
            held = [self.assignment[r][p] for r in range(reps)]
            in_zones = {(alive[i].region, alive[i].zone) for i in held if i >= 0}
            if len(in_zones) >= min(len(zones), reps) or len(in_zones) == sum(1 for i in held if i >= 0):
                continue
            seen: set[tuple[int, int]] = set()
            for r, dev_id in enumerate(held):
                if dev_id < 0:
                    continue
                z = (alive[dev_id].region, alive[dev_id].zone)
                if z in seen:
                    self.assignment[r][p] = -1
                    count[dev_id] -= 1
                    touched.add(p)
                    break
                seen.add(z)
        order = [(r, p) for r in range(reps) for p in range(parts)]
        rng.shuffle(order)
        # Only move off a device above its share when some device is below its own: shares are
        # fractional, and a device one replica above a share nobody lacks is balanced.
        under = any(count[i] < math.floor(target[i]) for i in alive)
        for r, p in order:
            dev_id = self.assignment[r][p]
            if dev_id < 0 or p in touched or not under:
                continue
            if count[dev_id] > math.ceil(target[dev_id]):
                self.assignment[r][p] = -1
                count[dev_id] -= 1
                touched.add(p)
        # 2. Give each free slot to the device in the least-used region, then zone, of that
        #    partition, with the most room left below its share.
        for r, p in order:
            if self.assignment[r][p] >= 0:
                continue
            held = [self.assignment[x][p] for x in range(reps) if self.assignment[x][p] >= 0]
            regions: dict[int, int] = {}
            zone_use: dict[tuple[int, int], int] = {}
            for dev_id in held:
                d = alive[dev_id]
                regions[d.region] = regions.get(d.region, 0) + 1
                zone_use[(d.region, d.zone)] = zone_use.get((d.region, d.zone), 0) + 1
            candidates = [d for d in devs if d.id not in held] or devs
            best = min(candidates, key=lambda d: (regions.get(d.region, 0), zone_use.get((d.region, d.zone), 0),
                                                  -(target[d.id] - count[d.id]) / max(target[d.id], 1e-9),
                                                  d.id))
            self.assignment[r][p] = best.id
            count[best.id] += 1
        return sum(1 for r in range(reps) for p in range(parts) if before[r][p] != self.assignment[r][p])

    def balance(self) -> float:
        """The largest deviation of a device's share from its weight's share, in percent."""
        devs = [d for d in self.live_devices() if d.weight > 0]
        target = self._targets(devs)
        count = dict.fromkeys(target, 0)
        for row in self.assignment:
            for dev_id in row:
                if dev_id in count:
                    count[dev_id] += 1
        return max(abs(count[i] - t) / t * 100 for i, t in target.items()) if target else 0.0

    def to_ring(self) -> Ring:
        return Ring(self.part_power, self.replicas, self.devices, self.assignment, self.hash_prefix,
                    self.hash_suffix)

    @classmethod
    def load(cls, path: Path) -> RingBuilder:
        ring = Ring.load(path)
        return cls(ring.part_power, ring.replicas, ring.devices, ring.assignment, ring.hash_prefix,
                   ring.hash_suffix)
