"""Ctrl-C in ``ccm run``: the first stops the broadcast, a second quits at once.

While hosts run, the first Ctrl-C sets the broadcast's stop event (see
:mod:`ccm_tui.fleet.broadcast_interrupt`): no host starts any more, the running ones
are cut off, every worker reports and is reaped, and ``ccm run`` prints and records
what it learned. A Ctrl-C after that (or once the broadcast is over, while the
summary is recorded or printed) ends the command at once with status 130: the
workers get SIGTERM, and no traceback is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from ccm_tui.fleet.broadcast_workers import Workers

#: The exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_STATUS = 130
STOPPING = "Ctrl-C: no more hosts start; closing the running sessions (Ctrl-C again quits at once)"


class CtrlC:
    """What Ctrl-C does during one ``ccm run``."""

    def __init__(self) -> None:
        self.workers: Workers | None = None
        self.pressed = 0
        #: Shows that the broadcast is stopping (default: a line on stderr).
        self.announce: Callable[[], None] = lambda: typer.echo(f"ccm run: {STOPPING}",
                                                               err=True)
        #: Run before quitting at once (the progress bar gives the terminal back).
        self.before_exit: list[Callable[[], None]] = []
        self._stop: asyncio.Event | None = None
        self._previous: Any = None
        self._holding = False

    def watch(self) -> asyncio.Event:
        """In the running loop: the event the first Ctrl-C sets (the broadcast's stop)."""
        self._stop = asyncio.Event()
        with contextlib.suppress(ValueError, RuntimeError):  # not the main thread: no signals
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._press)
        return self._stop

    def broadcast_over(self) -> None:
        """Every host has a result: from now on Ctrl-C quits at once."""
        self._stop = None

    def _press(self) -> None:
        self.pressed += 1
        if self.pressed == 1 and self._stop is not None:
            self._stop.set()
            with contextlib.suppress(Exception):
                self.announce()
            return
        self.exit_now()

    def hold(self) -> None:
        """Once the event loop is gone: Ctrl-C quits at once until :meth:`release`."""
        if self._holding:
            return
        with contextlib.suppress(ValueError):  # not the main thread
            self._previous = signal.signal(signal.SIGINT, lambda _s, _f: self.exit_now())
            self._holding = True

    def release(self) -> None:
        """Give SIGINT back to whoever had it before :meth:`hold`."""
        if self._holding:
            signal.signal(signal.SIGINT, self._previous)
            self._holding = False

    def exit_now(self) -> NoReturn:
        """Kill the workers and leave with status 130, flushing nothing."""
        for cleanup in self.before_exit:
            with contextlib.suppress(Exception):
                cleanup()
        if self.workers is not None:
            with contextlib.suppress(Exception):
                self.workers.stop()
        with contextlib.suppress(OSError):
            os.write(2, b"\nccm run: stopped at once by Ctrl-C\n")
        os._exit(INTERRUPTED_STATUS)


__all__ = ["INTERRUPTED_STATUS", "CtrlC"]
