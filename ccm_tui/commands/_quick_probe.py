"""Spare every SSH-using ``ccm`` command asyncssh's slow probe for liboqs.

When asyncssh is imported it asks ``ctypes.util.find_library`` for ``oqs`` and
``liboqs`` (post-quantum key exchange). On Linux each question runs ``ldconfig -p``
and then ``gcc`` in subprocesses — 40–60 ms of a ``ccm run`` that should start at
once. :func:`install` answers those two questions from the dynamic linker's own
directories (and ``LD_LIBRARY_PATH``) first: when no ``liboqs.so*`` is there the
answer is "none" without a subprocess; when one is, ctypes is asked as before, so
asyncssh finds it exactly as it would have. Every other lookup is untouched.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable

_NAMES = frozenset({"oqs", "liboqs"})
_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64")


def _linker_dirs() -> list[str]:
    dirs = list(_DIRS)
    dirs += glob.glob("/usr/lib/*-linux-gnu") + glob.glob("/lib/*-linux-gnu")
    dirs += [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    return dirs


def liboqs_present() -> bool:
    """Whether a ``liboqs`` shared library sits in one of the linker's directories."""
    return any(glob.glob(os.path.join(d, "liboqs.so*")) for d in _linker_dirs())


def install() -> None:
    """Wrap ``ctypes.util.find_library`` once (idempotent)."""
    import ctypes.util

    real: Callable[[str], str | None] = ctypes.util.find_library
    if getattr(real, "_ccm_quick", False):
        return

    def find_library(name: str) -> str | None:
        if name in _NAMES and not liboqs_present():
            return None
        return real(name)

    find_library._ccm_quick = True  # type: ignore[attr-defined]
    ctypes.util.find_library = find_library
