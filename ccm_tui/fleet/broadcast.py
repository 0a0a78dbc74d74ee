"""Broadcast: one command on many hosts in parallel, then a grouped summary.

The engine behind ``ccm run``, reusable by the TUI::

    async with SSHPool(inventory) as pool:
        async for result in broadcast_iter(pool, hosts, "uptime", forks=50, timeout=30):
            progress.advance()                   # per-host results as they finish
    # or, all at once with a callback:
    report = await broadcast(pool, hosts, "uptime", on_result=progress_cb)
    print(report.summary_line())               # 47 identical · 2 differ · 1 unreachable

Hosts whose command ran are grouped by a hash of (exit status, stdout, stderr): the
largest group is "identical", every other host that ran "differs". stderr counts: a
host that exited 0 with the same stdout but a warning on stderr (a GPG error from
``apt-get update``, a deprecation notice) is one the engineer needs to see, not one to
fold into the others under the first host's stderr. Hosts that could not be
reached (or dropped the session) are "unreachable", those whose host key CCM refused
"host key refused", those that refused our login "login refused", and those that ran
out of time "timed out".
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import RunResult, SSHPool

#: How much of each output the audit record keeps (the TUI shows a preview).
AUDIT_OUTPUT_CHARS = 2000


def output_key(result: RunResult) -> str:
    """The grouping key of a result that ran: sha256 of exit status, stdout, stderr (12 hex)."""
    h = hashlib.sha256(f"{result.exit_status}\0{len(result.stdout)}\0".encode())
    h.update(result.stdout.encode("utf-8", "replace"))
    h.update(b"\0")
    h.update(result.stderr.encode("utf-8", "replace"))
    return h.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class OutputGroup:
    """Hosts whose command gave the same exit status, stdout and stderr."""

    key: str
    exit_status: int | None
    stdout: str
    stderr: str
    hosts: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.hosts)


@dataclass(frozen=True, slots=True)
class BroadcastReport:
    """Everything a broadcast produced: per-host results and the grouping."""

    command: str
    pattern: str
    results: tuple[RunResult, ...]
    groups: tuple[OutputGroup, ...]
    duration: float
    started_at: float = field(default_factory=time.time)

    @property
    def unreachable(self) -> tuple[RunResult, ...]:
        """Results of hosts that could not be reached, or dropped the session."""
        return tuple(r for r in self.results
                     if r.error and r.error_kind != "timeout" and not r.refused)

    @property
    def refused(self) -> tuple[RunResult, ...]:
        """Results of hosts CCM did not log in to: host key refused, or login refused."""
        return tuple(r for r in self.results if r.refused)

    @property
    def timed_out(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.results if r.error_kind == "timeout")

    @property
    def identical(self) -> int:
        """Hosts in the largest output group (0 when no two hosts agree, unless only one ran)."""
        if not self.groups:
            return 0
        top = self.groups[0].size
        ran = sum(g.size for g in self.groups)
        return top if top > 1 or ran == 1 else 0

    @property
    def differ(self) -> int:
        """Hosts that ran but are not in the largest group."""
        return sum(g.size for g in self.groups) - self.identical

    @property
    def ok(self) -> bool:
        """Every host ran the command and exited 0."""
        return bool(self.results) and all(r.ok for r in self.results)

    def failed_hosts(self) -> list[str]:
        """Hosts that did not run the command or exited non-zero (for ``--retry-failed``)."""
        return [r.host for r in self.results if not r.ok]

    def counts(self) -> dict[str, int]:
        return {
            "total": len(self.results), "identical": self.identical, "differ": self.differ,
            "timed_out": len(self.timed_out), "unreachable": len(self.unreachable),
            "hostkey_refused": sum(1 for r in self.refused if r.error_kind == "hostkey"),
            "login_refused": sum(1 for r in self.refused if r.error_kind == "auth"),
            "no_common_algorithm": sum(1 for r in self.refused if r.error_kind == "algorithms"),
            "ok": sum(1 for r in self.results if r.ok),
            "failed": sum(1 for r in self.results if not r.ok),
        }

    def summary_line(self) -> str:
        """``47 identical · 2 differ · 1 unreachable`` (zero parts left out, but never empty)."""
        c = self.counts()
        parts = [f"{c['identical']} identical"] if c["identical"] or not self.results else []
        parts += [f"{c[k]} {label}" for k, label in
                  (("differ", "differ"), ("timed_out", "timed out"),
                   ("unreachable", "unreachable"), ("hostkey_refused", "host key refused"),
                   ("login_refused", "login refused"),
                   ("no_common_algorithm", "no common algorithm")) if c[k]]
        if not parts:
            parts = [f"{c['differ']} differ"]
        return " · ".join(parts)

    def group_of(self, host: str) -> str | None:
        for g in self.groups:
            if host in g.hosts:
                return g.key
        return None

    def to_dict(self, *, output_chars: int | None = None) -> dict[str, Any]:
        """A JSON-ready document (``output_chars`` truncates outputs, e.g. for the audit log)."""

        def cut(text: str) -> str:
            if output_chars is None or len(text) <= output_chars:
                return text
            return text[:output_chars] + f"\n… ({len(text) - output_chars} more characters)"

        return {
            "command": self.command,
            "pattern": self.pattern,
            "summary": self.summary_line(),
            "counts": self.counts(),
            "ok": self.ok,
            "duration": round(self.duration, 3),
            "groups": [
                {"key": g.key, "exit_status": g.exit_status, "hosts": list(g.hosts),
                 "stdout": cut(g.stdout), "stderr": cut(g.stderr)}
                for g in self.groups
            ],
            "hosts": [
                {"host": r.host, "exit_status": r.exit_status, "ok": r.ok,
                 "duration": round(r.duration, 3), "error": r.error,
                 "error_kind": r.error_kind, "group": self.group_of(r.host),
                 **({} if output_chars is not None else {"stdout": r.stdout,
                                                          "stderr": r.stderr})}
                for r in self.results
            ],
        }


def group_results(results: Sequence[RunResult]) -> tuple[OutputGroup, ...]:
    """Group the results that ran by :func:`output_key`, largest group first."""
    by_key: dict[str, list[RunResult]] = {}
    for r in results:
        if r.error is None:
            by_key.setdefault(output_key(r), []).append(r)
    groups = [
        OutputGroup(k, rs[0].exit_status, rs[0].stdout, rs[0].stderr, tuple(r.host for r in rs))
        for k, rs in by_key.items()
    ]
    groups.sort(key=lambda g: (-g.size, g.exit_status != 0, g.hosts[0]))
    return tuple(groups)


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
    started, t0 = time.time(), time.monotonic()
    got: dict[str, RunResult] = {}
    async for r in broadcast_iter(pool, hosts, command, forks=forks, timeout=timeout):
        got[r.host] = r
        if on_result is not None:
            on_result(r)
    results = tuple(got[h.name] for h in hosts if h.name in got)
    return BroadcastReport(command, pattern, results, group_results(results),
                           time.monotonic() - t0, started)


__all__ = [
    "BroadcastReport",
    "OutputGroup",
    "broadcast",
    "broadcast_iter",
    "group_results",
    "output_key",
]
