"""``litestack identity …``: the identity service's own commands (key rotation)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from litestack.common import config


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    """Rotate the token and receipt keys: the files of this host, or the shared database's keys
    (every host follows within a second)."""
    from litestack.common.db import Database
    from litestack.common.service import open_database
    from litestack.identity.keystore import key_repository
    from litestack.identity.service import SERVICE

    conf = config.from_args(args)
    data_dir = config.data_dir(conf)
    db: Database | None = None
    if conf.get("identity", "key_store") == "database":
        db = open_database(SERVICE, conf, data_dir)
    try:
        for name in ("fernet-keys", "fernet-receipts"):  # token keys, then auth-receipt keys
            repo = key_repository(conf, db, data_dir, name)  # type: ignore[arg-type]  # files need no db
            if not repo.exists():
                repo.setup()
            primary = repo.rotate()
            print(f"rotated: key {primary} is now primary; {len(repo.load())} keys in {repo.path}")
    finally:
        if db is not None:
            db.dispose()
    return 0


def cmd_new_master_key(args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
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
            mgr.extensions.reencrypt_secrets()
            assert mgr.credentials.credential_keys is not None
            primary = mgr.credentials.credential_keys.rotate()
            count = mgr.extensions.reencrypt_secrets()
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
    r = isub.add_parser("new-master-key",
                        help="print a new master key for [identity] master_key (key_store = \"database\": "
                             "give the same one to every host)")
    r.set_defaults(func=cmd_new_master_key)
    r = isub.add_parser("rotate-credential-keys",
                        help="rotate the keys that encrypt stored secrets (credential blobs, OAuth1 consumer "
                             "secrets, domain configuration passwords) and re-encrypt them all with the new "
                             "primary key; safe while the cloud runs")
    common(r)
    r.set_defaults(func=cmd_rotate_credential_keys)
