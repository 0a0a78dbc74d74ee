"""The processes of a session, from /proc: what a test checks is left after a command."""

from __future__ import annotations

import os
from pathlib import Path


def in_session(sid: int) -> list[int]:
    """The pids of every live process in session ``sid`` (``start_new_session`` children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    pids.append(int(entry.name))
            except ProcessLookupError:
                continue
    return pids
