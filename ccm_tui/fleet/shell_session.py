"""An SSH session served by a local shell: what a simulated or test host runs per command.

:func:`serve_in_shell` runs ``/bin/sh -c COMMAND`` for an asyncssh server process,
feeds it the session's stdin, streams stdout and stderr back, and ends the session
with the command's exit status (or the signal that killed it). The command runs in
its own process group, killed whole if the session is torn down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from typing import Any

import asyncssh


async def serve_in_shell(process: asyncssh.SSHServerProcess[bytes], command: str, *,
                         env: Mapping[str, str], cwd: str,
                         running: set[asyncio.subprocess.Process] | None = None) -> None:
    """Run ``command`` for ``process`` and exit it with the command's status.

    ``running``, when given, holds the child while it runs (so its owner can kill
    what is left at shutdown with :func:`kill_group`).
    """
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(env),
        cwd=cwd, start_new_session=True)
    if running is not None:
        running.add(proc)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    feed = asyncio.ensure_future(_feed(process.stdin, proc.stdin))
    try:
        await asyncio.gather(_pump(proc.stdout, process.stdout),
                             _pump(proc.stderr, process.stderr))
        status = await proc.wait()
    except (asyncio.CancelledError, asyncssh.Error, OSError):
        kill_group(proc)
        raise
    finally:
        feed.cancel()
        if proc.returncode is None:
            kill_group(proc)
        if running is not None:
            running.discard(proc)
    if status < 0:
        process.exit_with_signal(signal.Signals(-status).name.removeprefix("SIG"))
    else:
        process.exit(status)


def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the command's whole process group (it is gone already: fine)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _pump(reader: asyncio.StreamReader, writer: Any) -> None:
    with contextlib.suppress(OSError, asyncssh.Error):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()


async def _feed(reader: Any, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncssh.Error):
        pass
    finally:
        writer.close()
