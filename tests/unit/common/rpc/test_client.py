"""get_transport and its scheme registry, and the RPCClient proxy."""

from __future__ import annotations

import pytest

import litestack.common.rpc as rpc
from litestack.common.errors import ConfigError
from litestack.common.rpc import RPCClient, Transport, get_transport, register_transport
from litestack.common.rpc.amqp import AMQPTransport, redact_url
from litestack.common.rpc.fake import RecordingTransport
from litestack.common.rpc.inproc import InProcTransport

pytestmark = [pytest.mark.unit, pytest.mark.timeout(10)]


@pytest.mark.parametrize(
    ("url", "bus"),
    [(None, "default"), ("", "default"), ("inproc://", "default"), ("inproc://api-tests", "api-tests")],
)
def test_inproc_urls(url: str | None, bus: str) -> None:
    transport = get_transport(url)
    assert isinstance(transport, InProcTransport) and transport.name == bus


def test_transports_of_the_default_bus_share_it() -> None:
    one, other = get_transport("inproc://"), get_transport("")
    assert isinstance(one, InProcTransport) and isinstance(other, InProcTransport)
    assert one.bus is other.bus


@pytest.mark.parametrize("scheme", ["amqp", "rabbit"])
def test_amqp_urls_and_options(scheme: str) -> None:
    transport = get_transport(f"{scheme}://u:p@mq.example:5672/cloud", namespace="c1", max_concurrency=8)
    assert isinstance(transport, AMQPTransport)
    assert transport.url == "amqp://u:p@mq.example:5672/cloud"
    assert (transport.namespace, transport.max_concurrency) == ("c1", 8)
    assert transport.exchange_names == ("c1", "c1.fanout", "c1.notifications")
    assert "u:p@" not in repr(transport)


@pytest.mark.parametrize("url", ["http://x", "kafka://broker", "no-scheme"])
def test_unknown_schemes_are_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        get_transport(url)


def test_registry_rejects_duplicates_and_accepts_new_schemes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpc, "_factories", dict(rpc._factories))
    with pytest.raises(ValueError):
        register_transport("inproc", lambda url, **kw: InProcTransport())
    with pytest.raises(ValueError):
        register_transport("AMQP", lambda url, **kw: InProcTransport())

    made: list[str] = []

    def factory(url: str, **options: object) -> Transport:
        made.append(url)
        return RecordingTransport()

    register_transport("memory", factory)
    assert isinstance(get_transport("memory://x"), RecordingTransport)
    assert made == ["memory://x"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:pw@h:5672/v", "amqp://guest:***@h:5672/v"),
        ("amqp://h/v", "amqp://h/v"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_amqp_transport_validates_its_settings() -> None:
    with pytest.raises(ValueError):
        AMQPTransport("http://h/")
    with pytest.raises(ValueError):
        AMQPTransport("amqp://h/", namespace="a b")
    with pytest.raises(ValueError):
        AMQPTransport("amqp://h/", max_concurrency=0)


def test_prepare_returns_a_changed_copy() -> None:
    transport = InProcTransport()
    client = RPCClient(transport, "compute", "1.2", timeout=30)
    pinned = client.prepare(server="node-1.example", timeout=5)
    assert (client.server, client.timeout, client.version) == (None, 30, "1.2")
    assert (pinned.server, pinned.timeout, pinned.version, pinned.topic) == (
        "node-1.example",
        5,
        "1.2",
        "compute",
    )
    assert pinned.prepare(server=None).server is None
    assert pinned.prepare(version="1.0").version == "1.0"


def test_client_validates_at_construction() -> None:
    transport = InProcTransport()
    with pytest.raises(ValueError):
        RPCClient(transport, "compute", "v1")
    with pytest.raises(ValueError):
        RPCClient(transport, "compute.x")
    with pytest.raises(ValueError):
        RPCClient(transport, "compute", timeout=0)
    with pytest.raises(ValueError):
        RPCClient(transport, "compute").prepare(server="bad host")


def test_can_send_version() -> None:
    client = RPCClient(InProcTransport(), "compute", "1.4")
    assert client.can_send_version("1.0") and client.can_send_version("1.4")
    assert not client.can_send_version("1.5") and not client.can_send_version("2.0")


async def test_client_sends_its_target_version_and_timeout() -> None:
    async with RecordingTransport() as bus:
        bus.stub("compute", "get", result={"ok": True})
        client = RPCClient(bus, "compute", "1.4").prepare(server="h1", timeout=7)
        # "method" is free to be an RPC argument: the method name is positional-only.
        assert await client.call("get", method="x") == {"ok": True}
        await client.cast("reboot", kind="hard")
        await client.fanout("refresh")
    assert [(m.kind, m.method, m.args, m.server, m.timeout, m.version) for m in bus.calls] == [
        ("call", "get", {"method": "x"}, "h1", 7, "1.4"),
        ("cast", "reboot", {"kind": "hard"}, "h1", None, "1.4"),
        ("fanout", "refresh", {}, None, None, "1.4"),
    ]
