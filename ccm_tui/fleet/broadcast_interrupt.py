"""Ctrl-C during a broadcast: stop starting hosts, cut off the running ones, keep the rest.

Every process that runs hosts of a broadcast (``ccm run`` itself with ``--procs 1``,
the broadcast helper, each worker) runs its share with :func:`run_hosts`, which
watches a stop event. :func:`ctrl_c_stops` sets that event on SIGINT in a helper or
worker, as often as the signal comes (the terminal sends it to every process of
the group, and ``ccm run`` passes it on to its children as well); SIGTERM still ends
them at once. Once stopped, a share starts no more hosts, cancels the running ones
(which closes their sessions) and hands on one result per unfinished host:
``interrupted`` for a host cut off while it ran (its command may have run partly),
``not_started`` for one that never began. A worker's results travel to ``ccm run``
as usual, so the report holds every host and the hub records the partial run.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh_types import RunResult

if TYPE_CHECKING:
    from ccm_tui.fleet.ssh import SSHPool

_early = False  # SIGINT came before the event loop could watch for it


def cut_off(host: str, started: float) -> RunResult:
    """The result of a host Ctrl-C cut off while it ran (``started``: monotonic)."""
    took = time.monotonic() - started
    return RunResult(host, None, duration=took, error_kind="interrupted",
                     error=f"cut off by Ctrl-C after {took:.1f}s while running: the "
                     "command may have run partly on this host, or still be running there")


def not_started(host: str) -> RunResult:
    """The result of a host Ctrl-C came before: nothing ran there."""
    return RunResult(host, None, error="not started: Ctrl-C came first",
                     error_kind="not_started")


def note_early_ctrl_c() -> None:
    """Until :func:`ctrl_c_stops` watches for it, remember a SIGINT instead of dying of it
    (a worker or helper just forked, before its event loop runs)."""
    def note(_signum: int, _frame: object) -> None:
        global _early
        _early = True

    signal.signal(signal.SIGINT, note)


def ctrl_c_stops() -> asyncio.Event:
    """An event the running loop sets on SIGINT (at once if one came early)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    if _early:
        stop.set()
    return stop


async def run_hosts(pool: SSHPool, hosts: Sequence[FleetHost], command: str, *, forks: int,
                    timeout: float | None, take: Callable[[RunResult], None],
                    stop: asyncio.Event | None = None) -> None:
    """Run ``command`` on ``hosts``, at most ``forks`` at once, handing each result to
    ``take`` as it finishes.

    When ``stop`` is set: no host starts any more, the running ones are cancelled
    (their sessions closed), and every unfinished host is handed a
    :func:`cut_off` or :func:`not_started` result, in the order of ``hosts``.
    """
    if forks < 1:
        raise ValueError("forks must be at least 1")
    sem = asyncio.Semaphore(forks)
    started: dict[str, float] = {}

    async def one(h: FleetHost) -> RunResult | None:
        async with sem:
            if stop is not None and stop.is_set():
                return None  # Ctrl-C came while it waited for a slot
            started[h.name] = time.monotonic()
            return await pool.run(h, command, timeout=timeout, reuse_shell=True)

    tasks = {asyncio.ensure_future(one(h)): h for h in hosts}
    # one queue of finished tasks (None: stop) rather than asyncio.wait on all of them
    # each time, which costs a callback per pending host per result
    finished: asyncio.Queue[asyncio.Future[RunResult | None] | None] = asyncio.Queue()
    for fut in tasks:
        fut.add_done_callback(finished.put_nowait)
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    if stopping is not None:
        stopping.add_done_callback(lambda _: finished.put_nowait(None))
    pending, taken = set(tasks), set()
    try:
        while pending and (done := await finished.get()) is not None:
            pending.discard(done)
            if (r := done.result()) is not None:
                take(r)
                taken.add(done)
    finally:
        for fut in pending:
            fut.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if stopping is not None:
            stopping.cancel()
    for fut, h in tasks.items():
        if fut in taken:
            continue
        late = None if fut.cancelled() or fut.exception() is not None else fut.result()
        if late is not None:
            take(late)  # it finished as it was being cut off
        elif h.name in started:
            take(cut_off(h.name, started[h.name]))
        else:
            take(not_started(h.name))


__all__ = ["ctrl_c_stops", "cut_off", "not_started", "note_early_ctrl_c", "run_hosts"]
