"""Start-up of the identity service: database, migrations, keys, policy, API app."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.types import ASGIApp

from litestack.common import db as dbmod
from litestack.common.auth import TokenCache
from litestack.common.config import Config
from litestack.common.policy import Enforcer
from litestack.identity import api
from litestack.identity.manager import Manager
from litestack.identity.models import Base
from litestack.identity.policy import RULES

LOG = logging.getLogger(__name__)


class IdentityService:
    """The identity service in one process: its manager, its token cache and its ASGI app."""

    name = "identity"

    def __init__(self, conf: Config, data_dir: Path, public_url: str | None) -> None:
        url = dbmod.service_url(conf.get("DEFAULT", "database_url"), "identity", data_dir)
        self.db = dbmod.Database(url)
        dbmod.upgrade(self.db, "litestack.identity.migrations", Base)
        self.manager = Manager(self.db, conf, data_dir)
        self.enforcer = Enforcer(RULES, policy_file(conf, "identity"))
        # Identity validates its own tokens live (no cache): revocation applies to the next request.
        self.app: ASGIApp = api.build(self.manager, self.enforcer, TokenCache(0, 0), public_url)

    def close(self) -> None:
        self.manager.close()


def policy_file(conf: Config, service: str) -> Path | None:
    d = conf.get("DEFAULT", "policy_dir")
    if not d:
        return None
    p = Path(d) / f"{service}-policy.yaml"
    return p if p.exists() else None
