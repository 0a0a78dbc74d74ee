"""What a broadcast produced: per-host results grouped by identical output.

Hosts whose command ran are grouped by a hash of (exit status, stdout, stderr): the
largest group is "identical", every other host that ran "differs". stderr counts: a
host that exited 0 with the same stdout but a warning on stderr (a GPG error from
``apt-get update``, a deprecation notice) is one the engineer needs to see, not one to
fold into the others under the first host's stderr. Hosts that could not be
reached (or dropped the session) are "unreachable", those whose host key CCM refused
"host key refused", those that refused our login "login refused", and those that ran
out of time "timed out". A broadcast stopped by Ctrl-C is ``interrupted``: the hosts it
cut off while running are "cut off" (the command may have run partly on them), those it
never started "not started"; both count as failed, so ``--retry-failed`` runs them.

No SSH here (asyncssh is not imported): ``ccm run`` builds the report from results
its worker processes send back.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ccm_tui.fleet.ssh_types import UNFINISHED_KINDS, RunResult

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
    #: Ctrl-C stopped the broadcast before every host had finished.
    interrupted: bool = False

    @property
    def unreachable(self) -> tuple[RunResult, ...]:
        """Results of hosts that could not be reached, or dropped the session."""
        return tuple(r for r in self.results if r.error and not r.refused
                     and r.error_kind != "timeout" and r.error_kind not in UNFINISHED_KINDS)

    @property
    def refused(self) -> tuple[RunResult, ...]:
        """Results of hosts CCM did not log in to: host key refused, or login refused."""
        return tuple(r for r in self.results if r.refused)

    @property
    def timed_out(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.results if r.error_kind == "timeout")

    @property
    def cut_off(self) -> tuple[RunResult, ...]:
        """Hosts Ctrl-C cut off while they ran (the command may have run partly)."""
        return tuple(r for r in self.results if r.error and r.error_kind == "interrupted")

    @property
    def not_started(self) -> tuple[RunResult, ...]:
        """Hosts Ctrl-C came before: the command never started there."""
        return tuple(r for r in self.results if r.error and r.error_kind == "not_started")

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
            "cut_off": len(self.cut_off), "not_started": len(self.not_started),
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
                   ("no_common_algorithm", "no common algorithm"), ("cut_off", "cut off"),
                   ("not_started", "not started")) if c[k]]
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
            "interrupted": self.interrupted,
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


__all__ = ["AUDIT_OUTPUT_CHARS", "BroadcastReport", "OutputGroup", "group_results", "output_key"]
