"""File actions: find (read-only), clean and compress old files by pattern and age.

Safety: the tree is walked without following any symlink, only regular files
are touched, every file is re-checked (same inode, parent still inside the
walked directory) right before it is changed, and nothing outside ``path`` (or
outside ``allowed_roots`` when given) is ever deleted.
"""

from __future__ import annotations

import gzip
import os
import stat
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from agent_runtime.actions._walk import DAY, age_days, matches, walk
from agent_runtime.actions.base import (
    ActionContext,
    ActionError,
    ActionResult,
    action,
    require,
    resolve_path,
)
from agent_runtime.hostroot import QUOTA_FILE, PathEscape

__all__ = ["LIST_LIMIT", "clean_files", "compress_files", "find_files"]

#: At most this many entries are listed per result list; counts and byte totals stay exact.
LIST_LIMIT = 1000

Candidate = Tuple[str, os.stat_result]


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _select(
    ctx: ActionContext, params: Dict[str, Any], *, skip_gz: bool = False
) -> Tuple[str, List[Candidate], List[Dict[str, Any]]]:
    """Walk ``path``: the matching regular files older than ``older_than_days``, and what was skipped."""
    top = resolve_path(ctx, params, "path")
    require(os.path.isdir(top), f"param 'path': {params['path']!r} is not a directory")
    require(params["older_than_days"] >= 0, "param 'older_than_days': must be >= 0")
    top_real = os.path.realpath(top)
    cutoff = time.time() - params["older_than_days"] * DAY
    found: List[Candidate] = []
    skipped: List[Dict[str, Any]] = []
    quota_file = os.path.join(ctx.root.real, QUOTA_FILE)  # a simulated host's disks: never touched
    for path, st in walk(top_real):
        if path == quota_file:
            continue
        if stat.S_ISLNK(st.st_mode):
            skipped.append({"path": ctx.root.to_host(path), "reason": "symlink (not followed)"})
            continue
        if not stat.S_ISREG(st.st_mode) or not matches(path, top_real, params["patterns"]):
            continue
        if params["older_than_days"] and st.st_mtime > cutoff:
            continue
        if skip_gz and path.endswith(".gz"):
            skipped.append({"path": ctx.root.to_host(path), "reason": "already gzip"})
            continue
        found.append((path, st))
    found.sort(key=lambda c: c[0])
    return top_real, found, skipped


def _recheck(path: str, st: os.stat_result, top_real: str) -> str:
    """Why *path* must not be touched now ("" when it still is the file we scanned)."""
    try:
        now = os.lstat(path)
    except OSError as exc:
        return f"gone: {exc.strerror}"
    if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        return "changed since scan"
    if not _within(os.path.realpath(os.path.dirname(path)), top_real):
        return "parent directory now resolves outside path"
    return ""


