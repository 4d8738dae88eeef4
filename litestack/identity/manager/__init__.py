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
        self._wire_cascades()

    def _wire_cascades(self) -> None:
        """Who removes what when something is deleted: each part owns its rows, and subscribes to
        the deletions of what they refer to (all in the deleting transaction)."""
        on = self.events.subscribe
        on("domain.deleted", self._users_of_domain_deleted)      # users and groups of the domain
        on("domain.deleted", self._roles_of_domain_deleted)      # domain-specific roles
        on("domain.deleted", self._grants_on_target_deleted)
        on("domain.deleted", self._limits_of_deleted)
        on("project.deleted", self._grants_on_target_deleted)
        on("project.deleted", self._credentials_of_project_deleted)
        on("project.deleted", lambda s, project_id: self._delete_trusts_of(s, project_id=project_id))
        on("project.deleted", self._limits_of_deleted)
        on("user.deleted", self._grants_to_actor_deleted)
        on("user.deleted", self._credentials_of_user_deleted)
        on("user.deleted", lambda s, user_id: self._delete_trusts_of(s, user_id=user_id))
        on("group.deleted", self._grants_to_actor_deleted)

    def close(self) -> None:
        for repo in (self.keys, self.receipt_keys, self.credential_keys):
            stop = getattr(repo, "close", None)
            if stop is not None:
                stop()
        self.hasher.close()
        self.generation.close()
        self.db.dispose()
