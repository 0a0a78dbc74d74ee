"""A long-lived shell per pooled host, so repeated broadcasts skip the per-command cost.

Running a command over SSH the usual way opens a channel, and the host then starts
the user's login shell (its rc files included) to run it: on a warm connection that
start-up is most of what a short command like ``uptime`` costs the host. A
:class:`WarmShell` keeps one POSIX shell running on the host and writes each command
to it, framed so that nothing the command does can confuse the framing:

* the command travels as one single-quoted word and is run by ``eval`` in a
  subshell, ``( eval 'CMD' ) </dev/null`` — a syntax error in it is an error of that
  command (exit 2), never of the session; ``cd``, ``export``, ``exit``, ``exec`` and
  traps stay inside the subshell, and it cannot read what comes next on the shell's
  standard input;
* then the shell prints a fresh random marker and the exit status on standard output,
  and the marker on standard error; everything before the markers is the command's
  output. Output without a final newline is returned as it was; past ``limit`` bytes
  per stream it is read and counted, not kept (:func:`.output_cap.read_framed`).

Differences from a plain exec, which :meth:`SSHPool.run` accepts for broadcasts
(``reuse_shell=True``): a command killed by a signal reports the shell's ``128+N``
instead of ``-N``; one command at a time per shell (a second, concurrent command on
the same host runs the usual way); a timeout kills the shell and its process group
(see :mod:`.stopping`), and the next command starts a new one; an ``errexit``
(``set -e``) left on by an rc file is turned off in the long-lived shell (a command
may still turn it on for itself). The shell is the login shell when it is a POSIX one
(sh, bash, dash, zsh, ksh, ash, mksh), ``/bin/sh`` otherwise.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shlex
from dataclasses import dataclass

import asyncssh

from ccm_tui.fleet.output_cap import DEFAULT_LIMIT, read_framed, with_note
from ccm_tui.fleet.stopping import STOP_GRACE, stop, timed_out

#: Started through the login shell; the case picks a POSIX shell to keep running.
START = ('case "${SHELL##*/}" in sh|bash|dash|zsh|ksh|ash|mksh) exec "$SHELL" -s;; '
         "esac; exec /bin/sh -s")


class ShellGone(Exception):
    """The shell ended, or stopped answering, before the command's markers came back."""


@dataclass(frozen=True, slots=True)
class ShellResult:
    """What one command printed and how it exited."""

    exit_status: int
    stdout: bytes
    stderr: bytes
    #: Bytes of each stream read past the limit and not kept.
    stdout_dropped: int = 0
    stderr_dropped: int = 0

    def texts(self, limit: int) -> tuple[str, str]:
        """stdout and stderr as text, each saying what was not kept."""
        return (with_note(self.stdout.decode("utf-8", "replace"), self.stdout_dropped, limit,
                          "bytes"),
                with_note(self.stderr.decode("utf-8", "replace"), self.stderr_dropped, limit,
                          "bytes"))


