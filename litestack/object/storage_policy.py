"""Storage policies, as Swift's: each policy has its own object ring (``object.ring.gz`` for
``Policy-0``, ``object-<index>.ring.gz`` for the others), and its objects live in their own
directory of each device (``objects/``, ``objects-<index>/``). A container picks its policy when
it is created (``X-Storage-Policy``), and keeps it; accounts and containers always use ring 0.

Two policies are defined: ``Policy-0`` (the default, replicated as the ring made at the first
start: 3 replicas) and ``single`` (index 1, one replica, for data that is cheap to lose). A policy
is in force when its ring file exists (``litestack up`` makes both at the first start).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The header that carries a policy index between the proxy and the storage servers.
INDEX_HEADER = "X-Backend-Storage-Policy-Index"


@dataclass(frozen=True)
class StoragePolicy:
    index: int
    name: str
    #: replicas of the ring the first start makes (None: the ``[object] replicas`` option)
    replicas: int | None
    default: bool = False


POLICIES = (StoragePolicy(0, "Policy-0", None, default=True), StoragePolicy(1, "single", 1))
DEFAULT = POLICIES[0]


def by_name(name: str) -> StoragePolicy | None:
    return next((p for p in POLICIES if p.name.lower() == name.strip().lower()), None)


def by_index(index: int) -> StoragePolicy | None:
    return next((p for p in POLICIES if p.index == index), None)


def objects_dir(index: int) -> str:
    return "objects" if index == 0 else f"objects-{index}"


def ring_path(ring0: Path, index: int) -> Path:
    """The ring file of a policy, beside the ring of Policy-0."""
    return ring0 if index == 0 else ring0.with_name(f"object-{index}.ring.gz")


def parse_index(value: str | None) -> int:
    """A policy index from a backend header (absent: 0); ValueError when unknown."""
    if not value:
        return 0
    index = int(value)
    if by_index(index) is None:
        raise ValueError(f"unknown storage policy index {value!r}")
    return index
