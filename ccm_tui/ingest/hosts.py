"""Which inventory host an alert is about.

Candidates come from the alert's ``host``, ``hostname``, ``nodename`` and
``instance`` (port stripped) labels; each is tried against the hub's hosts by
name and by address, then by its first label (``web-01.prod.example`` → ``web-01``)
when that names exactly one host and at most one side is fully qualified: an alert
from ``web-01.staging.example`` is never taken for ``web-01.prod.example``, and a
short name two inventory hosts share matches neither. An alert for a host outside
the inventory still becomes a task, marked unmanaged (it escalates: CCM never
remediates a server it is not sure of).
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
        self._short: dict[str, set[str]] = {}
        self._managed: set[str] = set()
        for h in hosts:
            if h.managed:
                self._managed.add(h.name)
            for key in (h.name, h.address):
                if key:
                    self._index.setdefault(key.lower(), h.name)
            if not _is_address(h.name):
                self._short.setdefault(h.name.lower().split(".", 1)[0], set()).add(h.name)
        self.loaded_at = time.monotonic()

    def __len__(self) -> int:
        return len(self._managed)

    def resolve(self, candidates: Sequence[str]) -> HostMatch:
        """The first candidate that is an inventory host, else the first candidate, unmanaged."""
        for cand in candidates:
            name = self._index.get(cand.lower()) or self._by_short_name(cand)
            if name is not None:
                return HostMatch(name, name in self._managed)
        if candidates:
            return HostMatch(candidates[0][:253], False)
        return HostMatch(UNKNOWN_HOST, False)

    def _by_short_name(self, cand: str) -> str | None:
        if _is_address(cand):
            return None
        qualified = "." in cand
        found = [n for n in self._short.get(cand.lower().split(".", 1)[0], ())
                 if not (qualified and "." in n)]  # two different FQDNs never match
        return found[0] if len(found) == 1 else None


def _is_address(text: str) -> bool:
    """An IPv4 or IPv6 address (whose first "label" says nothing about a host name)."""
    return ":" in text or text.replace(".", "").isdigit()
