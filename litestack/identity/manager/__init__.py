"""The identity service's logic, in parts that share one database and one cache generation.

``Manager`` is what the API and the CLI use; each part lives in its own module:
resources (domains, projects), users and groups, assignments and roles, the
catalog, credentials, revocation, trusts and authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from litestack.common.config import Config
from litestack.common.db import Database
from litestack.identity.keystore import key_repository
from litestack.identity.manager.base import Hasher, utcnow
from litestack.identity.manager.limits import LimitManager
from litestack.identity.tokens import ReceiptFormatter, TokenFormatter


class Manager(LimitManager):
    """Everything the identity service does, on one database.

    The parts form one chain of subclasses, each adding a concern on top of the ones it uses:
    resources < users < assignments < catalog < revocation < credentials < trusts < authentication
    < extensions (policies, OAuth1 consumers, endpoint groups, domain configurations) < unified limits.
    """

    def __init__(self, db: Database, conf: Config, data_dir: Path, clock: Callable[[], datetime] = utcnow) -> None:
        """``clock`` returns naive UTC; every "now" of identity (tokens and receipts included) reads it."""
        ident = conf.section("identity")
        super().__init__(db, conf, Hasher(ident["password_hash_rounds"], ident["hash_workers"],
                                           ident["hash_queue_per_source"], ident["hash_queue"]), clock)

        def aware_now() -> datetime:
            return clock().replace(tzinfo=UTC)

        # Files in DATA_DIR for one host; the shared database for several ([identity] key_store).
        self.keys = key_repository(conf, db, data_dir, "fernet-keys")
        self.keys.setup()
        self.formatter = TokenFormatter(self.keys.keys, aware_now)
        self.receipt_keys = key_repository(conf, db, data_dir, "fernet-receipts")
        self.receipt_keys.setup()
        self.receipts = ReceiptFormatter(self.receipt_keys.keys, aware_now)
        self.credential_keys = key_repository(conf, db, data_dir, "credential-keys")
        self.credential_keys.setup()

    def close(self) -> None:
        for repo in (self.keys, self.receipt_keys, self.credential_keys):
            stop = getattr(repo, "close", None)
            if stop is not None:
                stop()
        self.hasher.close()
        self.generation.close()
        self.db.dispose()
