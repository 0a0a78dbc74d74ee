"""The process's open-file limit: raised at start-up, and named when it runs out.

Every SSH connection is a socket, and a pool keeps one open per host it has reached
(``ccm run`` until the broadcast ends, the daemon and the TUI for as long as they
run). Most Linux sessions start with a soft limit of 1024 open files under a much
higher hard limit, so a broadcast to a thousand hosts failed host after host with
"Too many open files". Like the Go runtime, CCM raises its soft limit to the hard
one as it starts (capped at :data:`TARGET`); children (ssh, tmux) inherit it.
"""

from __future__ import annotations

import errno

#: The soft limit CCM asks for, when the hard limit allows (a pool needs one per host).
TARGET = 65536

#: errno values that mean this machine (not the host) ran out of file descriptors.
EXHAUSTED = (errno.EMFILE, errno.ENFILE)


def raise_limit(target: int = TARGET) -> tuple[int, int] | None:
    """Raise the soft open-file limit towards ``target`` (never above the hard limit,
    never lowering it); the (old, new) soft limits, or ``None`` when unchanged."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = target if hard == resource.RLIM_INFINITY else min(target, hard)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return soft, wanted
    except (OSError, ValueError):  # a sandbox that refuses: run with what we have
        pass
    return None


def soft_limit() -> int | None:
    """The current soft open-file limit (``None`` when unlimited or unknown)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError):
        return None
    return None if soft == resource.RLIM_INFINITY else soft


def exhausted(exc: BaseException | None) -> bool:
    """Whether ``exc`` says this process or machine ran out of file descriptors."""
    return isinstance(exc, OSError) and exc.errno in EXHAUSTED


def exhausted_hint() -> str:
    """What to do when the descriptors ran out, with the limit in force."""
    limit = soft_limit()
    allowed = f" ({limit} per process)" if limit else ""
    return (f"this machine ran out of open files{allowed}: a pool keeps one per host it "
            "reached until it closes; raise the limit (ulimit -n, or LimitNOFILE= in the "
            "systemd unit), or spread the hosts over more processes (ccm run --procs) or "
            "fewer hosts per run (--hosts)")