def _unlink_inside(path: str, st: os.stat_result, top_real: str) -> str:
    """Unlink *path* through a pinned descriptor of its directory ("" on success, else why not).

    The directory is opened first and its real location read back from the open
    descriptor, so swapping a parent for a symlink after the scan cannot redirect
    the delete outside *top_real*.
    """
    parent, name = os.path.split(path)
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        dfd = os.open(parent, flags)
    except OSError as exc:
        return f"cannot open directory: {exc.strerror}"
    try:
        try:
            where = os.readlink(f"/proc/self/fd/{dfd}")
        except OSError:
            where = os.path.realpath(parent)
        if not _within(where, top_real):
            return "parent directory now resolves outside path"
        now = os.lstat(name, dir_fd=dfd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return "changed since scan"
        os.unlink(name, dir_fd=dfd)
        return ""
    except OSError as exc:
        return f"unlink failed: {exc.strerror}"
    finally:
        os.close(dfd)


def _listed(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return items[:LIST_LIMIT]


@action("find_files", read_only=True, params={
    "path": "str", "patterns": 'list[str]=["*"]', "older_than_days": "float=0",
})
def find_files(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Regular files under ``path`` matching ``patterns`` older than ``older_than_days`` (symlinks not followed).

    A ``path`` that does not exist holds no files: that is evidence (many hosts have
    no /var/backups), not a bad call. A ``path`` that is a file is still an error.
    """
    require(params["older_than_days"] >= 0, "param 'older_than_days': must be >= 0")
    if not os.path.lexists(resolve_path(ctx, params, "path")):
        return ActionResult(True, f"no {params['path']} here: nothing to find", {
            "files": [], "count": 0, "total_bytes": 0, "truncated": False, "missing": True,
        })
    _top, found, _skipped = _select(ctx, params)
    now = time.time()
    files = [{"path": ctx.root.to_host(p), "bytes": st.st_size, "age_days": age_days(st, now)}
             for p, st in found]
    total = sum(st.st_size for _p, st in found)
    return ActionResult(True, f"{len(files)} files, {total} bytes under {params['path']}", {
        "files": _listed(files), "count": len(files), "total_bytes": total,
        "truncated": len(files) > LIST_LIMIT,
    })


def _allowed_roots(ctx: ActionContext, params: Dict[str, Any], top_real: str) -> List[str]:
    roots: List[str] = []
    for i, host_path in enumerate(params.get("allowed_roots") or []):
        try:
            roots.append(os.path.realpath(ctx.root.resolve(host_path)))
        except PathEscape as exc:
            raise ActionError(f"param 'allowed_roots[{i}]': {exc}") from exc
    if params.get("allowed_roots") is not None:
        require(any(_within(top_real, r) for r in roots),
                f"param 'path': {params['path']!r} is outside allowed_roots {params['allowed_roots']}")
    return roots


@action("clean_files", read_only=False, params={
    "path": "str", "patterns": "list[str]", "older_than_days": "float",
    "allowed_roots": "list[str]?=null",
})
def clean_files(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Delete regular files under ``path`` matching ``patterns`` and older than ``older_than_days``.

    Never follows a symlink, never deletes outside ``path`` or ``allowed_roots``.
    In dry-run, reports exactly the files and bytes it would delete.
    """
    require(bool(params["patterns"]), "param 'patterns': must not be empty")
    top_real, found, skipped = _select(ctx, params)
    roots = _allowed_roots(ctx, params, top_real)
    deleted: List[Dict[str, Any]] = []
    freed = 0
    for path, st in found:
        host = ctx.root.to_host(path)
        reason = _recheck(path, st, top_real)
        if not reason and roots and not any(_within(os.path.realpath(path), r) for r in roots):
            reason = "outside allowed_roots"
        if reason:
            skipped.append({"path": host, "reason": reason})
            continue
        if not ctx.dry_run:
            reason = _unlink_inside(path, st, top_real)
            if reason:
                skipped.append({"path": host, "reason": reason})
                continue
        deleted.append({"path": host, "bytes": st.st_size})
        freed += st.st_size
    verb = "would delete" if ctx.dry_run else "deleted"
    return ActionResult(True, f"{verb} {len(deleted)} files, {freed} bytes under {params['path']}", {
        "deleted": _listed(deleted), "count": len(deleted), "bytes_freed": freed,
        "skipped": _listed(skipped), "truncated": len(deleted) > LIST_LIMIT,
    }, changed=bool(deleted) and not ctx.dry_run)


class _Counter:
    """A write-only sink that only counts bytes (for an exact dry-run size)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to flush."""


def _gzip_into(src_fd: int, sink: Any, name: str, mtime: float) -> None:
    with os.fdopen(os.dup(src_fd), "rb") as fin, \
            gzip.GzipFile(filename=name, mode="wb", fileobj=sink, mtime=int(mtime)) as gz:
        while True:
            chunk = fin.read(1 << 20)
            if not chunk:
                break
            gz.write(chunk)


def _compress_one(path: str, st: os.stat_result, dry_run: bool) -> Tuple[int, str]:
    """Gzip *path* to ``path.gz`` atomically; returns (compressed size, "" or why not)."""
    target = path + ".gz"
    if os.path.lexists(target):
        return 0, "target .gz already exists"
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        if (os.fstat(fd).st_dev, os.fstat(fd).st_ino) != (st.st_dev, st.st_ino):
            return 0, "changed since scan"
        if dry_run:
            counter = _Counter()
            _gzip_into(fd, counter, os.path.basename(target), st.st_mtime)
            return counter.size, ""
        parent = os.path.dirname(path)
        tmp_fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".gz.tmp",
                                       dir=parent)
        try:
            with os.fdopen(tmp_fd, "wb") as raw:
                _gzip_into(fd, raw, os.path.basename(target), st.st_mtime)
                raw.flush()
                os.fsync(raw.fileno())
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.utime(tmp, (st.st_atime, st.st_mtime))
            os.link(tmp, target)  # fails if the target appeared meanwhile: never clobbers
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        dir_fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        size = os.stat(target).st_size
        os.unlink(path)
        return size, ""
    finally:
        os.close(fd)


@action("compress_files", read_only=False, params={
    "path": "str", "patterns": "list[str]", "older_than_days": "float=0",
    "allowed_roots": "list[str]?=null",
})
def compress_files(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Gzip matching regular files older than ``older_than_days`` under ``path`` (skips ``.gz``).

    Atomic per file: write a temporary ``.gz``, fsync, link it into place, then
    remove the original. Dry-run compresses into a byte counter, so its sizes are exact.
    Refuses a ``path`` outside ``allowed_roots`` when given.
    """
    require(bool(params["patterns"]), "param 'patterns': must not be empty")
    top_real, found, skipped = _select(ctx, params, skip_gz=True)
    _allowed_roots(ctx, params, top_real)
    done: List[Dict[str, Any]] = []
    before = after = 0
    error: Optional[str] = None
    for path, st in found:
        host = ctx.root.to_host(path)
        reason = _recheck(path, st, top_real)
        size = 0
        if not reason:
            try:
                size, reason = _compress_one(path, st, ctx.dry_run)
            except OSError as exc:
                reason = f"compress failed: {exc.strerror or exc}"
                error = reason
        if reason:
            skipped.append({"path": host, "reason": reason})
            continue
        done.append({"path": host, "gz_path": host + ".gz", "bytes_before": st.st_size,
                     "bytes_after": size})
        before += st.st_size
        after += size
    verb = "would compress" if ctx.dry_run else "compressed"
    return ActionResult(
        error is None, f"{verb} {len(done)} files: {before} -> {after} bytes", {
            "compressed": _listed(done), "count": len(done), "bytes_before": before,
            "bytes_after": after, "bytes_freed": before - after, "skipped": _listed(skipped),
            "truncated": len(done) > LIST_LIMIT,
        }, changed=bool(done) and not ctx.dry_run, error=error or "")
