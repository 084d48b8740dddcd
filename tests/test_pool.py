"""The per-origin connection pools: only unused origins are ever closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpcore

from monitor.fetch.pool import OriginPools


class _Body:
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"body"

    async def aclose(self) -> None:
        pass


class _FakePool:
    def __init__(self, expired: bool = False) -> None:
        self.closed = False
        self.expired = expired
        self.connections: list[_FakeConnection] = [_FakeConnection(self)]

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        return httpcore.Response(200, content=_Body())

    async def aclose(self) -> None:
        self.closed = True


class _FakeConnection:
    def __init__(self, pool: _FakePool) -> None:
        self._pool = pool

    def is_closed(self) -> bool:
        return False

    def is_idle(self) -> bool:
        return True

    def has_expired(self) -> bool:
        return self._pool.expired


def _request(host: str) -> httpcore.Request:
    return httpcore.Request("GET", f"http://{host}/")


def test_least_recently_used_unused_origin_is_closed_first() -> None:
    made: list[_FakePool] = []

    def make() -> _FakePool:
        made.append(_FakePool())
        return made[-1]

    async def run() -> None:
        pools = OriginPools(make, max_origins=2, sweep_every=1e9)  # type: ignore[arg-type]
        held = await pools.handle_async_request(_request("a"))  # in use until its body is closed
        for host in ("b", "b", "c"):
            response = await pools.handle_async_request(_request(host))
            await response.aclose()
        assert len(made) == 3  # b's second request reused its pool
        assert [pool.closed for pool in made] == [False, True, False]  # c pushed b out: a was in use
        await held.aclose()
        await pools.aclose()
        assert all(pool.closed for pool in made)

    asyncio.run(run())


def test_sweep_closes_origins_whose_connections_all_expired() -> None:
    now = [0.0]
    made: dict[str, _FakePool] = {}

    async def run() -> None:
        pools = OriginPools(lambda: made.setdefault("a" if not made else "b", _FakePool()),  # type: ignore[arg-type]
                            max_origins=10, sweep_every=15, clock=lambda: now[0])
        await (await pools.handle_async_request(_request("a"))).aclose()
        made["a"].expired = True
        now[0] = 20.0
        await (await pools.handle_async_request(_request("b"))).aclose()
        assert made["a"].closed and not made["b"].closed

    asyncio.run(run())
