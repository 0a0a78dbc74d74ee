"""Running the receiver: ``ccm webhook`` (and the receiver half of ``ccm up``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from ccm_tui.core.errors import ConfigError
from ccm_tui.hub.base import Hub
from ccm_tui.ingest.metrics import Metrics
from ccm_tui.ingest.pipeline import Ingestor, IngestSettings
from ccm_tui.ingest.server import REJECTIONS, HttpErrorLog, ReceiverConfig, make_app


def parse_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:9797``, ``[::1]:9797`` or ``:9797`` → (host, port)."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ConfigError(f"--listen {value!r}: expected HOST:PORT", hint="e.g. 127.0.0.1:9797")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"--listen {value!r}: {port!r} is not a port number",
                          hint="e.g. 127.0.0.1:9797") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"--listen {value!r}: port out of range", hint="use 1-65535")
    return host, number


def is_loopback(host: str) -> bool:
    return host in {"127.0.0.1", "::1", "localhost"} or host.startswith("127.")


@dataclass
class RunningReceiver:
    """A started receiver; ``port`` is the bound port (useful with port 0)."""

    runner: web.AppRunner
    host: str
    port: int
    ingestor: Ingestor

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.ingestor.flush()


async def start_receiver(hub: Hub, listen: str, config: ReceiverConfig | None = None, *,
                         settings: IngestSettings | None = None,
                         metrics: Metrics | None = None) -> RunningReceiver:
    """Bind and start serving; the hub must already be connected."""
    host, port = parse_listen(listen)
    ingestor = Ingestor(hub, settings=settings, metrics=metrics)
    app = make_app(ingestor, config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           logger=HttpErrorLog(logging.getLogger("aiohttp.server"),
                                               app[REJECTIONS], ingestor.metrics))
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {listen}: {exc.strerror}",
                          hint="pick a free port with --listen HOST:PORT") from None
    bound = port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            bound = int(address[1])
            break
    return RunningReceiver(runner, host, bound, ingestor)


async def serve_until_stopped(start: Callable[[], Awaitable[RunningReceiver]],
                              on_ready: Callable[[RunningReceiver], None]) -> None:
    """Start, report, and run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    receiver = await start()
    on_ready(receiver)
    try:
        await stop.wait()
    finally:
        await receiver.stop()
