"""One probe's output, read into a :class:`HealthSnapshot`.

The agent's ``probe`` prints a JSON object of health figures; a login script may print
before it, another agent version may send a figure in another shape, and a broken host
may send anything. :func:`snapshot_of` takes what is usable, names what was dropped in
``data["invalid"]``, and turns output with no figures at all into a failed probe, so one
host's odd output never stops a probe of the fleet.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

from ccm_tui.core.model import HealthSnapshot, utcnow
from ccm_tui.fleet.ssh_types import RunResult

#: Top processes kept in a stored snapshot (the probe reports 5).
TOP_KEPT = 3


def _worst(mounts: Any) -> float | None:
    pcts = [m["used_pct"] for m in mounts or () if m.get("used_pct") is not None]
    return max(pcts) if pcts else None


def _num(value: Any) -> float | None:
    """A finite number, or ``None`` (a bool, a string, NaN are not figures)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


#: The probe's keys CCM reads; output with none of them holds no health figures.
_FIGURES = ("cpu_pct", "memory", "mounts", "load", "failed_units")
_MOUNT_NUMBERS = ("total_bytes", "used_bytes", "free_bytes", "used_pct", "inodes_total",
                  "inodes_used", "inodes_pct")


def _parse(stdout: str) -> Any:
    """The probe's JSON object; a login script may print before it, so the last line
    that is one counts."""
    with contextlib.suppress(ValueError):
        return json.loads(stdout)
    for line in reversed(stdout.splitlines()):
        if line.lstrip().startswith("{"):
            with contextlib.suppress(ValueError):
                return json.loads(line)
    return None


def _clean(data: dict[str, Any]) -> list[str]:
    """Drop what the probe reported in the wrong shape (another agent version, a broken
    host), in place, so one host's odd output never stops a probe of the fleet; the
    names of what was dropped are returned."""
    bad: list[str] = []

    def number(d: dict[str, Any], key: str, name: str) -> None:
        if d.get(key) is not None and _num(d[key]) is None:
            bad.append(name)
            d[key] = None

    number(data, "cpu_pct", "cpu_pct")
    memory = data.get("memory")
    if memory is not None and not isinstance(memory, dict):
        bad.append("memory")
        data["memory"] = memory = None
    if isinstance(memory, dict):
        number(memory, "used_pct", "memory.used_pct")
    load = data.get("load")
    if load is not None and not (isinstance(load, list)
                                 and all(_num(x) is not None for x in load)):
        bad.append("load")
        data["load"] = []
    mounts = data.get("mounts")
    if mounts is not None and not isinstance(mounts, list):
        bad.append("mounts")
        data["mounts"] = mounts = None
    if isinstance(mounts, list):
        kept = []
        for i, m in enumerate(mounts):
            if not isinstance(m, dict) or not isinstance(m.get("mount"), str) or not m["mount"]:
                bad.append(f"mounts[{i}]")
                continue
            for key in _MOUNT_NUMBERS:
                number(m, key, f"mounts[{i}].{key}")
            kept.append(m)
        data["mounts"] = kept
    units = data.get("failed_units")
    if units is not None and not (isinstance(units, list)
                                  and all(isinstance(u, str) for u in units)):
        bad.append("failed_units")
        data["failed_units"] = None  # unknown: a ServiceDown episode neither fires nor clears
    for key in ("top_cpu", "top_mem"):
        if key in data and not (isinstance(data[key], list)
                                and all(isinstance(p, dict) for p in data[key])):
            bad.append(key)
            del data[key]
    return bad


def snapshot_of(host: str, res: RunResult, rtt_ms: float, install_error: str = ""
                ) -> HealthSnapshot:
    """The :class:`HealthSnapshot` of one probe's :class:`RunResult`.

    Figures in the wrong shape are left out and named in ``data["invalid"]``; output
    with no figures at all is a failed probe (``data["error"]``).
    """
    now = utcnow()
    base: dict[str, Any] = {"rtt_ms": round(rtt_ms, 1)}
    if install_error:
        base["install_error"] = install_error[:500]
    if res.error is not None:
        return HealthSnapshot(host, now, reachable=False, data={
            **base, "error": res.error[:500], "error_kind": res.error_kind or "unreachable"})
    data = _parse(res.stdout) if res.exit_status == 0 else None
    if not isinstance(data, dict):
        why = res.stderr.strip()[-300:] or res.stdout.strip()[:300] or "no output"
        return HealthSnapshot(host, now, data={
            **base, "error": f"probe exited {res.exit_status}: {why}"})
    if not any(data.get(k) is not None for k in _FIGURES):
        return HealthSnapshot(host, now, data={
            **base, "error": "the probe printed no health figures (cpu_pct, memory, mounts): "
                             f"{res.stdout.strip()[:200]} — is its agent current? "
                             "`ccm fleet install` pushes this version"})
    data.pop("invalid", None)  # only CCM says what was invalid
    if invalid := _clean(data):
        data["invalid"] = invalid
    if data.get("error") is not None:
        data["error"] = str(data["error"])[:500]
    for key in ("top_cpu", "top_mem"):
        if isinstance(data.get(key), list):
            data[key] = data[key][:TOP_KEPT]
    data.pop("host", None)
    memory = data.get("memory") or {}
    load = data.get("load") or []
    return HealthSnapshot(
        host, now, reachable=True, cpu_pct=_num(data.get("cpu_pct")),
        mem_pct=_num(memory.get("used_pct")), disk_pct=_worst(data.get("mounts")),
        load1=_num(load[0]) if load else None, data={**data, **base})


__all__ = ["TOP_KEPT", "snapshot_of"]
