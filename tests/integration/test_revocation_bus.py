"""Revocation events cross processes on RabbitMQ, so every auth-middleware cache drops revoked tokens."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable

import httpx
import pytest

from litestack.common.auth import TokenCache
from litestack.common.rpc import Notification, get_transport
from tests.conftest import RunningCloud

pytestmark = pytest.mark.integration
AMQP = "amqp://guest:guest@127.0.0.1:5672/"


async def _reachable() -> bool:
    try:
        t = get_transport(AMQP)
        await asyncio.wait_for(t.start(), 5)
        await t.stop()
        return True
    except Exception:
        return False


def test_token_revocation_reaches_another_process_cache(cloud_factory: Callable[..., RunningCloud]) -> None:
    if not asyncio.run(_reachable()):
        if os.environ.get("CI"):
            pytest.fail("RabbitMQ is not reachable")
        pytest.skip("RabbitMQ is not reachable")
    cloud = cloud_factory(env={"LITESTACK_DEFAULT_TRANSPORT_URL": AMQP,
                               "LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"})
    demo = cloud.clouds()["litestack"]["auth"]
    assert isinstance(demo, dict)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": demo["username"], "domain": {"name": "Default"}, "password": demo["password"]}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}
    r = httpx.post(f"{cloud.auth_url}/v3/auth/tokens", json=body)
    token, token_body = r.headers["x-subject-token"], r.json()["token"]

    async def scenario() -> list[Notification]:
        # This process plays another service: it caches the validated token, and listens.
        cache = TokenCache(300, 100)
        cache.put(token, token_body)
        seen: list[Notification] = []
        got = asyncio.Event()
        transport = get_transport(AMQP)
        await transport.start()

        async def on_event(note: Notification) -> None:
            if note.event_type == "identity.revocation":
                seen.append(note)
                cache.evict(note.payload)
                got.set()

        await transport.subscribe(on_event, pool=f"test-{uuid.uuid4().hex[:8]}")
        async with httpx.AsyncClient() as c:
            d = await c.delete(f"{cloud.auth_url}/v3/auth/tokens",
                               headers={"X-Auth-Token": token, "X-Subject-Token": token})
            assert d.status_code == 204
        await asyncio.wait_for(got.wait(), 10)
        assert cache.get(token) is None
        await transport.stop()
        return seen

    seen = asyncio.run(scenario())
    assert seen[0].payload["audit_id"] == token_body["audit_ids"][0]
    assert seen[0].publisher_id.startswith("identity.")
