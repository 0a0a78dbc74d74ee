"""Process actions from ``/proc``: top processes, memory, zombies (read-only), kill."""

from __future__ import annotations

import os
import signal as signal_mod
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from agent_runtime.actions.base import ActionContext, ActionResult, action, require
from agent_runtime.hostroot import HostRoot

__all__ = [
    "ProcStat",
    "kill_process",
    "list_pids",
    "memory",
    "memory_usage",
    "read_meminfo",
    "read_stat",
    "sample_processes",
    "top_processes",
    "unit_from_cgroup",
    "unit_of",
    "zombie_processes",
]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class ProcStat:
    """The fields of ``/proc/PID/stat`` the actions use."""

    pid: int
    name: str
    state: str
    ppid: int
    cpu_ticks: int  # utime + stime
    rss_bytes: int


def read_stat(pid: int) -> Optional[ProcStat]:
    """Parse ``/proc/PID/stat``; None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    lpar, rpar = raw.find("("), raw.rfind(")")
    fields = raw[rpar + 2:].split()
    try:
        return ProcStat(pid, raw[lpar + 1:rpar], fields[0], int(fields[1]),
                        int(fields[11]) + int(fields[12]), int(fields[21]) * _PAGE)
    except (IndexError, ValueError):
        return None


def list_pids() -> List[int]:
    """Every pid in ``/proc``."""
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []


def cmdline(pid: int, limit: int = 512) -> str:
    """The command line of *pid*, space-joined and cut to *limit* characters."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read(limit * 4)
    except OSError:
        return ""
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")[:limit]


def unit_from_cgroup(text: str) -> str:
    """The system service a ``/proc/PID/cgroup`` text names, or "".

    That is the first ``.service`` of the path: deeper ones belong to a delegated manager
    (a user's own systemd, a container), whose units a user names at will — a user unit
    called ``postgresql.service`` must not make a fix restart the system's PostgreSQL.
    A process under a user's manager (``user@1000.service``) belongs to no system
    service a fix may restart either.
    """
    for line in text.splitlines():
        parts = [p for p in line.split(":", 2)[-1].split("/") if p.endswith(".service")]
        if parts:
            return "" if parts[0].startswith("user@") else parts[0]
    return ""


