"""``litestack identity …``: the identity service's own commands (key rotation)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from litestack.common import config


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    from litestack.identity.keys import KeyRepository

    conf = config.from_args(args)
    data_dir = config.data_dir(conf)
    for name in ("fernet-keys", "fernet-receipts"):  # token keys, then auth-receipt keys
        repo = KeyRepository(data_dir / name, conf.get("identity", "max_active_keys"))
        if not repo.exists():
            repo.setup()
        primary = repo.rotate()
        print(f"rotated: key {primary} is now primary; {len(repo.load())} keys in {repo.path}")
    return 0


def cmd_rotate_credential_keys(args: argparse.Namespace) -> int:
    from litestack.common.service import open_database
    from litestack.identity.manager import Manager
    from litestack.identity.service import SERVICE

    conf = config.from_args(args)
    data_dir = config.data_dir(conf)
    db = open_database(SERVICE, conf, data_dir)
    try:
        mgr = Manager(db, conf, data_dir)
        try:
            # Everything is first re-encrypted with the current primary (the key that rotation keeps
            # as a secondary), then the keys rotate, then everything moves to the new primary: no
            # secret is ever left under a key that a rotation drops.
            mgr.reencrypt_secrets()
            assert mgr.credential_keys is not None
            primary = mgr.credential_keys.rotate()
            count = mgr.reencrypt_secrets()
        finally:
            mgr.close()
    finally:
        db.dispose()
    print(f"rotated: credential key {primary} is now primary; {count} stored secrets re-encrypted with it")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("identity", help="identity service tools")
    isub = p.add_subparsers(dest="identity_command", metavar="ACTION", required=True)
    r = isub.add_parser("rotate-keys", help="rotate the fernet token and auth-receipt keys (staged becomes primary)")
    common(r)
    r.set_defaults(func=cmd_rotate_keys)
    r = isub.add_parser("rotate-credential-keys",
                        help="rotate the keys that encrypt stored secrets (credential blobs, OAuth1 consumer "
                             "secrets, domain configuration passwords) and re-encrypt them all with the new "
                             "primary key; safe while the cloud runs")
    common(r)
    r.set_defaults(func=cmd_rotate_credential_keys)
