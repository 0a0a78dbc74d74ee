"""``python3 -m agent_runtime probe``: one JSON health snapshot of the host, fast.

Prints a single JSON object: host name, timestamp, CPU % (sampled over ~50 ms),
load averages, cores, memory and swap, bytes and inodes of each real mount
(pseudo filesystems skipped; with ``--root``, the quota mounts of a simulated
root), failed systemd units, the top 5 processes by CPU and by memory, and
uptime. ``probe_ms`` says how long it took. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from agent_runtime.actions.disk import mount_usage
from agent_runtime.actions.processes import (
    ProcStat,
    describe_process,
    list_pids,
    memory,
    read_meminfo,
    read_stat,
)
from agent_runtime.hostroot import HostRoot

__all__ = ["PSEUDO_FS", "main", "snapshot"]

#: Filesystem types that hold no user data and are left out of ``mounts``.
PSEUDO_FS = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore",
    "ramfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs",
    "tracefs", "overlayfs-meta", "fuse.gvfsd-fuse", "fuse.portal", "nfsd",
})
SAMPLE_SECONDS = 0.05
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_times() -> Tuple[int, int]:
    """(busy, total) jiffies of all CPUs from ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def _unescape(field: str) -> str:
    """``/proc/mounts`` escapes space, tab, newline and backslash as octal (``\\040``)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def real_mounts(table: Optional[str] = None) -> List[Tuple[str, str, str]]:
    """``(device, mount point, fs type)`` of every non-pseudo mount, one per device.

    *table* is the text of ``/proc/self/mounts`` (read when not given). A container's
    root (an ``overlay`` mounted anywhere but ``/``, one per running container on a
    Docker or Kubernetes host) reports the host disk it lives on again: it is left out,
    or one full disk would be a DiskFull alert per container.
    """
    out: List[Tuple[str, str, str]] = []
    seen = set()
    if table is None:
        try:
            with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
                table = fh.read()
        except OSError:
            return [("", "/", "")]
    for line in table.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2] in PSEUDO_FS or parts[2].startswith("fuse."):
            continue
        dev, mnt = parts[0], _unescape(parts[1])
        if parts[2] == "overlay" and mnt != "/":
            continue
        if dev in seen and dev.startswith("/"):
            continue
        seen.add(dev)
        out.append((dev, mnt, parts[2]))
    return out


#: Seconds every mount together has to answer ``statvfs``; one that has not is
#: reported as not answering (a hung NFS server) instead of stalling the probe until
#: CCM gives up on the whole host as unreachable.
STATVFS_SECONDS = 2.0


def statvfs_all(paths: Sequence[str], timeout: float = STATVFS_SECONDS,
                stat: Callable[[str], Any] = os.statvfs) -> Dict[str, Any]:
    """``stat(path)`` of each path, asked in parallel: the result, the ``OSError``, or
    ``None`` for a path that did not answer within *timeout* seconds."""
    box: Dict[str, Any] = {}

    def ask(path: str) -> None:
        try:
            box[path] = stat(path)
        except OSError as exc:
            box[path] = exc

    threads = [threading.Thread(target=ask, args=(p,), daemon=True) for p in paths]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:  # a thread stuck in the kernel ends with the process
        t.join(max(0.0, deadline - time.monotonic()))
    return {p: box.get(p) for p in paths}


def _mounts(root: HostRoot) -> List[Dict[str, Any]]:
    quota = root.quota()
    if quota is not None:
        out = []
        for m in quota:
            data = mount_usage(root, m.mount)
            data["fstype"] = "simulated"
            out.append(data)
        return out
    result: List[Dict[str, Any]] = []
    mounts = real_mounts()
    answers = statvfs_all([mnt for _dev, mnt, _fs in mounts])
    for dev, mnt, fstype in mounts:
        sv = answers[mnt]
        if sv is None:
            result.append({"mount": mnt, "device": dev, "fstype": fstype,
                           "error": "not answering: statvfs took over "
                                    f"{STATVFS_SECONDS:g} s (a hung network filesystem?)"})
            continue
        if isinstance(sv, OSError) or sv.f_blocks == 0:
            continue
        total = sv.f_blocks * sv.f_frsize
        used = (sv.f_blocks - sv.f_bfree) * sv.f_frsize
        avail = sv.f_bavail * sv.f_frsize
        inodes_used = sv.f_files - sv.f_ffree
        result.append({
            "mount": mnt, "device": dev, "fstype": fstype, "total_bytes": total,
            "used_bytes": used, "free_bytes": avail,
            "used_pct": round(100.0 * used / (used + avail), 1) if used + avail else 0.0,
            "inodes_total": sv.f_files, "inodes_used": inodes_used,
            "inodes_pct": round(100.0 * inodes_used / sv.f_files, 1) if sv.f_files else 0.0,
        })
    return result


def _start_failed_units() -> Optional["subprocess.Popen[bytes]"]:
    if shutil.which("systemctl") is None:
        return None
    try:
        return subprocess.Popen(
            ["systemctl", "--failed", "--plain", "--no-legend", "--no-pager"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except OSError:
        return None


def _collect_failed_units(proc: Optional["subprocess.Popen[bytes]"]) -> Optional[List[str]]:
    """Failed unit names, or None when systemd is not available."""
    if proc is None:
        return None
    try:
        out, _err = proc.communicate(timeout=1.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    if proc.returncode != 0:
        return None
    units = []
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.replace("\u25cf", " ").split()
        if parts:
            units.append(parts[0])
    return units


def _uptime() -> Optional[float]:
    try:
        with open("/proc/uptime", encoding="ascii") as fh:
            return round(float(fh.read().split()[0]), 1)
    except (OSError, ValueError, IndexError):
        return None


def snapshot(root: HostRoot, sample: float = SAMPLE_SECONDS) -> Dict[str, Any]:
    """The health snapshot as a dict (see the module doc)."""
    t0 = time.monotonic()
    systemctl = _start_failed_units()
    busy0, total0 = _cpu_times()
    first: Dict[int, ProcStat] = {}
    for pid in list_pids():
        st = read_stat(pid)
        if st is not None:
            first[pid] = st
    s0 = time.monotonic()
    time.sleep(sample)
    busy1, total1 = _cpu_times()
    elapsed = max(time.monotonic() - s0, 1e-6)
    procs: List[Tuple[ProcStat, float]] = []
    for pid in list_pids():
        st = read_stat(pid)
        if st is None:
            continue
        prev = first.get(pid)
        ticks = st.cpu_ticks - prev.cpu_ticks if prev is not None else 0
        procs.append((st, round(100.0 * ticks / _TICKS / elapsed, 1)))
    mem_total = read_meminfo().get("MemTotal", 0)
    by_cpu = sorted(procs, key=lambda p: (p[1], p[0].rss_bytes), reverse=True)[:5]
    by_mem = sorted(procs, key=lambda p: p[0].rss_bytes, reverse=True)[:5]
    mem = memory(root)
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    cpu_pct = round(100.0 * (busy1 - busy0) / (total1 - total0), 1) if total1 > total0 else 0.0
    declared_cpu = root.declared_cpu()
    if declared_cpu is not None:
        cpu_pct, load = round(declared_cpu[0], 1), [round(x, 2) for x in declared_cpu[1]]
    snap: Dict[str, Any] = {
        "host": socket.gethostname(),
        "ts": round(time.time(), 3),
        "cpu_pct": cpu_pct,
        "load": load,
        "cores": os.cpu_count() or 1,
        "memory": {k: mem[k] for k in ("total_bytes", "available_bytes", "used_pct")},
        "swap": {"total_bytes": mem["swap_total_bytes"], "used_bytes": mem["swap_used_bytes"],
                 "used_pct": mem["swap_used_pct"]},
        "mounts": _mounts(root),
        "failed_units": _collect_failed_units(systemctl),
        "top_cpu": [describe_process(st, cpu, mem_total) for st, cpu in by_cpu],
        "top_mem": [describe_process(st, cpu, mem_total) for st, cpu in by_mem],
        "processes": len(procs),
        "uptime_s": _uptime(),
        "root": root.path,
    }
    snap["probe_ms"] = round((time.monotonic() - t0) * 1000, 1)
    return snap


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print one JSON health snapshot; returns the exit code."""
    parser = argparse.ArgumentParser(prog="agent_runtime probe", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="host root (a simulated host's directory)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not os.path.isdir(args.root):
        print(json.dumps({"error": f"--root {args.root!r} is not a directory"}), file=sys.stderr)
        return 2
    try:
        snap = snapshot(HostRoot(args.root))
    except ValueError as exc:  # a malformed quota file
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(snap, sort_keys=False) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
