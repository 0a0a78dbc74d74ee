"""The local user name, which every SSH login needs (as its default user, and because
asyncssh asks for it on each connection even when the inventory names the user)."""

from __future__ import annotations

import getpass
import os

from ccm_tui.core.errors import SSHError

_NAMES = ("LOGNAME", "USER", "LNAME", "USERNAME")  # where getpass looks first
_found: str | None = None


def local_user(host: str) -> str:
    """The local user name, looked up once per process.

    Once found, it goes into ``LOGNAME`` if the environment names nobody: asyncssh
    looks it up again on every connection, and when a busy pool has used up its file
    descriptors that passwd lookup fails ("Unknown local username"). Raises
    :class:`SSHError` (naming ``host``, the connection it stops) when there is no name
    to find: no variable set and no passwd entry for this uid, as in some containers.
    """
    global _found
    if _found is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError, ValueError):
            raise SSHError(
                f"{host}: not tried — the local user is unknown (no USER or LOGNAME in the "
                f"environment, and uid {os.getuid()} has no passwd entry), and the SSH "
                "client needs it: export USER=<name> before running ccm") from None
        if not any(os.environ.get(v) for v in _NAMES):
            os.environ["LOGNAME"] = name
        _found = name
    return _found
