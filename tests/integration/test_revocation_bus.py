"""Revocation events cross processes on RabbitMQ, so every auth-middleware cache drops revoked tokens.

The first test checks what identity publishes; the second that a revocation announced by one
``litestack`` process evicts the token another process cached in a service's auth middleware
(the product's subscriber, not one written here).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from litestack.common.auth import TokenCache
from litestack.common.rpc import Notification, get_transport
from tests.conftest import REPO, RunningCloud, free_port
from tests.databases import clouds_on, databases_per_service

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


def require_rabbitmq() -> None:
    if not asyncio.run(_reachable()):
        if os.environ.get("CI"):
            pytest.fail("RabbitMQ is not reachable")
        pytest.skip("RabbitMQ is not reachable")


def test_identity_announces_a_revocation_on_the_bus(cloud_factory: Callable[..., RunningCloud]) -> None:
    require_rabbitmq()
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


# The throw-away service of the test suite: a service other than identity, whose auth middleware
# caches validated tokens (tests/functional/toyservice).
TOY = "tests.functional.toyservice.service:SERVICE"
#: Long enough that only an eviction, not expiry, can drop a cached token during the test.
CACHE_TTL = 600


@pytest.fixture
def identity_host(tmp_path: Path) -> Iterator[RunningCloud]:
    """``litestack up`` with identity and the toy service, on PostgreSQL and RabbitMQ."""
    require_rabbitmq()
    base = tmp_path / "identity"
    base.mkdir()
    config = (f'[DEFAULT]\nservices = ["identity", "toy"]\nservice_plugins = ["{TOY}"]\n'
              f'transport_url = "{AMQP}"\n')
    env = {"PYTHONPATH": str(REPO), "LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"}
    # One PostgreSQL database per service (each has its own migrations), shared by every host.
    with databases_per_service("postgresql", ["identity", "toy"]) as url:
        env["LITESTACK_DEFAULT_DATABASE_URL"] = url
        with clouds_on("sqlite", base) as make:  # "sqlite": the URL is already in the environment
            yield make(config, env)


@pytest.fixture
def toy_hosts(tmp_path: Path, identity_host: RunningCloud) -> Iterator[Callable[..., RunningCloud]]:
    """Start ``litestack serve toy`` processes that use ``identity_host``; stopped first at the end."""
    started: list[RunningCloud] = []

    def serve(name: str, on_broker: bool) -> RunningCloud:
        data_dir = tmp_path / name
        data_dir.mkdir()
        # The toy service validates tokens as its service user, whose password identity's
        # bootstrap chose: a host running it alone gets the secrets file, as an operator would copy it.
        shutil.copy(identity_host.data_dir / "secrets.json", data_dir / "secrets.json")
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(f'[DEFAULT]\nservice_plugins = ["{TOY}"]\n'
                       + (f'transport_url = "{AMQP}"\n' if on_broker else "")
                       + f'[auth]\nidentity_url = "{identity_host.auth_url}"\ncache_ttl = {CACHE_TTL}\n')
        env = dict(identity_host.env)  # on the broker: the same PostgreSQL database too
        if not on_broker:
            env.pop("LITESTACK_DEFAULT_DATABASE_URL")
        server = RunningCloud(data_dir, free_port(), env, config_file=cfg, command=["serve", "toy"])
        started.append(server)
        server.start()
        return server

    yield serve
    for server in started:
        server.stop()


def test_a_revocation_evicts_the_token_cached_by_another_process(
        identity_host: RunningCloud, toy_hosts: Callable[..., RunningCloud]) -> None:
    # Another host running the toy service on the shared database and broker, and, as the
    # control, one that is not on the broker (its bus is in-process).
    toy, alone = toy_hosts("toy", on_broker=True), toy_hosts("alone", on_broker=False)
    token = identity_host.sdk("litestack").auth_token  # demo, member of project demo
    h = {"X-Auth-Token": token}
    for server in (toy, alone):
        assert httpx.get(f"{server.url}/v1/notes", headers=h).status_code == 200  # validated, cached

    r = httpx.delete(f"{identity_host.auth_url}/v3/auth/tokens", headers={**h, "X-Subject-Token": token})
    assert r.status_code == 204

    # The toy host on the broker refuses the token once the event arrives (well within a second
    # here; the deadline only bounds a slow machine)...
    deadline = time.monotonic() + 10
    while httpx.get(f"{toy.url}/v1/notes", headers=h).status_code != 401:
        assert time.monotonic() < deadline, "the revocation did not reach the other process's cache"
        time.sleep(0.05)
    # ...while the host without the broker still serves it from its cache: the refusal above came
    # from the eviction, not from a validation the cache would have done anyway.
    assert httpx.get(f"{alone.url}/v1/notes", headers=h).status_code == 200
