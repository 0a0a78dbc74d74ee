"""Broadcast: one command on many hosts in parallel, then a grouped summary.

The engine behind ``ccm run``, reusable by the TUI::

    async with SSHPool(inventory) as pool:
        async for result in broadcast_iter(pool, hosts, "uptime", forks=50, timeout=30):
            progress.advance()                   # per-host results as they finish
    # or, all at once with a callback:
    report = await broadcast(pool, hosts, "uptime", on_result=progress_cb)
    print(report.summary_line())               # 47 identical · 2 differ · 1 unreachable

How results are grouped and counted: :mod:`.broadcast_report`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from ccm_tui.fleet.broadcast_report import (
    AUDIT_OUTPUT_CHARS,
    BroadcastReport,
    OutputGroup,
    group_results,
    output_key,
)
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import RunResult, SSHPool


async def broadcast_iter(
    pool: SSHPool, hosts: Sequence[FleetHost], command: str, *, forks: int = 50,
    timeout: float | None = 30.0,
) -> AsyncIterator[RunResult]:
    """Run ``command`` on ``hosts``, at most ``forks`` at once; yield results as they finish.

    ``command`` is sent to each host's shell as is (a human typed it). Breaking
    out of the loop cancels the hosts still running.
    """
    if forks < 1:
        raise ValueError("forks must be at least 1")
    sem = asyncio.Semaphore(forks)

    async def one(h: FleetHost) -> RunResult:
        async with sem:
            return await pool.run(h, command, timeout=timeout, reuse_shell=True)

    tasks = [asyncio.ensure_future(one(h)) for h in hosts]
    try:
        for fut in asyncio.as_completed(tasks):
            yield await fut
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def broadcast(
    pool: SSHPool, hosts: Sequence[FleetHost], command: str, *, forks: int = 50,
    timeout: float | None = 30.0, pattern: str = "",
    on_result: Callable[[RunResult], None] | None = None,
) -> BroadcastReport:
    """Run ``command`` on every host and return the grouped :class:`BroadcastReport`.

    ``on_result`` is called with each host's result as it finishes (progress bars).
    Results in the report keep the order of ``hosts``.
    """
    from ccm_tui.fleet.broadcast_workers import spread_broadcast  # the one merge of results

    return await spread_broadcast(pool, hosts, command, workers=None, forks=forks,
                                  timeout=timeout, pattern=pattern, on_result=on_result)


__all__ = [
    "AUDIT_OUTPUT_CHARS",
    "BroadcastReport",
    "OutputGroup",
    "broadcast",
    "broadcast_iter",
    "group_results",
    "output_key",
]
