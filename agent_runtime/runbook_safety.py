"""Runbook steps that would let a value (an alert label) become code or choose a path.

:func:`unsafe_params` is one of the checks :func:`agent_runtime.runbook.validate` runs
on every step; ``ccm runbooks lint`` reports what it finds, and the agent refuses such
a runbook before running anything.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Tuple

#: Programs whose arguments may be shell code: a template there would paste a value
#: (an alert label) into a script.
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish",
                     "csh", "tcsh", "env", "sudo", "su", "xargs", "ssh", "eval"})


def _runs_a_shell(argv: List[Any]) -> bool:
    """True when ``argv[0]`` is a shell, or a program that hands its arguments to one."""
    return str(argv[0]).rsplit("/", 1)[-1] in _SHELLS


def unsafe_params(action: str, params: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """``(param, why)`` for each way ``params`` of an ``action`` step would let a value be
    read as shell code, or choose where files are deleted or rewritten."""
    found: List[Tuple[str, str]] = []
    command = params.get("command")
    if action == "shell" and "{{" in str(command or ""):
        found.append(("command", "a shell command must not contain templates: put '{}' "
                      "slots in it and the values in 'args' (shell-quoted)"))
    elif action == "shell" and isinstance(command, str):
        from agent_runtime.actions.shell import quoted_slots

        slots = quoted_slots(command)
        if slots:
            found.append(("command", "'{}' slot(s) %s would read a value as shell code (in "
                          "quotes, a substitution, or as a command name, eval or sh -c "
                          "script): write each bare, as an argument" % (slots,)))
    if action in ("clean_files", "compress_files") and "{{" in str(params.get("path", "")) \
            and (not params.get("allowed_roots") or "{{" in str(params["allowed_roots"])):
        found.append(("allowed_roots", "%s with a templated 'path' needs fixed "
                      "'allowed_roots' (no templates): a value such as an alert label must "
                      "not choose where files are deleted or rewritten" % (action,)))
    argv = params.get("argv") if action == "shell" else None
    if isinstance(argv, list) and argv and _runs_a_shell(argv) and "{{" in str(argv[1:]):
        found.append(("argv", "argv runs a shell (%s): its arguments must not contain "
                      "templates, or a value would be read as shell code; use 'command' "
                      "with '{}' slots and the values in 'args' (shell-quoted)" % (argv[0],)))
    return found
