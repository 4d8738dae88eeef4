"""Envelopes and errors as they cross the bus."""

from __future__ import annotations

import json

import pytest

from litestack.common.errors import Conflict, LitestackError, NotFound
from litestack.common.rpc import RemoteError, RPCTimeout, UnknownMethod
from litestack.common.rpc import message as msg
from litestack.common.rpc.dispatch import Dispatcher

pytestmark = [pytest.mark.unit, pytest.mark.timeout(10)]


def roundtrip(exc: BaseException) -> Exception:
    return msg.exception_from_dict(json.loads(json.dumps(msg.failure_to_dict(exc))))


def test_litestack_errors_come_back_as_their_class_with_message_and_data() -> None:
    back = roundtrip(Conflict("port in use", port_id="p1"))
    assert type(back) is Conflict
    assert (back.message, back.data, str(back)) == ("port in use", {"port_id": "p1"}, "port in use")
    assert back.port_id == "p1"  # type: ignore[attr-defined]


def test_errors_with_their_own_constructor_are_rebuilt_from_their_data() -> None:
    back = roundtrip(RPCTimeout("conductor", "build", 2.5))
    assert isinstance(back, RPCTimeout)
    assert (back.topic, back.method, back.timeout) == ("conductor", "build", 2.5)
    assert str(back) == "No reply to conductor.build within 2.5s"


def test_data_that_is_not_json_stays_behind() -> None:
    back = roundtrip(NotFound("gone", when=object(), id="x"))
    assert isinstance(back, LitestackError) and back.data == {"id": "x"}


def test_data_cannot_override_class_attributes() -> None:
    back = roundtrip(NotFound("gone", status=200, title="OK"))
    assert (back.status, back.title) == (404, "Not Found")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("module", "type_name"),
    [
        ("builtins", "ValueError"),  # not ours
        ("os", "system"),  # not even an exception
        ("litestack.no_such_module", "Boom"),
        ("litestack.common.context", "RequestContext"),  # ours, but not an error class
        ("litestack.common.errors", "Conflict.__init__"),
        ("litestack.common.errors", "Missing"),
    ],
)
def test_anything_else_becomes_remote_error(module: str, type_name: str) -> None:
    back = msg.exception_from_dict({"module": module, "type": type_name, "message": "m", "data": {}})
    assert type(back) is RemoteError
    assert (back.exc_type, back.message) == (type_name, "m")


def test_plain_exceptions_become_remote_error_naming_the_type() -> None:
    back = roundtrip(ValueError("bad value"))
    assert isinstance(back, RemoteError)
    assert str(back) == "ValueError: bad value"


def test_remote_error_survives_a_second_hop() -> None:
    back = roundtrip(roundtrip(KeyError("k")))
    assert isinstance(back, RemoteError) and back.exc_type == "KeyError"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'{"method": "x"}', b'{"version": "2.0", "method": "x", "args": {}}', b"\xff"],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(msg.MalformedMessage):
        msg.decode_request(body)


def test_newer_minor_envelopes_are_accepted() -> None:
    body = json.dumps({"version": "1.7", "method": "x", "args": {}, "extra": 1}).encode()
    assert msg.decode_request(body)["method"] == "x"


def test_request_envelope_has_version_and_no_token() -> None:
    from litestack.common.context import RequestContext, reset_current, set_current

    token = set_current(RequestContext(auth_token="secret-token"))
    try:
        envelope = msg.make_request("call", "compute", "boot", {"a": 1}, server="h1", api_version="1.2")
    finally:
        reset_current(token)
    assert envelope["version"] == msg.ENVELOPE_VERSION
    assert (envelope["topic"], envelope["server"], envelope["api_version"]) == ("compute", "h1", "1.2")
    assert b"secret-token" not in msg.encode(envelope)


def test_notification_envelope_validates_its_fields() -> None:
    with pytest.raises(ValueError):
        msg.make_notification("", {}, "info", "p")
    with pytest.raises(ValueError):
        msg.make_notification("a.b", {}, "info", "")
    with pytest.raises(TypeError):
        msg.make_notification("a.b", [], "info", "p")  # type: ignore[arg-type]


class Endpoint:
    rpc_methods = ("ping",)
    rpc_version = "2.1"

    def ping(self) -> str:
        return "pong"


async def test_dispatcher_refuses_other_majors_and_newer_minors() -> None:
    dispatcher = Dispatcher("t", Endpoint())
    for version, ok in [(None, True), ("2.0", True), ("2.1", True), ("2.2", False), ("1.9", False)]:
        request = msg.make_request("call", "t", "ping", {}, api_version=version)
        reply = await dispatcher.handle(request)
        assert reply["ok"] is ok, version


async def test_dispatcher_answers_unknown_methods_with_unknown_method() -> None:
    reply = await Dispatcher("t", Endpoint()).handle(msg.make_request("call", "t", "pong", {}))
    with pytest.raises(UnknownMethod):
        msg.result_from_reply(msg.encode(reply))


def test_dispatcher_rejects_bad_declarations() -> None:
    class ListNotTuple:
        rpc_methods = ["ping"]

        def ping(self) -> None: ...

    class NotCallable:
        rpc_methods = ("value",)
        value = 3

    class BadVersion:
        rpc_methods = ()
        rpc_version = "one"

    with pytest.raises(TypeError):
        Dispatcher("t", ListNotTuple())
    with pytest.raises(ValueError):
        Dispatcher("t", NotCallable())
    with pytest.raises(ValueError):
        Dispatcher("t", BadVersion())
