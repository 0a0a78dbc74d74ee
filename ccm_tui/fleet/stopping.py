"""Stopping a command that ran out of time, and knowing whether it stopped.

On a timeout CCM sends the command ``KILL`` (an SSH ``signal`` request). Whether it
arrives is up to the SSH server: OpenSSH delivers it to the command's process group,
except on a root login, where it refuses ("session signalling requires privilege
separation" in its log) and the command goes on running after CCM has given up on it.
So CCM gives the host a moment (:data:`STOP_GRACE`) to report that the command ended;
when it does not, the result says the command may still be running, rather than
letting "timed out" read as "stopped".
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncssh

#: How long a timed-out command gets to end after CCM's KILL.
STOP_GRACE = 1.0

#: Added to a timeout's error when the host did not confirm the command ended.
STILL_RUNNING = ("it may still be running on the host: the SSH server did not confirm that "
                 "it stopped (OpenSSH, for one, does not signal a root login's commands); "
                 "to bound it on the host, run it under timeout: 'timeout 30 CMD'")


async def stop(process: asyncssh.SSHClientProcess[Any], grace: float = STOP_GRACE) -> bool:
    """Send ``KILL`` to ``process`` and close its channel; whether the host ended it first.

    True when the host closed the session within ``grace`` seconds (the command was
    killed, or ended on its own meanwhile); False when it did not, or the signal could
    not be sent. The channel is closed either way.
    """
    try:
        process.send_signal("KILL")
    except (OSError, asyncssh.Error):
        process.close()
        return False
    try:
        async with asyncio.timeout(grace):
            await process.wait_closed()
    except TimeoutError:
        return False
    finally:
        process.close()
    return True


def timed_out(seconds: float, stopped: bool) -> str:
    """The error of a command that ran out of time after ``seconds``."""
    text = f"timed out after {seconds:.1f}s"
    return text if stopped else f"{text}; {STILL_RUNNING}"


__all__ = ["STILL_RUNNING", "STOP_GRACE", "stop", "timed_out"]
