"""Disk actions (read-only): usage per mount, largest files/dirs, inode hogs."""

from __future__ import annotations

import heapq
import os
import stat
from typing import Any, Dict, List, Tuple

from agent_runtime.actions._walk import walk
from agent_runtime.actions.base import ActionContext, ActionResult, action, require, resolve_path
from agent_runtime.hostroot import HostRoot

__all__ = ["disk_usage", "find_mount_point", "inode_usage", "largest", "mount_usage"]


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole > 0 else 0.0


def find_mount_point(real_path: str) -> str:
    """The mount point (real path) holding *real_path*."""
    path = os.path.realpath(real_path)
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def mount_usage(root: HostRoot, host_path: str) -> Dict[str, Any]:
    """Bytes and inodes of the mount holding *host_path*: quota walk or ``statvfs``."""
    mounts = root.quota()
    if mounts is not None:
        m = root.mount_for(host_path, mounts)
        if m is None:
            raise ValueError(f"{host_path!r} is on no mount declared in the quota file")
        used, inodes = root.usage(m, mounts)
        return {
            "mount": m.mount, "total_bytes": m.total_bytes, "used_bytes": used,
            "free_bytes": max(0, m.total_bytes - used), "used_pct": _pct(used, m.total_bytes),
            "inodes_total": m.total_inodes, "inodes_used": inodes,
            "inodes_pct": _pct(inodes, m.total_inodes), "simulated": True,
        }
    real = root.resolve(host_path)
    sv = os.statvfs(real)
    total = sv.f_blocks * sv.f_frsize
    used = (sv.f_blocks - sv.f_bfree) * sv.f_frsize
    avail = sv.f_bavail * sv.f_frsize
    inodes_used = sv.f_files - sv.f_ffree
    mount_real = find_mount_point(real)
    mount = root.to_host(mount_real) if root.contains(mount_real) else "/"
    return {
        "mount": mount, "total_bytes": total, "used_bytes": used, "free_bytes": avail,
        # like df: used / (used + available to unprivileged users)
        "used_pct": _pct(used, used + avail), "inodes_total": sv.f_files,
        "inodes_used": inodes_used, "inodes_pct": _pct(inodes_used, sv.f_files),
        "simulated": False,
    }


@action("disk_usage", read_only=True, params={"path": 'str="/"'})
def disk_usage(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Bytes and inodes used on the mount holding ``path`` (statvfs, or the simulated quota)."""
    resolve_path(ctx, params, "path")
    data = mount_usage(ctx.root, params["path"])
    return ActionResult(
        True,
        f"{data['mount']}: {data['used_pct']}% of bytes used, {data['inodes_pct']}% of inodes",
        data,
    )


@action("largest", read_only=True, params={
    "path": "str", "limit": "int=10", "kind": 'str(files|dirs)="files"', "min_bytes": "int=0",
})
def largest(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """The biggest files (or directories, by total size below them) under ``path``."""
    top = resolve_path(ctx, params, "path")
    limit = params["limit"]
    require(limit > 0, "param 'limit': must be > 0")
    require(os.path.isdir(top), f"param 'path': {params['path']!r} is not a directory")
    sizes: Dict[str, int] = {}
    files: List[Tuple[int, str]] = []
    top_real = os.path.realpath(top)
    for path, st in walk(top_real):
        if not stat.S_ISREG(st.st_mode):
            continue
        if params["kind"] == "files":
            files.append((st.st_size, path))
            continue
        parent = os.path.dirname(path)
        while True:
            sizes[parent] = sizes.get(parent, 0) + st.st_size
            if parent == top_real or len(parent) <= len(top_real):
                break
            parent = os.path.dirname(parent)
    pool = files if params["kind"] == "files" else [(b, p) for p, b in sizes.items() if p != top_real]
    best = heapq.nlargest(limit, (x for x in pool if x[0] >= params["min_bytes"]))
    items = [{"path": ctx.root.to_host(p), "bytes": b} for b, p in best]
    return ActionResult(True, f"{len(items)} largest {params['kind']} under {params['path']}",
                        {"items": items, "kind": params["kind"]})


@action("inode_usage", read_only=True, params={"path": "str", "limit": "int=10"})
def inode_usage(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Directories under ``path`` holding the most entries directly (``total``: recursively)."""
    top = resolve_path(ctx, params, "path")
    require(params["limit"] > 0, "param 'limit': must be > 0")
    require(os.path.isdir(top), f"param 'path': {params['path']!r} is not a directory")
    top_real = os.path.realpath(top)
    direct: Dict[str, int] = {top_real: 0}
    total: Dict[str, int] = {top_real: 0}
    for path, _st in walk(top_real):
        parent = os.path.dirname(path)
        direct[parent] = direct.get(parent, 0) + 1
        while True:
            total[parent] = total.get(parent, 0) + 1
            if len(parent) <= len(top_real):
                break
            parent = os.path.dirname(parent)
    best = heapq.nlargest(params["limit"], direct.items(), key=lambda kv: kv[1])
    items = [{"path": ctx.root.to_host(p), "files": n, "total": total.get(p, n)} for p, n in best]
    return ActionResult(True, f"{total[top_real]} entries under {params['path']}",
                        {"items": items, "total": total[top_real]})
