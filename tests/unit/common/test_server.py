"""The uvicorn settings of every API process (common/server.py)."""

from __future__ import annotations

import pytest

from litestack.common import config
from litestack.common.server import GuardedHttpProtocol, uvicorn_config

pytestmark = pytest.mark.unit


def test_uvicorn_settings_come_from_default_options() -> None:
    conf = config.load(None, {}, overrides={"DEFAULT": {"header_timeout": 3.5, "keepalive_timeout": 7,
                                                        "max_connections": 100}})
    cfg = uvicorn_config(object(), conf)  # type: ignore[arg-type]
    assert isinstance(cfg.http, type) and issubclass(cfg.http, GuardedHttpProtocol)
    assert cfg.http.header_timeout == 3.5 and cfg.http.max_connections == 100
    assert cfg.timeout_keep_alive == 7
    assert cfg.proxy_headers is False  # X-Forwarded-For from anyone is not believed by default


def test_trusted_proxies_turn_on_forwarded_headers_for_them_only() -> None:
    conf = config.load(None, {}, overrides={"DEFAULT": {"trusted_proxies": ["10.0.0.5"]}})
    cfg = uvicorn_config(object(), conf)  # type: ignore[arg-type]
    assert cfg.proxy_headers is True and cfg.forwarded_allow_ips == ["10.0.0.5"]
