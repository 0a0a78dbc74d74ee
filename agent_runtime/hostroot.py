"""The host root: where every filesystem path an action touches resolves.

On a real server the root is ``/`` and a host path is used as-is. In a test or a
rehearsal the root is a sandbox directory, so ``/var/log`` means
``<root>/var/log`` and the same runbooks run unchanged on a simulated host.

A simulated host may declare its disks, and its memory, in ``<root>/.ccm-host.json``::

    {"mounts": [{"mount": "/", "total_bytes": 1000000, "total_inodes": 5000}],
     "memory": {"total_bytes": 8589934592, "used_bytes": 492830720},
     "cpu": {"pct": 23.5, "load": [0.94, 0.9, 0.85]}}

Usage of such a mount is then computed by walking the root (sum of regular file
sizes, number of entries) instead of asking the kernel (``statvfs``); the memory and
CPU, when declared, replace ``/proc/meminfo``, ``/proc/stat`` and the load average
(simulated hosts share one machine, whose own figures would say nothing about them).

Standard library only, Python >= 3.9.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["QUOTA_FILE", "HostRoot", "Mount", "PathEscape"]

#: Name of the file, at the top of a simulated root, that declares its mounts.
QUOTA_FILE = ".ccm-host.json"


class PathEscape(ValueError):
    """A host path that would resolve outside the host root."""


@dataclass(frozen=True)
class Mount:
    """One mount of a simulated host, as declared in the quota file."""

    mount: str
    total_bytes: int
    total_inodes: int


def _count(value: Any) -> Optional[int]:
    """*value* when it is an integer >= 0 (not a bool), else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _number(value: Any) -> Optional[float]:
    """*value* as a float when it is a number >= 0 (not a bool), else ``None``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _is_within(path: str, top: str) -> bool:
    """True when *path* equals *top* or lies below it (both normalised, absolute)."""
    if top == os.sep:
        return path.startswith(os.sep)
    return path == top or path.startswith(top + os.sep)


class HostRoot:
    """Every filesystem path an action touches resolves under this root (default "/")."""

    def __init__(self, path: str = "/") -> None:
        """Use *path* (a directory) as the host's ``/``."""
        if not path:
            raise ValueError("host root must be a non-empty path")
        self.path = os.path.normpath(os.path.abspath(path))
        self.real = os.path.realpath(self.path)

    @property
    def is_real_host(self) -> bool:
        """True when the root is the machine's own ``/`` (not a sandbox)."""
        return self.real == os.sep

    def __repr__(self) -> str:
        return f"HostRoot({self.path!r})"

    def resolve(self, host_path: str) -> str:
        """Map a host path to the real path under the root.

        ``"/var/log"`` becomes ``"<root>/var/log"``. A relative path is taken as
        relative to the host's ``/``. The returned path is normalised but keeps
        its symlinks (so callers can still ``lstat`` the last component); raises
        :class:`PathEscape` if the path, after normalisation and resolution of
        every symlink, lies outside the root.
        """
        if not isinstance(host_path, str) or not host_path:
            raise PathEscape("path must be a non-empty string")
        if "\x00" in host_path:
            raise PathEscape(f"path {host_path!r} contains a NUL byte")
        norm = os.path.normpath("/" + host_path.lstrip("/"))
        joined = self.path if norm == "/" else os.path.join(self.path, norm.lstrip("/"))
        if self.is_real_host:
            return norm
        real = os.path.realpath(joined)
        if not _is_within(real, self.real):
            raise PathEscape(f"path {host_path!r} escapes the host root {self.path!r}")
        return joined

    def to_host(self, real_path: str) -> str:
        """Inverse of :meth:`resolve`: the host path of a real path under the root."""
        norm = os.path.normpath(os.path.abspath(real_path))
        if self.is_real_host:
            return norm
        for top in (self.path, self.real):
            if _is_within(norm, top):
                rest = norm[len(top):]
                return rest if rest.startswith("/") else "/" + rest
        raise PathEscape(f"path {real_path!r} is outside the host root {self.path!r}")

    def contains(self, real_path: str) -> bool:
        """True when *real_path*, with symlinks resolved, lies under the root."""
        return _is_within(os.path.realpath(real_path), self.real)

    def _declaration(self) -> Optional[Any]:
        """The parsed quota file, or ``None`` when there is none (``ValueError``: unreadable)."""
        file = os.path.join(self.path, QUOTA_FILE)
        try:
            with open(file, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{QUOTA_FILE}: cannot read: {exc}") from exc

    def _declared(self, section: str) -> Optional[Dict[str, Any]]:
        """The quota file's *section* (``memory``, ``cpu``) of a simulated host, or ``None``
        (a real host, no quota file, no such section); ``ValueError`` when not an object."""
        if self.is_real_host:
            return None
        doc = self._declaration()
        if not isinstance(doc, dict) or section not in doc:
            return None
        found = doc[section]
        if not isinstance(found, dict):
            raise ValueError(f"{QUOTA_FILE}: {section} must be an object")
        return found

    def declared_memory(self) -> Optional[Tuple[int, int]]:
        """``(total_bytes, used_bytes)`` a simulated host declares, or ``None``.

        Raises ``ValueError`` when the declaration is malformed.
        """
        mem = self._declared("memory")
        if mem is None:
            return None
        total, used = _count(mem.get("total_bytes")), _count(mem.get("used_bytes"))
        for key, val in (("total_bytes", total), ("used_bytes", used)):
            if val is None:
                raise ValueError(f"{QUOTA_FILE}: memory.{key} must be an integer >= 0")
        assert total is not None and used is not None
        return total, min(used, total)

    def declared_cpu(self) -> Optional[Tuple[float, List[float]]]:
        """``(cpu_pct, load averages)`` a simulated host declares, or ``None``.

        Raises ``ValueError`` when the declaration is malformed.
        """
        cpu = self._declared("cpu")
        if cpu is None:
            return None
        pct, load = _number(cpu.get("pct")), cpu.get("load")
        if pct is None or pct > 100:
            raise ValueError(f"{QUOTA_FILE}: cpu.pct must be a number from 0 to 100")
        loads = [_number(x) for x in load] if isinstance(load, list) else []
        if len(loads) != 3 or any(x is None for x in loads):
            raise ValueError(f"{QUOTA_FILE}: cpu.load must be three numbers >= 0")
        return pct, [x for x in loads if x is not None]

    def quota(self) -> Optional[List[Mount]]:
        """The mounts of a simulated host, or ``None`` when the root has no quota file.

        Raises ``ValueError`` when the file exists but is malformed.
        """
        doc = self._declaration()
        if doc is None:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("mounts"), list):
            raise ValueError(f'{QUOTA_FILE}: expected {{"mounts": [...]}}')
        mounts: List[Mount] = []
        for i, item in enumerate(doc["mounts"]):
            if not isinstance(item, dict):
                raise ValueError(f"{QUOTA_FILE}: mounts[{i}] must be an object")
            mount = item.get("mount")
            total = item.get("total_bytes")
            inodes = item.get("total_inodes", 0)
            if not isinstance(mount, str) or not mount.startswith("/"):
                raise ValueError(f"{QUOTA_FILE}: mounts[{i}].mount must be an absolute path")
            for key, val in (("total_bytes", total), ("total_inodes", inodes)):
                if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                    raise ValueError(f"{QUOTA_FILE}: mounts[{i}].{key} must be an integer >= 0")
            assert isinstance(total, int) and isinstance(inodes, int)
            mounts.append(Mount(os.path.normpath(mount), total, inodes))
        return mounts

    def mount_for(self, host_path: str, mounts: List[Mount]) -> Optional[Mount]:
        """The quota mount holding *host_path* (longest matching mount point)."""
        norm = os.path.normpath("/" + host_path.lstrip("/"))
        best: Optional[Mount] = None
        for m in mounts:
            if _is_within(norm, m.mount) and (best is None or len(m.mount) > len(best.mount)):
                best = m
        return best

    def usage(self, mount: Mount, mounts: Optional[List[Mount]] = None) -> Tuple[int, int]:
        """``(used_bytes, used_inodes)`` of a simulated mount, by walking the root.

        Used bytes are the sum of regular file sizes, used inodes the number of
        entries (files, directories, links) below the mount point. Subtrees that
        are other mounts of *mounts* are left out, and so is the quota file.
        Symlinks are counted but never followed.
        """
        top = self.resolve(mount.mount)
        nested = {
            self.resolve(m.mount) for m in (mounts or []) if m.mount != mount.mount
            and _is_within(m.mount, mount.mount)
        }
        quota_file = os.path.join(self.path, QUOTA_FILE)
        used = 0
        inodes = 0
        stack = [top]
        while stack:
            current = stack.pop()
            try:
                it = os.scandir(current)
            except OSError:
                continue
            with it:
                for entry in it:
                    if entry.path == quota_file or entry.path in nested:
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    inodes += 1
                    if stat.S_ISREG(st.st_mode):
                        used += st.st_size
                    elif stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
        return used, inodes
