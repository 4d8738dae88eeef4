"""Virt drivers by name (``[compute] virt_driver``)."""

from __future__ import annotations

from typing import Any

from litestack.compute.drivers.base import VirtDriver


def make_driver(conf: Any, host: str) -> VirtDriver:
    kind = conf.get("compute", "virt_driver")
    if kind == "fake":
        from litestack.compute.drivers.fake import FakeDriver

        return FakeDriver(host, conf.get("compute", "fake_vcpus"), conf.get("compute", "fake_memory_mb"),
                          conf.get("compute", "fake_disk_gb"), conf.get("compute", "fake_spawn_delay"))
    raise ValueError(f"unknown virt driver {kind!r}")
