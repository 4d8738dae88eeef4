"""The built-in services of litestack: one line each, in start order.

Each line names a service's ``ServiceSpec`` (``litestack/<service>/service.py``). Adding a
service is its package plus one line here; everything else (``litestack up``, ``serve``,
``status``, ``policy dump``, ``config sample``, ``verify``, the catalog) follows this list.
Operators add their own with ``[DEFAULT] service_plugins`` (see ``litestack.common.service``).
"""

SERVICES: tuple[str, ...] = (
    "litestack.identity.service:SERVICE",
    "litestack.image.service:SERVICE",
    "litestack.network.service:SERVICE",
    "litestack.object.service:SERVICE",
    "litestack.placement.service:SERVICE",
    "litestack.compute.service:SERVICE",
    "litestack.volume.service:SERVICE",
)
