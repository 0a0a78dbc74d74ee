"""The fleet's health in one line for ``ccm status``, from each host's latest probe."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ccm_tui.core.model import HealthSnapshot
from ccm_tui.core.text import duration, plural
from ccm_tui.daemon.health_rules import PROBE_STALE_SECONDS, HealthRules


def _out_of_inodes(snap: HealthSnapshot, rules: HealthRules) -> bool:
    mounts = snap.data.get("mounts")
    return isinstance(mounts, list) and any(
        isinstance(m, dict) and isinstance(m.get("inodes_pct"), int | float)
        and m["inodes_pct"] >= rules.inodes_pct for m in mounts)


def summarise(hosts: int, latest: Mapping[str, HealthSnapshot], now: datetime,
              rules: HealthRules | None = None) -> dict[str, Any]:
    """Counts of the latest probes: ok, critical (what the built-in rules alert on: a
    disk, its inodes or memory over the threshold, a failed systemd unit), unreachable,
    no login (login or host key refused), probe failed (logged in, but the probe gave no
    figures: the host is not watched), and how old the newest probe is."""
    r = rules or HealthRules()
    counts = {"ok": 0, "critical": 0, "unreachable": 0, "no_login": 0, "probe_failed": 0}
    for snap in latest.values():
        if not snap.reachable:
            counts["no_login" if snap.access_refused else "unreachable"] += 1
        elif snap.data.get("error"):  # HealthProbeFailed: nothing is known, so not "ok"
            counts["probe_failed"] += 1
        elif (snap.disk_pct or 0) >= r.disk_pct or (snap.mem_pct or 0) >= r.memory_pct \
                or snap.data.get("failed_units") or _out_of_inodes(snap, r):
            counts["critical"] += 1
        else:
            counts["ok"] += 1
    newest = max((s.taken_at for s in latest.values()), default=None)
    age = (now - newest).total_seconds() if newest is not None else None
    return {"hosts": hosts, "probed": len(latest), **counts,
            "last_probe_seconds_ago": round(age, 1) if age is not None else None,
            "stale": age is None or age > PROBE_STALE_SECONDS}


def describe(summary: Mapping[str, Any]) -> str:
    """``12 hosts · 10 ok · 1 critical · 1 no login — probed 12s ago`` (rich markup)."""
    if not summary["probed"]:
        return (f"{plural(summary['hosts'], 'host')}, none probed yet — `ccm up` probes every 30 s, "
                "`ccm fleet probe` probes now")
    parts = [plural(summary["hosts"], "host"), f"[green]{summary['ok']} ok[/]"]
    for key, label, style in (("critical", "critical", "bold red"),
                              ("unreachable", "unreachable", "red"),
                              ("no_login", "no login", "yellow"),
                              ("probe_failed", "probe failed", "yellow")):
        if summary[key]:
            parts.append(f"[{style}]{summary[key]} {label}[/]")
    unprobed = summary["hosts"] - summary["probed"]
    if unprobed > 0:
        parts.append(f"[dim]{unprobed} never probed[/]")
    ago = duration(summary["last_probe_seconds_ago"])
    tail = f"probed {ago} ago"
    if summary["stale"]:
        tail = f"[yellow]last probe {ago} ago: is `ccm up` running?[/]"
    elif summary["no_login"] or summary["probe_failed"]:
        why = " or the probe failed" if summary["probe_failed"] else ""
        tail += (f" · `ccm fleet probe` says why there is no login{why}"
                 if summary["no_login"] else " · `ccm fleet probe` says why the probe failed")
    return " · ".join(parts) + f" — {tail}"


__all__ = ["describe", "summarise"]
