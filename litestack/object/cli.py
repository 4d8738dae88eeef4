"""``litestack object ring create|add|remove|rebalance|show``: the ring builder."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from litestack.common import config

if TYPE_CHECKING:
    from litestack.object.ring import RingBuilder


def _ring_path(args: argparse.Namespace) -> Path:
    from litestack.object import storage_policy
    from litestack.object.cluster import ring_file

    if args.ring:
        return Path(args.ring)
    return storage_policy.ring_path(ring_file(config.data_dir(config.from_args(args))), args.policy)


def cmd_create(args: argparse.Namespace) -> int:
    from litestack.object.cluster import cluster_file, load_or_create
    from litestack.object.ring import RingBuilder, RingError

    path = _ring_path(args)
    if path.exists() and not args.force:
        print(f"{path} exists (use --force to replace it)")
        return 1
    cluster = load_or_create(cluster_file(config.data_dir(config.from_args(args))))
    try:
        b = RingBuilder.create(args.part_power, args.replicas, cluster.hash_prefix, cluster.hash_suffix)
    except RingError as exc:
        print(exc)
        return 2
    b.save(path)
    print(f"created {path}: 2**{args.part_power} partitions, {args.replicas} replicas")
    return 0


def _edit(args: argparse.Namespace, change: Callable[[RingBuilder], str]) -> int:
    """Load the ring builder, apply ``change`` (which returns what to print), save it."""
    from litestack.object.ring import RingBuilder, RingError

    path = _ring_path(args)
    try:
        b = RingBuilder.load(path)
        message = change(b)
    except RingError as exc:
        print(exc)
        return 2
    b.save(path)
    print(message)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    def add(b: RingBuilder) -> str:
        dev = b.add_device(args.region, args.zone, args.ip, args.port, args.device, args.weight)
        return (f"added device {dev.id}: r{dev.region}z{dev.zone}-{dev.ip}:{dev.port}/{dev.device} "
                f"weight {dev.weight} (rebalance to use it)")
    return _edit(args, add)


def cmd_remove(args: argparse.Namespace) -> int:
    def remove(b: RingBuilder) -> str:
        b.remove_device(args.id)
        return f"removed device {args.id} (rebalance to move its partitions)"
    return _edit(args, remove)


def cmd_rebalance(args: argparse.Namespace) -> int:
    def rebalance(b: RingBuilder) -> str:
        moved = b.rebalance()
        return f"reassigned {moved} of {b.partitions * b.replicas} partition replicas; balance {b.balance():.2f}%"
    return _edit(args, rebalance)


def cmd_show(args: argparse.Namespace) -> int:
    from litestack.object.ring import RingBuilder, RingError

    path = _ring_path(args)
    try:
        b = RingBuilder.load(path)
    except RingError as exc:
        print(exc)
        return 2
    counts = Counter(d for row in b.assignment for d in row)
    live = b.live_devices()
    print(f"{path}: {b.partitions} partitions, {b.replicas} replicas, {len(live)} devices, "
          f"{len({(d.region, d.zone) for d in live})} zones, balance {b.balance() if b.assignment else 0:.2f}%")
    print(f"{'id':>4} {'region':>6} {'zone':>4} {'address':<22} {'device':<12} {'weight':>8} {'partitions':>10}")
    for d in live:
        print(f"{d.id:>4} {d.region:>6} {d.zone:>4} {d.ip + ':' + str(d.port):<22} {d.device:<12} "
              f"{d.weight:>8.2f} {counts.get(d.id, 0):>10}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
             common: Callable[[argparse.ArgumentParser], None]) -> None:
    from litestack.object import storage_policy

    obj = subparsers.add_parser("object", help="Object storage (Swift) tools.")
    sub = obj.add_subparsers(dest="object_command", required=True)
    ring = sub.add_parser("ring", help="Build the ring: devices, zones, weights, partitions.")
    rsub = ring.add_subparsers(dest="ring_command", required=True)

    def cmd(name: str, help: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = rsub.add_parser(name, help=help)
        common(p)
        p.add_argument("--ring", metavar="FILE", help="ring file (default DATA_DIR/object/object.ring.gz, "
                       "object-N.ring.gz for --policy N)")
        p.add_argument("--policy", type=int, default=0, choices=[sp.index for sp in storage_policy.POLICIES],
                       help="the storage policy whose object ring this is (0: Policy-0, which also places "
                       "accounts and containers; 1: single)")
        p.set_defaults(func=func)
        return p

    p = cmd("create", "start an empty ring", cmd_create)
    p.add_argument("--part-power", type=int, default=8, help="2**N partitions (default 8)")
    p.add_argument("--replicas", type=int, default=3, help="replicas of everything (default 3)")
    p.add_argument("--force", action="store_true", help="replace an existing ring")
    p = cmd("add", "add a device", cmd_add)
    p.add_argument("--region", type=int, default=1)
    p.add_argument("--zone", type=int, required=True)
    p.add_argument("--ip", required=True, help="address of the device's storage server")
    p.add_argument("--port", type=int, required=True, help="port of the device's storage server")
    p.add_argument("--device", required=True, help="the device's directory name under --devices")
    p.add_argument("--weight", type=float, default=100.0)
    p = cmd("remove", "remove a device", cmd_remove)
    p.add_argument("--id", type=int, required=True)
    cmd("rebalance", "assign partitions to devices, moving as few as possible", cmd_rebalance)
    cmd("show", "print devices, zones, weights and partition counts", cmd_show)
