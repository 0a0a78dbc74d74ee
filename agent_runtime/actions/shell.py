"""The ``shell`` escape hatch: an argv, or a fixed template whose ``{}`` slots are shell-quoted.

Values (for instance alert labels) are never pasted into a command line raw:
either they are argv elements, or each fills one ``{}`` of a fixed template
through :func:`shlex.quote`, and only then does ``/bin/sh -c`` see the line.
"""

from __future__ import annotations

import shlex
from typing import Any, Dict, List

from agent_runtime.actions._exec import run_command
from agent_runtime.actions.base import ActionContext, ActionResult, action, require

__all__ = ["quoted_slots", "render_template", "shell"]


def quoted_slots(command: str) -> List[int]:
    """The (1-based) numbers of the ``{}`` slots of *command* that sit inside quotes or
    after a backslash.

    A quoted value in such a slot would end the author's quotes: ``echo '{}'`` with
    ``$(id)`` becomes ``echo ''$(id)''``, and ``$(id)`` runs. A slot must stand bare.
    """
    found: List[int] = []
    quote = ""
    slot = 0
    i = 0
    while i < len(command):
        c = command[i]
        if command.startswith("{}", i):
            slot += 1
            if quote or (i > 0 and command[i - 1] == "\\"):
                found.append(slot)
            i += 2
            continue
        if quote == "'":
            quote = "" if c == "'" else quote
        elif c == "\\" and not command.startswith("{}", i + 1):
            i += 1  # the next character is escaped
        elif quote == '"':
            quote = "" if c == '"' else quote
        elif c in "'\"":
            quote = c
        i += 1
    return found


def render_template(command: str, args: List[str]) -> str:
    """Fill each ``{}`` of *command* with ``shlex.quote`` of the next arg (counts must match).

    Raises :class:`ActionError` for a slot inside quotes (see :func:`quoted_slots`).
    """
    pieces = command.split("{}")
    require(len(pieces) - 1 == len(args),
            f"param 'args': template has {len(pieces) - 1} '{{}}' slot(s) but {len(args)} arg(s) given")
    bad = quoted_slots(command)
    require(not bad, f"param 'command': slot(s) {bad} sit inside quotes; write a bare {{}} "
            "(each value is shell-quoted for you), or a value could end the quotes and run")
    out = [pieces[0]]
    for arg, piece in zip(args, pieces[1:]):
        out.append(shlex.quote(arg))
        out.append(piece)
    return "".join(out)


@action("shell", read_only=False, params={
    "argv": "list[str]?=null", "command": "str?=null", "args": "list[str]=[]",
    "timeout": "float?=null",
})
def shell(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Run ``argv`` directly, or ``command`` (a template with ``{}`` slots filled by quoted ``args``) via ``/bin/sh -c``.

    Output is bounded (first and last 32 KiB of each stream); the exit code is in data.
    """
    require((params["argv"] is None) != (params["command"] is None),
            "params 'argv' and 'command': give exactly one")
    if params["argv"] is not None:
        require(bool(params["argv"]), "param 'argv': must not be empty")
        require(not params["args"], "param 'args': only with 'command'")
        argv: List[str] = list(params["argv"])
    else:
        argv = ["/bin/sh", "-c", render_template(params["command"], params["args"])]
    shown = " ".join(shlex.quote(a) for a in argv)
    if ctx.dry_run:
        return ActionResult(True, f"would run: {shown}", {
            "argv": argv, "exit_code": None, "stdout": "", "stderr": "", "timed_out": False,
            "truncated": False,
        })
    res = run_command(argv, ctx, timeout=params["timeout"])
    data = res.to_dict()
    if res.ok:
        return ActionResult(True, f"ran: {shown} (exit 0)", data, changed=True)
    why = res.error or f"exit code {res.exit_code}"
    return ActionResult(False, f"{shown}: {why}", data, changed=res.exit_code is not None, error=why)
