"""What every fake shares: an aiohttp server on 127.0.0.1 (port 0), scripted answers,
a record of every request, and a gate that holds answers (to kill a client mid-request)."""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    """One request as received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    query: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Scripted:
    """A canned answer used instead of the real handling (429, 500, 400…)."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer(ABC):
    """Base class: subclasses add routes in :meth:`routes` and use :meth:`_take_script`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Scripted] = deque()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.hold_after: int | None = None
        self.released = asyncio.Event()

    @abstractmethod
    def routes(self, app: web.Application) -> None:
        """Add the service's endpoints (its documented wire format) to ``app``."""

    def script(self, status: int, *, times: int = 1, body: str = "",
               headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` instead of handling them."""
        for _ in range(times):
            self._script.append(Scripted(status, body, dict(headers or {})))

    async def start(self) -> str:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = Recorded(request.method, request.path, dict(request.headers), body, raw,
                       {k: request.query.getall(k) for k in request.query})
        self.requests.append(rec)
        return rec

    def _take_script(self) -> web.Response | None:
        if not self._script:
            return None
        s = self._script.popleft()
        return web.Response(status=s.status, text=s.body, headers=s.headers)

    async def _maybe_hold(self) -> None:
        """After ``hold_after`` requests, answer nothing until :attr:`released` is set."""
        if self.hold_after is not None and len(self.requests) > self.hold_after:
            await self.released.wait()
