"""The block storage service's HTTP API (Cinder v3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from starlette.types import ASGIApp

from litestack.common.api.app import Op, build_app
from litestack.common.policy import Enforcer
from litestack.volume.api import (
    actions,
    attachments,
    backup_records,
    backups,
    filters,
    group_types,
    groups,
    manage,
    messages,
    misc,
    qos,
    services,
    snapshots,
    transfers,
    types,
    volumes,
)
from litestack.volume.api.base import MicroversionMiddleware, VolumeAPI


def all_ops(api: VolumeAPI) -> list[Op]:
    """Every operation of the block storage API, in routing order."""
    return [*misc.ops(api), *volumes.ops(api), *actions.ops(api), *snapshots.ops(api), *types.ops(api),
            *attachments.ops(api), *transfers.ops(api, api.transfers), *backup_records.ops(api), *backups.ops(api),
            *qos.ops(api), *group_types.ops(api), *groups.ops(api), *messages.ops(api), *filters.ops(api),
            *services.ops(api), *manage.ops(api)]


class _Unused:
    """Stands in for the managers when the Op table is built only to be read."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"volume manager attribute {name} used on the read-only Op table")


def op_table() -> list[Op]:
    none = cast(Any, _Unused())
    return all_ops(VolumeAPI(Enforcer(), none, none, none, none, transfers=none, backups=none, qos=none,
                               groups=none))


def build(api: VolumeAPI, auth: Callable[[ASGIApp], ASGIApp]) -> ASGIApp:
    return build_app("volume", all_ops(api), title="litestack block storage (Cinder v3)", enforcer=api.enforcer,
                     middleware=[auth, MicroversionMiddleware])
