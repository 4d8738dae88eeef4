"""Swift's proxy middlewares, one module per feature, in Swift's pipeline order.

``pipeline(proxy)`` returns the wrapper the proxy's app is built with: it sits after token
validation and before the router (so ``state.context`` is known, and each route's policy and ACL
check still runs for the requests and subrequests the middlewares pass down). Each middleware
advertises its capabilities in ``GET /info`` by adding them to ``proxy.capabilities``.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp

from litestack.object.middleware import (
    bulk,
    copy,
    cors,
    dlo,
    endpoints,
    formpost,
    gatekeeper,
    notifications,
    quotas,
    slo,
    staticweb,
    tempurl,
    versioned,
)


def pipeline(proxy: Any) -> Any:
    """The middlewares around the router, outermost first."""
    layers: list[Any] = [
        gatekeeper.Gatekeeper, endpoints.Endpoints, cors.CORS, bulk.Bulk, tempurl.TempURL, formpost.FormPost,
        staticweb.StaticWeb, quotas.Quotas, copy.LargeObjectCopy, slo.StaticLargeObject, dlo.DynamicLargeObject,
        versioned.VersionedWrites, notifications.Notifications,
    ]
    for layer in layers:
        proxy.capabilities.update(getattr(layer, "capabilities", {}))

    def wrap(app: ASGIApp) -> ASGIApp:
        for layer in reversed(layers):
            app = layer(app, proxy)
        return app

    return wrap
