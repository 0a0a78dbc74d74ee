"""What the SSH pool hands out and takes in: results and options."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ccm_tui.core.model import ACCESS_REFUSED_KINDS
from ccm_tui.fleet.output_cap import DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one command on one host.

    ``exit_status`` is ``None`` when the command never ran or never finished
    (then ``error`` says why and ``error_kind`` is ``unreachable``, ``hostkey``,
    ``auth``, ``algorithms``, ``timeout`` or ``lost`` — the session ended without an
    exit status; a broadcast stopped by Ctrl-C gives ``interrupted`` to a host it cut off
    while running, and ``not_started`` to one it never started);
    killed by a signal gives ``-SIGNUM``.
    """

    host: str
    exit_status: int | None
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        """Ran and exited 0."""
        return self.error is None and self.exit_status == 0

    @property
    def refused(self) -> bool:
        """The host answered but refused our login, or CCM refused its host key."""
        return self.error is not None and self.error_kind in ACCESS_REFUSED_KINDS

    @property
    def error_label(self) -> str:
        """``error_kind`` in words (``login refused``), for summaries; empty when it ran."""
        if self.error is None:
            return ""
        return ERROR_LABELS.get(self.error_kind or "", self.error_kind or "error")


#: How each ``error_kind`` reads in a summary.
ERROR_LABELS = {"unreachable": "unreachable", "hostkey": "host key refused",
                "auth": "login refused", "algorithms": "no common algorithm",
                "timeout": "timed out", "lost": "session lost",
                "interrupted": "cut off while running", "not_started": "not started"}

#: The kinds of a host a broadcast stopped by Ctrl-C left unfinished.
UNFINISHED_KINDS = ("interrupted", "not_started")


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Tuning of an :class:`SSHPool`; the defaults suit a fleet of hundreds."""

    connect_timeout: float = 10.0
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 3
    per_host: int = 8
    max_inflight: int = 512
    connect_retries: int = 2
    backoff_initial: float = 0.25
    backoff_max: float = 30.0
    agent_path: str | None = field(default_factory=lambda: os.environ.get("SSH_AUTH_SOCK"))
    login_timeout: float = 30.0
    #: Characters of each stream (stdout, stderr) kept per command and host; the rest is
    #: read and counted, not kept (see :mod:`.output_cap`).
    max_output: int = DEFAULT_LIMIT
    #: Key exchange algorithms to offer, in OpenSSH's syntax (see :mod:`.algorithms`;
    #: empty: the defaults).
    kex_algs: str = ""
    #: Ciphers to offer, likewise (empty: CCM's default, AES-GCM first).
    encryption_algs: str = ""


__all__ = ["ERROR_LABELS", "UNFINISHED_KINDS", "PoolOptions", "RunResult"]
