"""The image service's HTTP API (Glance v2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from starlette.types import ASGIApp

from litestack.common.api.app import Op, build_app
from litestack.common.policy import Enforcer
from litestack.image.api import data, discovery, images, imports, members
from litestack.image.api.service import ImageAPI, Settings


def all_ops(api: ImageAPI) -> list[Op]:
    """Every operation of the image API, in routing order."""
    return [*discovery.ops(api), *images.ops(api), *data.ops(api), *imports.ops(api), *members.ops(api)]


class _Unused:
    """Stands in for the managers when the Op table is built only to be read (policy documentation, tests)."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"image manager attribute {name} used on the read-only Op table")


def op_table() -> list[Op]:
    """The image Op table, built as ``build`` builds it but without a database or stores."""
    none = cast(Any, _Unused())
    return all_ops(ImageAPI(Enforcer(), none, none, none, Settings()))


def build(api: ImageAPI, auth: Callable[[ASGIApp], ASGIApp]) -> ASGIApp:
    return build_app("image", all_ops(api), title="litestack image (Glance v2)", enforcer=api.enforcer,
                     middleware=[auth])
