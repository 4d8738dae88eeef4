"""The identity service's logic, in parts that share one database and one cache generation.

``Manager`` is what the API and the CLI use: a container that builds each part with the parts it
uses (constructor arguments, in dependency order) and wires the cascades between them. Each part
lives in its own module and is reached as an attribute: ``mgr.resources`` (domains, projects),
``mgr.users`` (users, groups), ``mgr.assignments`` (roles, implied roles, grants, effective roles),
``mgr.catalog`` (regions, services, endpoints), ``mgr.revocation``, ``mgr.credentials``
(application credentials, access rules, credentials), ``mgr.trusts``, ``mgr.oauth``,
``mgr.extensions`` (policies, OAuth1 consumers, endpoint groups, domain configurations, the
project-filtered catalog), ``mgr.auth`` (authentication, tokens, receipts) and ``mgr.limits``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from litestack.common.config import Config
from litestack.common.db import Database
from litestack.identity.keystore import key_repository
from litestack.identity.manager.appcreds import CredentialManager
from litestack.identity.manager.assignment import AssignmentManager
from litestack.identity.manager.auth import AuthManager
from litestack.identity.manager.base import Hasher, Shared, utcnow
from litestack.identity.manager.catalog import CatalogManager
from litestack.identity.manager.extensions import ExtensionsManager
from litestack.identity.manager.limits import LimitManager
from litestack.identity.manager.oauth import OAuthManager
from litestack.identity.manager.resource import ResourceManager
from litestack.identity.manager.revoke import RevokeManager
from litestack.identity.manager.trusts import TrustManager
from litestack.identity.manager.users import UserManager
from litestack.identity.tokens import ReceiptFormatter, TokenFormatter


class Manager:
    """Everything the identity service does, on one database: its parts, built in dependency order.

    A part uses only the parts given to its constructor (below, each depends on some of those built
    before it), never a sibling it was not given. Deletions cascade through ``events``: the part that
    owns a row publishes its deletion and the parts holding rows that refer to it subscribe
    (``_wire_cascades``).
    """

    def __init__(self, db: Database, conf: Config, data_dir: Path, clock: Callable[[], datetime] = utcnow) -> None:
        """``clock`` returns naive UTC; every "now" of identity (tokens and receipts included) reads it."""
        ident = conf.section("identity")
        self.shared = Shared(db, conf, Hasher(ident["password_hash_rounds"], ident["hash_workers"],
                                              ident["hash_queue_per_source"], ident["hash_queue"]), clock)
        self.db = db
        self.conf = conf
        self.generation = self.shared.generation
        self.events = self.shared.events
        self.opt = self.shared.opt

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

        shared = self.shared
        self.revocation = RevokeManager(shared)
        self.resources = ResourceManager(shared, self.revocation)
        self.users = UserManager(shared, self.revocation)
        self.assignments = AssignmentManager(shared, self.revocation, self.resources, self.users)
        self.catalog = CatalogManager(shared)
        self.credentials = CredentialManager(shared, self.revocation, self.assignments, self.credential_keys)
        self.trusts = TrustManager(shared, self.revocation, self.assignments, self.credentials)
        self.oauth = OAuthManager(shared, self.revocation, self.assignments, self.credentials)
        self.extensions = ExtensionsManager(shared, self.resources, self.catalog, self.credentials, self.oauth)
        self.auth = AuthManager(shared, self.revocation, self.resources, self.users, self.assignments,
                                self.credentials, self.trusts, self.oauth, self.extensions, self.formatter,
                                self.receipts)
        self.limits = LimitManager(shared)
        self._wire_cascades()

    def _wire_cascades(self) -> None:
        """Who removes what when something is deleted: each part owns its rows, and subscribes to
        the deletions of what they refer to (all in the deleting transaction)."""
        on = self.events.subscribe
        on("domain.deleted", self.users._users_of_domain_deleted)      # users and groups of the domain
        on("domain.deleted", self.assignments._roles_of_domain_deleted)  # domain-specific roles
        on("domain.deleted", self.assignments._grants_on_target_deleted)
        on("domain.deleted", self.limits._limits_of_deleted)
        on("project.deleted", self.assignments._grants_on_target_deleted)
        on("project.deleted", self.credentials._credentials_of_project_deleted)
        on("project.deleted", lambda s, project_id: self.trusts._delete_trusts_of(s, project_id=project_id))
        on("project.deleted", self.limits._limits_of_deleted)
        on("user.deleted", self.assignments._grants_to_actor_deleted)
        on("user.deleted", self.credentials._credentials_of_user_deleted)
        on("user.deleted", lambda s, user_id: self.trusts._delete_trusts_of(s, user_id=user_id))
        on("group.deleted", self.assignments._grants_to_actor_deleted)

    def close(self) -> None:
        for repo in (self.keys, self.receipt_keys, self.credential_keys):
            stop = getattr(repo, "close", None)
            if stop is not None:
                stop()
        self.shared.hasher.close()
        self.generation.close()
        self.db.dispose()
