"""The proxy's side of the storage servers: which nodes to ask, in which order, and quorums.

Writes go to every primary replica of the partition; a primary that does not answer the device
check (down, or its device unmounted: 507) is replaced by the next handoff, and the write succeeds
when a majority of replicas succeed. Reads go to the primaries in turn, then to the handoffs, and
take the first good answer; a tombstone newer than a data answer wins (newest X-Timestamp).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from litestack.object import http, storage_policy
from litestack.object.bufferedhttp import Pool, Response
from litestack.object.ring import Device, Ring, RingError

LOG = logging.getLogger(__name__)


#: How long the proxy trusts that a container it saw exists (deleted through this proxy: at once).
CONTAINER_CACHE_SECONDS = 5.0


def quorum(replicas: int) -> int:
    return replicas // 2 + 1


@dataclass
class Target:
    """A name's place in the ring: its partition and the nodes to try (primaries, then handoffs)."""

    partition: int
    primaries: list[Device]
    handoffs: list[Device]


class Backend:
    """HTTP to the storage servers, with the cluster secret, the ring reloaded when its file changes."""

    def __init__(self, ring_path: Path, secret: str, timeout: float = 10.0) -> None:
        self.ring_path = ring_path
        self.secret = secret
        self.timeout = timeout
        self._ring: Ring | None = None
        self._ring_mtime = 0.0
        self._checked = 0.0
        self._client: Pool | None = None
        #: Containers seen to exist lately, until when (Swift keeps this in memcache for 60 s:
        #: an object PUT then needs no HEAD of its container).
        self._containers: dict[tuple[str, str], tuple[float, int]] = {}
        self._policy_rings: dict[int, tuple[Ring, float, float]] = {}
        #: Nodes that failed recently, until when (Swift's error limiting): tried last.
        self._errors: dict[tuple[str, int, str], float] = {}

    @property
    def ring(self) -> Ring:
        now = time.monotonic()
        if self._ring is None or now - self._checked > 2:
            self._checked = now
            mtime = os.stat(self.ring_path).st_mtime
            if self._ring is None or mtime != self._ring_mtime:
                self._ring = Ring.load(self.ring_path)
                self._ring_mtime = mtime
        return self._ring

    @property
    def client(self) -> Pool:
        if self._client is None:
            self._client = Pool(self.timeout, connect_timeout=2.0)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def policy_ring(self, index: int) -> Ring | None:
        """The object ring of a storage policy; None when it has none (not in force here)."""
        if index == 0:
            return self.ring
        path = storage_policy.ring_path(self.ring_path, index)
        now = time.monotonic()
        cached = self._policy_rings.get(index)
        if cached is None or now - cached[2] > 2:
            try:
                mtime = os.stat(path).st_mtime
            except FileNotFoundError:
                self._policy_rings.pop(index, None)
                return None
            ring = cached[0] if cached is not None and cached[1] == mtime else Ring.load(path)
            cached = self._policy_rings[index] = (ring, mtime, now)
        return cached[0]

    def policies(self) -> list[storage_policy.StoragePolicy]:
        """The storage policies in force (those with a ring)."""
        return [p for p in storage_policy.POLICIES if self.policy_ring(p.index) is not None]

    def target(self, account: str, container: str | None = None, obj: str | None = None,
               policy: int = 0) -> Target:
        ring = self.ring if obj is None or not policy else self.policy_ring(policy)
        if ring is None:
            raise RingError(f"no ring for storage policy {policy}")
        part, primaries = ring.get_nodes(account, container, obj)
        return Target(part, primaries, list(ring.handoffs(part)))

    def url(self, node: Device, part: int, account: str, container: str | None = None,
            obj: str | None = None) -> str:
        path = f"/{quote(node.device)}/{part}/{quote(account, safe='')}"
        if container is not None:
            path += "/" + quote(container, safe="")
            if obj is not None:
                path += "/" + quote(obj, safe="")
        return node.url + path

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {http.SECRET_HEADER: self.secret, **(extra or {})}

    def known_container(self, account: str, container: str) -> int | None:
        """The storage policy of a container seen lately, or None."""
        hit = self._containers.get((account, container))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def remember_container(self, account: str, container: str, policy: int) -> None:
        if len(self._containers) > 10000:
            self._containers.clear()
        self._containers[(account, container)] = (time.monotonic() + CONTAINER_CACHE_SECONDS, policy)

    def forget_container(self, account: str, container: str) -> None:
        self._containers.pop((account, container), None)

    def error(self, node: Device) -> None:
        self._errors[(node.ip, node.port, node.device)] = time.monotonic() + 10

    def limited(self, node: Device) -> bool:
        until = self._errors.get((node.ip, node.port, node.device))
        return until is not None and until > time.monotonic()

    def read_order(self, t: Target) -> list[Device]:
        nodes = [*t.primaries, *t.handoffs[:max(len(t.primaries), 2)]]
        return sorted(nodes, key=self.limited)  # stable: nodes that failed lately go last

    async def alive(self, node: Device) -> bool:
        """The device check before a write (what Swift's ``Expect: 100-continue`` gives it)."""
        if self.limited(node):
            return False
        try:
            r = await self.client.head(f"{node.url}/{quote(node.device)}/0/-", headers=self.headers())
        except httpx.HTTPError:
            self.error(node)
            return False
        if r.status_code != 204:
            self.error(node)
            return False
        return True

    async def write_nodes(self, t: Target) -> list[Device]:
        """One live node per primary replica: the primary itself, else the next unused handoff."""
        checks = await asyncio.gather(*(self.alive(n) for n in t.primaries))
        chosen: list[Device] = []
        spare = iter(t.handoffs)
        for node, ok in zip(t.primaries, checks, strict=True):
            if ok:
                chosen.append(node)
                continue
            for hand in spare:
                if await self.alive(hand):
                    chosen.append(hand)
                    break
        return chosen

    async def send(self, method: str, url: str, headers: dict[str, str], node: Device,
                   content: Any = None) -> Response | None:
        try:
            r = await self.client.request(method, url, headers=self.headers(headers), content=content)
        except httpx.HTTPError as exc:
            LOG.warning("storage node %s:%s/%s: %s %s", node.ip, node.port, node.device, method, exc)
            self.error(node)
            return None
        if r.status_code >= 500:
            self.error(node)
        return r

    async def write_all(self, method: str, t: Target, account: str, container: str | None,
                        obj: str | None, headers_for: Callable[[int], dict[str, str]],
                        content: bytes | None = None) -> list[int]:
        """The same write (bodiless, or with a small body held in memory) to a node per replica; the
        status of each. A node that does not answer, or answers 5xx or 507, is replaced by the next
        handoff and the write is sent there again (a primary that failed lately goes straight to
        a handoff)."""
        spare = list(t.handoffs)
        lock = asyncio.Lock()

        async def next_handoff() -> Device | None:
            """The next unused handoff, one that has not failed lately first (but one that has
            still beats writing fewer replicas)."""
            async with lock:
                if not spare:
                    return None
                pick = next((h for h in spare if not self.limited(h)), spare[0])
                spare.remove(pick)
                return pick

        async def one(i: int, node: Device) -> int:
            if self.limited(node):
                node = await next_handoff() or node
            while True:
                r = await self.send(method, self.url(node, t.partition, account, container, obj), headers_for(i),
                                    node, content)
                if r is not None and r.status_code < 500:
                    return r.status_code
                if r is not None and r.status_code != 507:
                    self.error(node)
                hand = await next_handoff()
                if hand is None:
                    return r.status_code if r is not None else 503
                node = hand

        return list(await asyncio.gather(*(one(i, n) for i, n in enumerate(t.primaries))))

    async def read(self, method: str, t: Target, account: str, container: str | None, obj: str | None,
                   headers: dict[str, str], params: dict[str, str] | None = None,
                   stream: bool = False) -> Response | None:
        """The first good answer among the replicas (a 404 only when every node says so; None
        when no node answered at all). A streamed answer must be closed by the caller."""
        not_found: Response | None = None
        newest_tombstone = ""
        for node in self.read_order(t):
            url = self.url(node, t.partition, account, container, obj)
            try:
                r = await self.client.request(method, url, headers=self.headers(headers), params=params,
                                              stream=stream)
            except httpx.HTTPError:
                self.error(node)
                continue
            if r.status_code == 404:
                ts = r.headers.get("x-backend-timestamp", "")
                newest_tombstone = max(newest_tombstone, ts)
                await r.aclose()
                not_found = r
                continue
            if r.status_code >= 500:
                self.error(node)
                await r.aclose()
                continue
            found_ts = r.headers.get("x-backend-timestamp", "")
            if newest_tombstone and found_ts and found_ts < newest_tombstone and not_found is not None:
                await r.aclose()  # deleted since this replica was written: the newest answer wins
                return not_found
            return r
        return not_found


