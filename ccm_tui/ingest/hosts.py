"""Which inventory host an alert is about.

Candidates come from the alert's ``host``, ``hostname``, ``nodename`` and
``instance`` (port stripped) labels; each is tried against the hub's hosts by
name, by address, and by the first label of a fully qualified name. An alert for a
host outside the inventory still becomes a task, marked unmanaged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ccm_tui.core.model import Host

UNKNOWN_HOST = "unknown"


@dataclass(frozen=True, slots=True)
class HostMatch:
    """The host an alert names, and whether CCM manages it."""

    name: str
    managed: bool


class HostDirectory:
    """Lookup of inventory hosts by name, address and short name."""

    def __init__(self, hosts: Iterable[Host] = ()) -> None:
        self._index: dict[str, str] = {}
        self._managed: set[str] = set()
        for h in hosts:
            if h.managed:
                self._managed.add(h.name)
            for key in (h.name, h.address, h.name.split(".", 1)[0]):
                if key:
                    self._index.setdefault(key.lower(), h.name)
        self.loaded_at = time.monotonic()

    def __len__(self) -> int:
        return len(self._managed)

    def resolve(self, candidates: Sequence[str]) -> HostMatch:
        """The first candidate that is an inventory host, else the first candidate, unmanaged."""
        for cand in candidates:
            for key in (cand.lower(), cand.lower().split(".", 1)[0]):
                name = self._index.get(key)
                if name is not None:
                    return HostMatch(name, name in self._managed)
        if candidates:
            return HostMatch(candidates[0][:253], False)
        return HostMatch(UNKNOWN_HOST, False)
