"""The daemon's hands on a host: the agent's files, its tmux session, its journal.

Every command goes through the SSH pool as an argv list (shell-quoted by the pool),
or as a fixed script whose values arrive as positional arguments: nothing from an
alert is ever pasted into a shell. The agent runs inside tmux session
``ccm-<task>`` so it survives a dropped connection or a dead daemon, and a human
can attach to it.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ccm_tui.core.errors import FleetError
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import SSHPool

SESSION_PREFIX = "ccm-"

#: A task id as it may appear in a file name and a tmux session name on a host (tmux
#: would rewrite '.' and ':'); the hub's ids (``t-<hex>``) always are.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")

# Start the agent in a detached tmux session unless one is already there. When the
# agent ends, the pane stays open (for a human to read) until the daemon removes it.
_START = r"""
spec="$1"; session="$2"; sock="$3"; cmd="$4"
t() { if [ -n "$sock" ]; then tmux -L "$sock" "$@"; else tmux "$@"; fi; }
if t has-session -t "=$session" 2>/dev/null; then echo attached; exit 0; fi
mkdir -p "$(dirname "$spec")"
cat > "$spec.tmp" && mv "$spec.tmp" "$spec"
t new-session -d -s "$session" -x 200 -y 50 \
  "$cmd; printf '\n[ccm: agent finished with exit %s; this pane stays for inspection]\n' \$?; exec sleep 86400"
echo started
"""


def session_name(task_id: str) -> str:
    """The tmux session of a task's agent."""
    return f"{SESSION_PREFIX}{task_id}"


@dataclass
class RemoteAgent:
    """The agent of one task on one host."""

    pool: SSHPool
    host: FleetHost
    task_id: str
    options: DaemonOptions

    def _agent(self, *args: str) -> list[str]:
        return [self.host.python, self.options.agent_path, *args]

    def _tmux(self, *args: str) -> list[str]:
        sock = self.options.tmux_socket
        return ["tmux", *(["-L", sock] if sock else []), *args]

    @property
    def journal_dir(self) -> str:
        return self.options.journal_dir

    @property
    def control_file(self) -> str:
        return f"{self.journal_dir}/{self.task_id}.control"

    async def start(self, spec: dict[str, object]) -> str:
        """Write the spec and start the agent in tmux; ``attached`` if it already runs."""
        if not _TASK_ID.fullmatch(self.task_id):
            raise FleetError(f"{self.host.name}: task id {self.task_id[:80]!r} cannot name a "
                             "file or tmux session on the host; no agent started",
                             hint="task ids come from the hub (t-<hex>); check what wrote it")
        spec_file = f"{self.options.spec_dir}/{self.task_id}.json"
        command = shlex.join(self._agent("run", "--spec", spec_file,
                                         "--journal-dir", self.journal_dir))
        argv = ["sh", "-c", _START, "ccm-start", spec_file, session_name(self.task_id),
                self.options.tmux_socket or "", command]
        res = await self.pool.run(self.host, argv, stdin=json.dumps(spec), timeout=60)
        if not res.ok:
            raise FleetError(
                f"{self.host.name}: could not start the agent: "
                f"{res.error or res.stderr.strip()[:300] or f'exit {res.exit_status}'}",
                hint="check `ccm fleet install --hosts " + self.host.name + "` (python3, tmux)")
        return res.stdout.strip().splitlines()[-1] if res.stdout.strip() else "started"

    async def alive(self) -> bool:
        """Whether the task's tmux session exists and its agent is still running."""
        res = await self.pool.run(
            self.host, self._tmux("list-panes", "-t", f"={session_name(self.task_id)}", "-F",
                                  "#{pane_current_command}"), timeout=30)
        return res.ok and "sleep" not in res.stdout

    async def send_control(self, message: dict[str, object]) -> None:
        """Append one control line to the agent's control file."""
        line = json.dumps(message, separators=(",", ":")) + "\n"
        res = await self.pool.run(
            self.host, ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat >> "$1"', "ccm-control",
                        self.control_file], stdin=line, timeout=30)
        if not res.ok:
            raise FleetError(f"{self.host.name}: could not deliver {message.get('type')}: "
                             f"{res.error or res.stderr.strip()[:200]}")

    async def remove_session(self) -> None:
        """Kill the task's tmux session (after the agent finished)."""
        await self.pool.run(self.host, self._tmux("kill-session", "-t",
                                                  f"={session_name(self.task_id)}"), timeout=30)

    async def tail(self, from_seq: int) -> AsyncIterator[str]:
        """Journal lines from ``from_seq`` on, following until the ``finished`` event.

        Raises :class:`FleetError` (or asyncssh errors) when the connection drops;
        the caller re-tails from the last stored seq.
        """
        cmd = shlex.join(self._agent("tail", self.task_id, "--from", str(from_seq),
                                     "--journal-dir", self.journal_dir))
        async with self.pool.connection(self.host) as conn:
            proc = await conn.create_process(cmd, encoding="utf-8", errors="replace")
            try:
                async for line in proc.stdout:
                    yield line
                done = await proc.wait()  # collects what is left of stderr
                if done.exit_status not in (0, None):
                    err = str(done.stderr or "")[:300]
                    raise FleetError(f"{self.host.name}: agent tail exited "
                                     f"{done.exit_status}: {err.strip()}")
            finally:
                if proc.returncode is None:
                    proc.close()
                    try:
                        await asyncio.wait_for(proc.wait_closed(), 5)
                    except (TimeoutError, OSError):
                        pass
