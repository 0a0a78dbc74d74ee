"""Walking a directory tree the safe way: no symlink is ever followed.

Used by the disk and file actions. The walk stays on the starting filesystem
(like ``du -x``) so a walk of ``/`` does not wander into ``/proc``.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time
from typing import Iterator, List, Sequence, Tuple

__all__ = ["DAY", "age_days", "matches", "walk"]

DAY = 86400.0


def walk(top: str, *, one_filesystem: bool = True) -> Iterator[Tuple[str, os.stat_result]]:
    """Yield ``(path, lstat)`` of every entry below *top* (depth first, top excluded).

    Symlinks are yielded (as links) but never followed; unreadable directories
    are skipped silently.
    """
    try:
        dev = os.lstat(top).st_dev
    except OSError:
        return
    stack: List[str] = [top]
    while stack:
        current = stack.pop()
        try:
            it = os.scandir(current)
        except OSError:
            continue
        with it:
            entries = list(it)
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield entry.path, st
            if stat.S_ISDIR(st.st_mode) and (not one_filesystem or st.st_dev == dev):
                stack.append(entry.path)


def matches(path: str, top: str, patterns: Sequence[str]) -> bool:
    """True when *path* matches a glob: by basename, or by path relative to *top* if the glob has a ``/``."""
    if not patterns:
        return True
    name = os.path.basename(path)
    rel = os.path.relpath(path, top)
    for pat in patterns:
        if "/" in pat:
            if fnmatch.fnmatchcase(rel, pat.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(name, pat):
            return True
    return False


def age_days(st: os.stat_result, now: float = 0.0) -> float:
    """Days since the last modification, rounded to 0.01."""
    return round(((now or time.time()) - st.st_mtime) / DAY, 2)
