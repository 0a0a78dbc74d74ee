"""Garbage collection paced for an interactive app: full collections while the user is idle.

CPython runs a full collection whenever enough objects have outlived the young
generations. With a transcript streaming in, that is every second or two, and each
one walks every object the app holds (1,000 hosts with their history, thousands of
transcript lines): 50-120 ms in which no key is handled — the slowest keystrokes
of a busy session. So while the app runs:

* what the first load brought in is frozen (:func:`gc.freeze`): it lives as long
  as the screen, and no collection walks it again;
* the young generations are collected by CPython as usual (cheap and frequent);
* the full collection is ours: when no key or click came for :attr:`idle` seconds
  (and not more often than :attr:`spacing`), or at the latest every
  :attr:`at_most` seconds. Cyclic garbage waits for it; nothing else does, since
  reference counting frees everything else at once.

When the app stops, the collector gets its thresholds back and what was frozen is
returned to it (:func:`gc.unfreeze`), so an app run inside a longer process (tests,
an embedding program) leaves the collector as it found it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

#: gc threshold 2 while paced: the number of young collections before a full one;
#: far beyond what a session reaches, so only :meth:`PacedCollector.tick` runs them.
NEVER = 1_000_000_000


class PacedCollector:
    """Moves CPython's full collections to moments when no one is typing."""

    def __init__(self, *, idle: float = 2.0, spacing: float = 10.0, at_most: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 collect: Callable[[], object] = gc.collect) -> None:
        self.idle = idle
        self.spacing = spacing
        self.at_most = at_most
        self._clock = clock
        self._collect = collect
        self._saved: tuple[int, int, int] | None = None
        self._froze = False
        self._last_input = self._last_full = clock()
        self.full_collections = 0

    @property
    def active(self) -> bool:
        """Whether full collections are paced (between :meth:`start` and :meth:`stop`)."""
        return self._saved is not None

    def start(self) -> None:
        """Take over full collections (idempotent)."""
        if self._saved is None:
            self._saved = gc.get_threshold()
            gc.set_threshold(self._saved[0], self._saved[1], NEVER)
            self._last_full = self._clock()

    def stop(self) -> None:
        """Give full collections back to CPython, with its thresholds and what was frozen."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
        if self._froze:
            gc.unfreeze()
            self._froze = False

    def freeze_loaded(self) -> None:
        """Exempt everything alive now from future collections (after the first load)."""
        if self._saved is not None:
            gc.freeze()
            self._froze = True

    def input_seen(self) -> None:
        """A key or a click: the user is here, do not pause now."""
        self._last_input = self._clock()

    def tick(self) -> bool:
        """Run the full collection if it is due; whether it ran (call about once a second)."""
        if self._saved is None:
            return False
        now = self._clock()
        since_full = now - self._last_full
        quiet = now - self._last_input >= self.idle
        if (quiet and since_full >= self.spacing) or since_full >= self.at_most:
            self._collect()
            self._last_full = now
            self.full_collections += 1
            return True
        return False


__all__ = ["NEVER", "PacedCollector"]
