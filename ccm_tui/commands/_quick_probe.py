"""Spare every SSH-using ``ccm`` command what asyncssh loads at import and CCM never uses.

**X.509 certificates.** asyncssh's X.509 support is optional and needs pyOpenSSL,
which CCM does not install; without it asyncssh still loads ``cryptography.x509``
(a sixth of importing asyncssh, ~35 ms of every ``ccm run``) before giving up. Only
PKIX-SSH and some commercial servers speak X.509 (OpenSSH does not; CCM's inventories,
identity files and known_hosts are OpenSSH's), so :func:`install` has asyncssh skip it
unless ``CCM_SSH_X509=1`` is set — then, with pyOpenSSL installed, it works as usual.

**liboqs.**
When asyncssh is imported it asks ``ctypes.util.find_library`` for ``oqs`` and
``liboqs`` (post-quantum key exchange). On Linux each question runs ``ldconfig -p``
and then ``gcc`` in subprocesses — 40–60 ms of a ``ccm run`` that should start at
once. :func:`install` answers those two questions from the dynamic linker's own
directories (and ``LD_LIBRARY_PATH``) first: when no ``liboqs.so*`` is there the
answer is "none" without a subprocess; when one is, ctypes is asked as before, so
asyncssh finds it exactly as it would have. Every other lookup is untouched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

_NAMES = frozenset({"oqs", "liboqs"})
_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64")


def _linker_dirs() -> list[str]:
    dirs = list(_DIRS)
    for base in ("/usr/lib", "/lib"):  # multiarch: /usr/lib/x86_64-linux-gnu and the like
        dirs += [f"{base}/{n}" for n in _names(base) if n.endswith("-linux-gnu")]
    dirs += [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    return list(dict.fromkeys(map(os.path.realpath, dirs)))  # /lib is /usr/lib on usrmerge


def liboqs_present() -> bool:
    """Whether a ``liboqs`` shared library sits in one of the linker's directories.

    Answered once per process: asyncssh asks twice (``oqs``, then ``liboqs``), and the
    multiarch directory holds thousands of names, so they are searched as one string.
    """
    global _PRESENT
    if _PRESENT is None:
        _PRESENT = any("\0liboqs.so" in _listing(d) for d in _linker_dirs())
    return _PRESENT


_PRESENT: bool | None = None


def _names(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def _listing(directory: str) -> str:
    return "\0" + "\0".join(_names(directory))


#: Set to 1 to keep asyncssh's X.509 certificate support.
X509_ENV = "CCM_SSH_X509"


def install() -> None:
    """Leave out X.509 (see the module) and wrap ``ctypes.util.find_library`` (idempotent)."""
    if os.environ.get(X509_ENV, "").strip().lower() not in {"1", "true", "yes", "on"} \
            and "asyncssh" not in sys.modules:
        # None in sys.modules makes the import fail, which asyncssh reads as "not available"
        sys.modules.setdefault("asyncssh.crypto.x509", None)  # type: ignore[arg-type]
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
