"""``litestack image …``: the image service's own commands (the orphan scrubber)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from litestack.common import config


def cmd_scrub(args: argparse.Namespace) -> int:
    """Remove image data no image refers to and temporary files of interrupted uploads."""
    from litestack.common.service import open_database
    from litestack.image.drivers import scrub
    from litestack.image.manager.data import Data
    from litestack.image.manager.images import Images
    from litestack.image.service import SERVICE, build_stores, staging_store

    conf = config.from_args(args)
    data_dir = config.data_dir(conf)
    db = open_database(SERVICE, conf, data_dir)
    try:
        stores, default = build_stores(conf, data_dir)
        data = Data(db, Images(db), stores, default)
        age = conf.get("image", "scrub_min_age") if args.older_than is None else args.older_than
        result = scrub([*stores.values(), staging_store(data_dir)], data.known_locations(), age)
    finally:
        db.dispose()
    for store, location in result.orphans:
        print(f"removed orphan {store}: {location}")
    for store, location, message in result.errors:
        print(f"could not remove {store}: {location}: {message}")
    print(f"scrub: {len(result.orphans)} orphaned image file(s), {result.temporary} temporary file(s) removed")
    return 1 if result.errors else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
             common: Callable[[argparse.ArgumentParser], None]) -> None:
    image = subparsers.add_parser("image", help="Image service (Glance) maintenance.")
    sub = image.add_subparsers(dest="image_command", required=True)
    p = sub.add_parser("scrub", help="Remove image data no image refers to, and leftovers of interrupted "
                                     "uploads (what the periodic scrubber does).")
    common(p)
    p.add_argument("--older-than", type=float, default=None, metavar="SECONDS",
                   help="Only data at least this old (default: [image] scrub_min_age).")
    p.set_defaults(func=cmd_scrub)