class WarmShell:
    """One POSIX shell on one host, running commands one at a time (see the module)."""

    def __init__(self, conn: asyncssh.SSHClientConnection,
                 process: asyncssh.SSHClientProcess[bytes]) -> None:
        self.conn = conn
        self._process = process
        self._lock = asyncio.Lock()
        self._broken = False
        #: What was read past a command's markers (a background job's late output):
        #: the start of the next command's output, as a plain read would have it.
        self._pending = (b"", b"")
        self._stopping: asyncio.Task[bool] | None = None
        self._pid: int | None = None

    @classmethod
    async def open(cls, conn: asyncssh.SSHClientConnection, timeout: float) -> WarmShell:
        """Start the shell and wait until it answers (what rc files print is dropped).

        Raises :class:`ShellGone` when no POSIX shell answers within ``timeout``.
        """
        process = await conn.create_process(START, encoding=None)
        shell = cls(conn, process)
        try:
            async with asyncio.timeout(timeout):
                # `set +e`: an rc file's errexit would end the shell at the first failing
                # command; each command still sets its own options inside its subshell.
                # `echo $$`: its pid, also its process group's (sshd makes each session
                # a process group), to kill it whole when the server will not signal it
                hello = await shell._exchange(b"'echo $$'", before=b"set +e\n")
                shell._pid = _last_number(hello.stdout)
        except (TimeoutError, ShellGone, asyncssh.Error, OSError) as exc:
            shell.close()
            raise ShellGone(f"no shell answered: {exc or type(exc).__name__}") from None
        except BaseException:  # cancelled (the caller's deadline): no shell left behind
            shell.close()
            raise
        return shell

    @property
    def usable(self) -> bool:
        """Open, answering, and on a connection that is still up."""
        return not self._broken and not self.conn.is_closed()

    @property
    def busy(self) -> bool:
        """A command is running in it now."""
        return self._lock.locked()

    async def run(self, command: str, limit: int = DEFAULT_LIMIT) -> ShellResult:
        """Run ``command``; raises :class:`ShellGone` (and closes the shell) if it died.

        Cancelling (a timeout, say) kills the shell: a command may still be running in it.
        """
        async with self._lock:
            try:
                return await self._exchange(shlex.quote(command).encode(), limit=limit)
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Kill the shell (and what runs in it) and close its channel.

        The channel closes when the host confirms the shell ended, or after
        :data:`~.stopping.STOP_GRACE`; :meth:`stopped` says which.
        """
        self._broken = True
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())

    async def _stop(self) -> bool:
        if await stop(self._process):
            return True
        # The server did not act on the signal (OpenSSH, root login): kill the process
        # group from a session of its own on the same connection, as the same user.
        if self._pid is None or self.conn.is_closed():
            return False
        try:
            async with asyncio.timeout(STOP_GRACE):
                done = await self.conn.run(f"/bin/kill -s KILL -- -{self._pid}",
                                           stdin=asyncssh.DEVNULL)
        except (TimeoutError, asyncssh.Error, OSError):
            return False
        return done.exit_status == 0

    async def stopped(self) -> bool:
        """After :meth:`close`: whether the host confirmed the shell (and its command) ended."""
        if self._stopping is None:
            return False
        return await asyncio.shield(self._stopping)

    async def _exchange(self, quoted: bytes, *, drop_output: bool = False,
                        before: bytes = b"", limit: int = DEFAULT_LIMIT) -> ShellResult:
        if self._broken:
            raise ShellGone("the shell was closed")
        marker = secrets.token_hex(12).encode()
        self._process.stdin.write(
            before + b"( eval " + quoted + b"\n) </dev/null; printf '\\n%s %s\\n' " + marker
            + b' "$?"; printf \'\\n%s\\n\' ' + marker + b" >&2\n")
        status_sep = re.compile(b"\n" + marker + b" ([0-9]{1,3})\n")
        err_sep = re.compile(re.escape(b"\n" + marker + b"\n"))
        longest = len(marker) + 6
        try:
            (out, out_dropped, found, out_rest), (err, err_dropped, _, err_rest) = \
                await asyncio.gather(
                    read_framed(self._process.stdout, status_sep, longest, limit,
                                self._pending[0]),
                    read_framed(self._process.stderr, err_sep, longest, limit,
                                self._pending[1]))
        except (asyncio.IncompleteReadError, asyncssh.Error, OSError) as exc:
            self._broken = True
            raise ShellGone(f"the shell ended: {exc or type(exc).__name__}") from None
        self._pending = (out_rest, err_rest)
        if drop_output:
            return ShellResult(0, b"", b"")
        return ShellResult(int(found.group(1)), out, err, out_dropped, err_dropped)


def _last_number(output: bytes) -> int | None:
    """The number on the last line of ``output`` (what rc files print comes before it)."""
    lines = output.strip().splitlines()
    last = lines[-1].strip() if lines else b""
    return int(last) if last.isdigit() and 1 < int(last) < 2**22 else None


class ShellSlot:
    """The warm shell of one pooled host: started on demand, replaced when it dies.

    Starting a shell belongs to the pool, not to the command that asked first: it
    runs to its end (within ``open_timeout``) even when that command's deadline
    passes, and the next command finds the shell ready instead of a half-opened
    channel left on the host.
    """

    def __init__(self) -> None:
        self.shell: WarmShell | None = None
        #: No POSIX shell answered on this host: its commands always go by exec.
        self.unsupported = False
        self._opening: asyncio.Task[WarmShell | None] | None = None

    async def run(self, conn: asyncssh.SSHClientConnection, command: str,
                  open_timeout: float, limit: int = DEFAULT_LIMIT) -> ShellResult | None:
        """``command`` in the warm shell on ``conn``; ``None`` when exec should run it.

        See :meth:`ShellCall.run`; a caller with a deadline uses :meth:`call`, to say
        what became of a command the deadline cut off.
        """
        return await self.call(command).run(conn, open_timeout, limit)

    def call(self, command: str) -> ShellCall:
        """``command``, to run in this slot's shell (:meth:`ShellCall.run`)."""
        return ShellCall(self, command)

    def _start(self, conn: asyncssh.SSHClientConnection,
               open_timeout: float) -> asyncio.Task[WarmShell | None]:
        opening = self._opening
        if opening is None or opening.done():
            opening = self._opening = asyncio.ensure_future(self._open(conn, open_timeout))
        return opening

    async def _open(self, conn: asyncssh.SSHClientConnection,
                    open_timeout: float) -> WarmShell | None:
        try:
            self.shell = await WarmShell.open(conn, open_timeout)
        except ShellGone:
            # the host has no POSIX shell, unless it was the connection that went
            self.unsupported = not conn.is_closed()
            return None
        except (asyncssh.Error, OSError):
            return None
        return self.shell


class ShellCall:
    """One command sent to a :class:`ShellSlot`, and whether it reached a shell."""

    def __init__(self, slot: ShellSlot, command: str) -> None:
        self.slot = slot
        self.command = command
        #: The shell the command was written to; None while the shell was starting.
        self.shell: WarmShell | None = None

    async def run(self, conn: asyncssh.SSHClientConnection, open_timeout: float,
                  limit: int = DEFAULT_LIMIT) -> ShellResult | None:
        """The command in the slot's warm shell on ``conn``; ``None`` when exec should run it.

        ``None`` when the host has no POSIX shell, the shell is busy with another
        command, the command holds a NUL byte, or a channel cannot be opened (the
        connection is going; exec reconnects). Raises :class:`ShellGone` when the
        shell died during the command.
        """
        slot = self.slot
        if slot.unsupported or "\0" in self.command:
            return None
        shell = slot.shell
        if shell is None or not shell.usable or shell.conn is not conn:
            shell = await asyncio.shield(slot._start(conn, open_timeout))
            if shell is None:
                return None
        if shell.busy:
            return None
        # nothing awaits between here and the command written to the shell: if a deadline
        # cancels this call, it did so before the command started or after it was sent
        self.shell = shell
        return await shell.run(self.command, limit)

    async def timed_out(self, seconds: float) -> str:
        """The error of this command, cut off by its deadline after ``seconds``: it did not
        start (the shell was still starting), the host confirmed it stopped, or it may
        still be running."""
        if self.shell is None:
            return (f"timed out after {seconds:.1f}s while the host's shell was starting: "
                    "the command did not start")
        return timed_out(seconds, await self.shell.stopped())


__all__ = ["ShellCall", "ShellGone", "ShellResult", "ShellSlot", "WarmShell"]
