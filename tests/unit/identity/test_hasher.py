"""Password hashing (identity/manager/base.py): long passwords, old hashes, fair slots, throttling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import bcrypt
import pytest

from litestack.common import errors
from litestack.common.context import RequestContext, reset_current, set_current
from litestack.identity.manager.base import PREHASH_MARK, Busy, FailureThrottle, FairSlots, Hasher

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def hasher() -> Iterator[Hasher]:
    h = Hasher(rounds=4, workers=2)
    yield h
    h.close()


def test_passwords_longer_than_72_bytes_count_whole(hasher: Hasher) -> None:
    stored = hasher.hash("Z" * 72 + "SECRET")
    assert not hasher.check("Z" * 72 + "anything", stored)
    assert not hasher.check("Z" * 72, stored)
    assert hasher.check("Z" * 72 + "SECRET", stored)
    # Multi-byte characters: 30 x 3 bytes is past 72 bytes too.
    stored = hasher.hash("é" * 30 + "a")
    assert hasher.check("é" * 30 + "a", stored) and not hasher.check("é" * 30 + "b", stored)


def test_new_hashes_are_marked_and_fit_the_column(hasher: Hasher) -> None:
    stored = hasher.hash("x" * 4096)
    assert stored.startswith(PREHASH_MARK) and len(stored) <= 255
    assert hasher.hash("same") != hasher.hash("same")  # salted


def test_hashes_made_before_keep_working(hasher: Hasher) -> None:
    old = bcrypt.hashpw(b"old-password", bcrypt.gensalt(4)).decode()
    assert hasher.check("old-password", old)
    assert not hasher.check("old-passwore", old)
    # An old hash of a long password was made from its first 72 bytes; its owner still logs in.
    old_long = bcrypt.hashpw(("L" * 80).encode()[:72], bcrypt.gensalt(4)).decode()
    assert hasher.check("L" * 80, old_long)


def test_garbage_hash_is_a_failed_check_not_an_error(hasher: Hasher) -> None:
    assert not hasher.check("x", "not-a-hash")
    assert not hasher.check("x", PREHASH_MARK + "nonsense")


def _wait_for(cond: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_waiting_checks_are_served_one_source_at_a_time() -> None:
    slots = FairSlots(1, per_source=4, total=16)
    order: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        slots.acquire(name[0])
        with lock:
            order.append(name)
        slots.release()

    slots.acquire("A")  # the one slot is busy
    threads = []
    for name in ("A1", "A2", "A3", "B1"):  # A's burst queues first, then B's single login
        t = threading.Thread(target=worker, args=(name,))
        t.start()
        threads.append(t)
        _wait_for(lambda n=len(threads): slots._waiting == n)  # type: ignore[misc]
    slots.release()
    for t in threads:
        t.join(5)
    assert order == ["A1", "B1", "A2", "A3"]  # B waited for one of A's checks, not three


def test_a_source_cannot_queue_more_than_its_share() -> None:
    slots = FairSlots(1, per_source=2, total=3, wait=5)
    slots.acquire("A")
    def use(source: str) -> None:
        slots.acquire(source)
        slots.release()

    waiters = [threading.Thread(target=use, args=("A",)) for _ in range(2)]
    for t in waiters:
        t.start()
    _wait_for(lambda: slots._waiting == 2)
    started = time.monotonic()
    with pytest.raises(Busy) as refused:
        slots.acquire("A")  # refused at once, not after a wait
    assert time.monotonic() - started < 1
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "1"}
    b = threading.Thread(target=use, args=("B",))
    b.start()  # another source still gets in line
    _wait_for(lambda: slots._waiting == 3)
    with pytest.raises(Busy):
        slots.acquire("C")  # the queue as a whole is full
    slots.release()
    for t in [*waiters, b]:
        t.join(5)
    assert slots._waiting == 0 and slots._free == 1


def test_a_waiter_that_times_out_leaves_the_queue() -> None:
    slots = FairSlots(1, per_source=2, total=2, wait=0.05)
    slots.acquire("A")
    with pytest.raises(Busy):
        slots.acquire("B")
    assert slots._waiting == 0 and not slots._queues
    slots.release()
    slots.acquire("B")  # the slot is free again
    slots.release()


def test_hasher_queues_by_the_requests_client_address() -> None:
    h = Hasher(rounds=4, workers=1, per_source=1, queue=4)
    try:
        h.close()  # the dummy hash is made
        h.slots.acquire("other")
        seen: list[BaseException | bool] = []

        def login(addr: str) -> None:
            tok = set_current(RequestContext(remote_addr=addr))
            try:
                seen.append(h.check("pw", h._dummy))
            except Busy as exc:
                seen.append(exc)
            finally:
                reset_current(tok)

        first = threading.Thread(target=login, args=("192.0.2.1",))
        first.start()
        _wait_for(lambda: h.slots._waiting == 1)
        login("192.0.2.1")  # a second one from the same address: over its share
        assert isinstance(seen[0], Busy)
        h.slots.release()
        first.join(5)
        assert seen[1] is False
    finally:
        h.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_per_user_name_are_throttled_unknown_names_included() -> None:
    clock = FakeClock()
    t = FailureThrottle(per_source=100, per_user=3, window=60, clock=clock)
    for _ in range(3):
        t.check("192.0.2.1", "ref:nobody")
        t.failed("192.0.2.1", "ref:nobody")
        clock.now += 1
    with pytest.raises(errors.TooManyRequests) as exc:
        t.check("198.51.100.2", "ref:nobody")  # from anywhere
    assert exc.value.status == 429
    assert exc.value.headers == {"Retry-After": "57"}  # when the oldest failure leaves the window
    t.check("198.51.100.2", "user:alice")  # other names are not affected
    clock.now += 57
    t.check("198.51.100.2", "ref:nobody")  # the window moved on: no lockout to clear by hand


def test_failures_per_source_are_throttled() -> None:
    clock = FakeClock()
    t = FailureThrottle(per_source=5, per_user=100, window=60, clock=clock)
    for i in range(5):
        t.failed("192.0.2.1", f"ref:name{i}")
    with pytest.raises(errors.TooManyRequests):
        t.check("192.0.2.1", "user:alice")
    t.check("198.51.100.2", "user:alice")


def test_success_clears_the_user_count_and_zero_disables() -> None:
    clock = FakeClock()
    t = FailureThrottle(per_source=0, per_user=2, window=60, clock=clock)
    t.failed("s", "user:alice")
    t.succeeded("user:alice")
    t.failed("s", "user:alice")
    t.check("s", "user:alice")
    for _ in range(1000):
        t.failed("s", "ref:x")
    t.check("s", None)  # per_source 0: never throttled by address
