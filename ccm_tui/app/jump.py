"""``t``: jump into an agent's tmux session on its host.

Inside tmux, a new tmux window runs ``ssh -t HOST tmux attach -t ccm-<task>``
(through libtmux, on the tmux server the app runs in). Outside tmux the app
suspends, runs ssh in the terminal, and comes back when the operator detaches.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from typing import Any

from ccm_tui.core.model import Host
from ccm_tui.daemon.remote import session_name


def attach_argv(host: Host, task_id: str) -> list[str]:
    """The ssh command that attaches to a task's agent session on its host."""
    target = host.address or host.name
    if host.user:
        target = f"{host.user}@{target}"
    argv = ["ssh", "-t"]
    if host.port and host.port != 22:
        argv += ["-p", str(host.port)]
    return [*argv, target, "tmux", "attach", "-t", session_name(task_id)]


def inside_tmux() -> bool:
    """Whether the app runs inside a tmux client."""
    return bool(os.environ.get("TMUX"))


def open_window(argv: list[str], name: str) -> str:
    """Open a tmux window named ``name`` running ``argv`` next to the app; its id."""
    # libtmux reads sys.stdout.encoding (at import), which Textual's print capture lacks.
    with contextlib.redirect_stdout(sys.__stdout__):
        import libtmux

        return _open_window(libtmux, argv, name)


def _open_window(libtmux: Any, argv: list[str], name: str) -> str:
    socket_path = os.environ["TMUX"].split(",", 1)[0]
    server = libtmux.Server(socket_path=socket_path)
    pane = os.environ.get("TMUX_PANE", "")
    args = ["display-message", "-p"] + (["-t", pane] if pane else []) + ["#{session_id}"]
    session_id = server.cmd(*args).stdout[0]
    session = server.sessions.get(session_id=session_id)
    assert session is not None
    window = session.new_window(window_name=name, window_shell=shlex.join(argv), attach=True)
    return str(window.window_id)