def best_status(statuses: Sequence[int], replicas: int) -> int | None:
    """The status a quorum of replicas agrees on by class (2xx, 404, 409, …), else None."""
    need = quorum(replicas)
    by_class: dict[int, list[int]] = {}
    for s in statuses:
        by_class.setdefault(s // 100 if s < 400 else s, []).append(s)
    for key in sorted(by_class, key=lambda k: -len(by_class[k])):
        group = by_class[key]
        if len(group) >= need:
            return min(group)
    return None


class FanOut:
    """Copies one stream of chunks to several readers, each with a bounded queue (backpressure:
    nothing is held beyond ``depth`` chunks per reader, never a whole object). A reader whose node
    failed is ``drop``ped and no longer waited for. When the source fails (the client went away),
    every reader raises, so no storage server commits a truncated object."""

    _END = b""

    def __init__(self, source: AsyncIterator[bytes], sinks: int, depth: int = 4) -> None:
        self.source = source
        self.queues: list[asyncio.Queue[bytes | BaseException]] = [asyncio.Queue(depth) for _ in range(sinks)]
        self.dropped: set[int] = set()

    def drop(self, i: int) -> None:
        self.dropped.add(i)
        q = self.queues[i]
        while not q.empty():
            q.get_nowait()

    async def _put(self, i: int, item: bytes | BaseException) -> None:
        if i not in self.dropped:
            await self.queues[i].put(item)
            if i in self.dropped:  # dropped while we waited: leave nothing behind
                self.drop(i)

    async def pump(self) -> None:
        try:
            async for chunk in self.source:
                if chunk:
                    await asyncio.gather(*(self._put(i, chunk) for i in range(len(self.queues))))
        except BaseException as exc:
            for q in self.queues:
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(ConnectionAbortedError("the client stopped sending"))
            if not isinstance(exc, Exception):
                raise
            return
        await asyncio.gather(*(self._put(i, self._END) for i in range(len(self.queues))))

    async def reader(self, i: int) -> AsyncIterator[bytes]:
        q = self.queues[i]
        while True:
            item = await q.get()
            if isinstance(item, BaseException):
                raise item
            if item == self._END:
                return
            yield item