def unit_of(pid: int) -> str:
    """The system service *pid* runs in (see :func:`unit_from_cgroup`), or ""."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="replace") as fh:
            return unit_from_cgroup(fh.read())
    except OSError:
        return ""


def read_meminfo() -> Dict[str, int]:
    """``/proc/meminfo`` in bytes, by key."""
    out: Dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    except OSError:
        pass
    return out


def memory(root: Optional[HostRoot] = None) -> Dict[str, Any]:
    """Total/available memory and swap, with percentages.

    A simulated *root* that declares its memory is reported as declared (no swap).
    """
    declared = root.declared_memory() if root is not None else None
    if declared is not None:
        total, used = declared
        return {
            "total_bytes": total, "available_bytes": total - used,
            "used_pct": round(100.0 * used / total, 1) if total else 0.0,
            "swap_total_bytes": 0, "swap_used_bytes": 0, "swap_used_pct": 0.0,
        }
    mi = read_meminfo()
    total = mi.get("MemTotal", 0)
    avail = mi.get("MemAvailable", mi.get("MemFree", 0) + mi.get("Cached", 0))
    swap_total = mi.get("SwapTotal", 0)
    swap_used = swap_total - mi.get("SwapFree", 0)
    return {
        "total_bytes": total, "available_bytes": avail,
        "used_pct": round(100.0 * (total - avail) / total, 1) if total else 0.0,
        "swap_total_bytes": swap_total, "swap_used_bytes": swap_used,
        "swap_used_pct": round(100.0 * swap_used / swap_total, 1) if swap_total else 0.0,
    }


def sample_processes(interval: float) -> Tuple[List[Tuple[ProcStat, float]], float]:
    """Every process with its CPU % over *interval* seconds; also the elapsed time."""
    first = {pid: st for pid in list_pids() if (st := read_stat(pid)) is not None}
    t0 = time.monotonic()
    time.sleep(interval)
    elapsed = max(time.monotonic() - t0, 1e-6)
    out: List[Tuple[ProcStat, float]] = []
    for pid in list_pids():
        st = read_stat(pid)
        if st is None:
            continue
        prev = first.get(pid)
        ticks = st.cpu_ticks - prev.cpu_ticks if prev is not None else 0
        out.append((st, round(100.0 * ticks / _TICKS / elapsed, 1)))
    return out, elapsed


def describe_process(st: ProcStat, cpu: float, mem_total: int) -> Dict[str, Any]:
    """The reported fields of one process."""
    return {
        "pid": st.pid, "name": st.name, "cmdline": cmdline(st.pid), "cpu_pct": cpu,
        "rss_bytes": st.rss_bytes,
        "mem_pct": round(100.0 * st.rss_bytes / mem_total, 1) if mem_total else 0.0,
        "unit": unit_of(st.pid),
    }


@action("top_processes", read_only=True, params={"by": 'str(cpu|mem)="cpu"', "limit": "int=10"})
def top_processes(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """The top processes by CPU (sampled over ~100 ms) or by resident memory."""
    require(params["limit"] > 0, "param 'limit': must be > 0")
    procs, _ = sample_processes(0.1)
    index = 1 if params["by"] == "cpu" else 0
    procs.sort(key=lambda p: (p[1], p[0].rss_bytes) if index else (p[0].rss_bytes, p[1]), reverse=True)
    total = read_meminfo().get("MemTotal", 0)
    out = [describe_process(st, cpu, total) for st, cpu in procs[: params["limit"]]]
    lead = f"; top: {out[0]['name']} ({out[0]['pid']})" if out else ""
    return ActionResult(True, f"{len(procs)} processes by {params['by']}{lead}",
                        {"processes": out, "by": params["by"]})


@action("memory_usage", read_only=True, params={})
def memory_usage(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Memory and swap totals and use, from ``/proc/meminfo``."""
    data = memory(ctx.root)
    return ActionResult(True, f"memory {data['used_pct']}% used, swap {data['swap_used_pct']}%", data)


@action("zombie_processes", read_only=True, params={})
def zombie_processes(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Zombie processes and their parents (name and systemd unit), which must reap them."""
    zombies: List[Dict[str, Any]] = []
    for pid in list_pids():
        st = read_stat(pid)
        if st is None or st.state != "Z":
            continue
        parent = read_stat(st.ppid)
        zombies.append({"pid": pid, "name": st.name, "ppid": st.ppid,
                        "parent_name": parent.name if parent else "", "parent_unit": unit_of(st.ppid)})
    return ActionResult(True, f"{len(zombies)} zombie processes", {"count": len(zombies), "zombies": zombies})


@action("kill_process", read_only=False, params={
    "pid": "int", "signal": 'str(TERM|KILL|HUP|INT|QUIT|USR1|USR2)="TERM"', "wait_seconds": "float=2",
})
def kill_process(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Send a signal to a process (never pid 1 or the agent itself); report whether it exited."""
    pid = params["pid"]
    require(pid > 1, "param 'pid': must be > 1")
    require(pid != os.getpid(), "param 'pid': refusing to signal the agent itself")
    st = read_stat(pid)
    data: Dict[str, Any] = {"pid": pid, "name": st.name if st else "", "signal": params["signal"],
                            "sent": False, "exited": st is None}
    if st is None:
        return ActionResult(False, f"no process {pid}", data, error=f"no process {pid}")
    if ctx.dry_run:
        return ActionResult(True, f"would send SIG{params['signal']} to {pid} ({st.name})", data)
    try:
        os.kill(pid, getattr(signal_mod, "SIG" + params["signal"]))
    except OSError as exc:
        return ActionResult(False, f"kill {pid} failed: {exc.strerror}", data, error=str(exc))
    data["sent"] = True
    deadline = time.monotonic() + max(0.0, params["wait_seconds"])
    while True:
        now = read_stat(pid)
        if now is None or now.state in ("Z", "X"):
            data["exited"] = True
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return ActionResult(True, f"sent SIG{params['signal']} to {pid} ({st.name}); "
                        + ("it exited" if data["exited"] else "still running"), data, changed=True)
