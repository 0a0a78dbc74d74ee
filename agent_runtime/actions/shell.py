"""The ``shell`` escape hatch: an argv, or a fixed template whose ``{}`` slots are shell-quoted.

Values (for instance alert labels) are never pasted into a command line raw:
either they are argv elements, or each fills one ``{}`` of a fixed template
through :func:`shlex.quote`, and only then does ``/bin/sh -c`` see the line.
"""

from __future__ import annotations

import shlex
from typing import Any, Dict, List

from agent_runtime.actions._exec import run_command
from agent_runtime.actions.base import ActionContext, ActionError, ActionResult, action, require

__all__ = ["option_values", "quoted_slots", "render_template", "shell"]


_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"})


def quoted_slots(command: str) -> List[int]:
    """The (1-based) numbers of the ``{}`` slots of *command* where a value would be
    read as shell code: inside quotes, after a backslash, inside a command substitution
    (`` `{}` ``, ``$({})``), as a command's name (``{} --help``, ``a | {}``), or as the
    script of ``eval`` or ``sh -c``.

    A quoted value in such a slot would end the author's quotes: ``echo '{}'`` with
    ``$(id)`` becomes ``echo ''$(id)''``, and ``$(id)`` runs. A slot must stand bare.
    """
    found: List[int] = []
    quote = ""
    backtick = False
    depth = 0  # open $( ... )
    slot = 0
    i = 0
    while i < len(command):
        c = command[i]
        if command.startswith("{}", i):
            slot += 1
            before = command[:i].rstrip()
            words = [w.rsplit("/", 1)[-1] for w in before.split()[-2:]]
            if quote or backtick or depth or before.endswith("\\") or before[-1:] in ("", ";", "|", "&", "(", "\n") \
                    or words[-1:] == ["eval"] or (words[-1:] == ["-c"] and words[0] in _SHELLS):
                found.append(slot)
            i += 2
            continue
        if quote == "'":
            quote = "" if c == "'" else quote
        elif c == "\\" and not command.startswith("{}", i + 1):
            i += 1  # the next character is escaped
        elif c == "`":
            backtick = not backtick
        elif command.startswith("$(", i):
            depth += 1
            i += 1
        elif c == ")" and depth and quote != "'":
            depth -= 1
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
    require(not bad, f"param 'command': slot(s) {bad} would read a value as shell code (in "
            "quotes, a substitution, or as a command name, eval or sh -c script); write each "
            "{} bare, as an argument: it is shell-quoted for you")
    out = [pieces[0]]
    for arg, piece in zip(args, pieces[1:]):
        out.append(shlex.quote(arg))
        out.append(piece)
    return "".join(out)


def option_values(params: Dict[str, Any]) -> None:
    """Raise :class:`ActionError` when a value a template put at the start of an argv
    element (or a bare ``command`` slot) begins with '-': the program would read it as an
    option (``--help``, ``-rf``).  ``value_slots`` (filled by the agent from the runbook)
    says which positions came from templates; nothing runs."""
    seq = params.get("argv") if params.get("argv") is not None else params.get("args")
    for i in params.get("value_slots") or []:
        if isinstance(seq, list) and 0 <= i < len(seq) and str(seq[i]).startswith("-"):
            where = "argv[%d]" % i if params.get("argv") is not None else "args[%d]" % i
            raise ActionError(
                f"param {where!r}: the value {str(seq[i])[:60]!r} comes from a template and "
                "starts with '-', so the program would read it as an option; nothing was run. "
                "Check the alert's label, or put '--' before this element in the runbook")


@action("shell", read_only=False, params={
    "argv": "list[str]?=null", "command": "str?=null", "args": "list[str]=[]",
    "timeout": "float?=null", "value_slots": "list[int]=[]",
}, vet=option_values)
def shell(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Run ``argv`` directly, or ``command`` (a template with ``{}`` slots filled by quoted ``args``) via ``/bin/sh -c``.

    Output is bounded (first and last 32 KiB of each stream); the exit code is in data.
    ``value_slots`` is filled by the agent (see :func:`option_values`), not the runbook.
    """
    option_values(params)
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
