"""The daemon's knobs."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ccm_tui.core.model import Task
from ccm_tui.core.policy import Policy

#: Told about task milestones (``suggested``, ``taken`` with the actor, ``finished``);
#: the command layer connects it to the notification outbox.
Notifier = Callable[[str, Task, str], Awaitable[None]]


def default_owner() -> str:
    """A daemon's lease-owner name: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class DaemonOptions:
    """How the daemon runs tasks."""

    owner: str = field(default_factory=default_owner)
    lease_seconds: float = 30.0
    #: Tasks run at once (one per host at most, by the hub's claim rule).
    max_sessions: int = 50
    #: Automatic fixes running at once, fleet-wide; past it fixes are suggested instead.
    max_concurrent_fixes: int = 5
    policy: Policy = field(default_factory=Policy)
    #: Safety-net interval between claim attempts (changes wake the daemon sooner).
    poll_interval: float = 2.0
    #: The agent on hosts, relative to the login user's home (``ccm fleet install``).
    agent_path: str = ".local/share/ccm-agent/agent.pyz"
    #: Where agents keep journals and specs on hosts, relative to the home directory.
    state_dir: str = ".local/state/ccm-agent"
    #: Push the agent zipapp when a host lacks it (or has another version).
    install_agent: bool = True
    #: A private tmux server (``tmux -L NAME``) for agent sessions; None: the default one.
    tmux_socket: str | None = None
    #: Seconds an operator has to answer an approval before the agent escalates.
    approval_timeout: float | None = None
    #: Circuit breaker: a runbook failing this often fleet-wide within the window opens.
    breaker_failures: int = 3
    breaker_window_hours: float = 1.0
    #: Circuit breaker: the same runbook firing this often on one host in 24 h escalates.
    recurrence_limit: int = 3
    #: Approved or automatic successes in a row that promote a runbook one level.
    promote_after: int = 3
    #: Runbook folders besides the built-in ones.
    runbook_dirs: tuple[str, ...] = ()
    #: Seconds to wait between reconnect attempts to a host (doubles up to 30 s).
    reconnect_backoff: float = 0.5
    #: Seconds between health probes of each host (jittered); None: no health monitor.
    health_interval: float | None = 30.0
    #: Health snapshots the hub keeps per host (720 × 30 s = 6 h of history).
    health_keep: int = 720

    @property
    def journal_dir(self) -> str:
        return f"{self.state_dir}/journal"

    @property
    def spec_dir(self) -> str:
        return f"{self.state_dir}/specs"
