"""Runbook steps that would let a value (an alert label) become code, choose a path,
or be read as an option.

:func:`unsafe_params` is one of the checks :func:`agent_runtime.runbook.validate` runs
on every step; ``ccm runbooks lint`` reports what it finds, and the agent refuses such
a runbook before running anything.

:func:`option_slots` finds the ``shell`` argv elements (or ``command`` slots) a
template fills at their start with no ``--`` before them: a value such as
``--help`` or ``-rf`` there would be read by the program as an option.  Lint warns
about them; :func:`with_value_slots` records them in the step's ``value_slots`` so
the ``shell`` action refuses such a value when the fix is planned.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Tuple, Union

PathPart = Union[str, int]

#: The ``shell`` param the agent fills (never the runbook): argv (or args) positions
#: that a template starts; a value there beginning with '-' is refused.
SLOTS_PARAM = "value_slots"

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
    if action == "shell" and SLOTS_PARAM in params:
        found.append((SLOTS_PARAM, "%s is filled by the agent from the runbook's templates; "
                      "remove it" % (SLOTS_PARAM,)))
    if isinstance(argv, list) and argv and "{{" in str(argv[0]):
        found.append(("argv", "argv[0] must not contain templates: a value such as an alert "
                      "label must not choose which program runs"))
    elif isinstance(argv, list) and argv and _runs_a_shell(argv) and "{{" in str(argv[1:]):
        found.append(("argv", "argv runs a shell (%s): its arguments must not contain "
                      "templates, or a value would be read as shell code; use 'command' "
                      "with '{}' slots and the values in 'args' (shell-quoted)" % (argv[0],)))
    return found


def _starts_with_template(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip().startswith("{{")


def _bare_command_slots(command: str) -> List[int]:
    """0-based numbers of the ``{}`` slots of *command* that start a word with no ``--``
    word before them in the same simple command (``--opt={}`` and ``-- {}`` are safe)."""
    out: List[int] = []
    pieces = command.split("{}")
    for k in range(len(pieces) - 1):
        before = "{}".join(pieces[:k + 1])
        if before and not before[-1].isspace():
            continue
        for sep in (";", "|", "&", "\n", "(", "`"):
            before = before.rsplit(sep, 1)[-1]
        if "--" not in before.split():
            out.append(k)
    return out


def option_slots(action: str, params: Mapping[str, Any]) -> List[Tuple[str, int]]:
    """``("argv", i)`` or ``("args", i)`` for each element of a ``shell`` step that a
    template starts with no ``--`` before it: a value beginning with '-' there would be
    read as an option (``--help``, ``-rf``)."""
    if action != "shell":
        return []
    argv, command, args = params.get("argv"), params.get("command"), params.get("args")
    found: List[Tuple[str, int]] = []
    if isinstance(argv, list):
        for i, item in enumerate(argv[1:], 1):
            if item == "--":
                break
            if _starts_with_template(item):
                found.append(("argv", i))
    elif isinstance(command, str) and isinstance(args, list):
        found.extend(("args", k) for k in _bare_command_slots(command)
                     if k < len(args) and _starts_with_template(args[k]))
    return found


def _steps(doc: Mapping[str, Any]) -> List[Tuple[Tuple[PathPart, ...], Any]]:
    steps: List[Tuple[Tuple[PathPart, ...], Any]] = []
    for i, step in enumerate(doc.get("remediate") or []):
        steps.append((("remediate", i), step))
    for i, cause in enumerate(doc.get("classify") or []):
        fix = cause.get("remediate") if isinstance(cause, dict) else None
        for j, step in enumerate(fix if isinstance(fix, list) else []):
            if isinstance(step, dict):
                steps.append((("classify", i, "remediate", j), step))
    return [(p, s) for p, s in steps if isinstance(s, dict) and isinstance(s.get("params"), dict)]


def option_warnings(doc: Any) -> List[Tuple[Tuple[PathPart, ...], str]]:
    """``(path, message)`` for each ``shell`` slot of runbook ``doc`` that could take an
    option-looking value (see :func:`option_slots`), for ``ccm runbooks lint``."""
    if not isinstance(doc, dict):
        return []
    out: List[Tuple[Tuple[PathPart, ...], str]] = []
    for path, step in _steps(doc):
        for param, i in option_slots(str(step.get("action")), step["params"]):
            out.append(((*path, "params", param, i),
                        "a template starts this element: a value beginning with '-' (e.g. "
                        "--help) would be read as an option, so the agent refuses it and "
                        "escalates; put '--' before it if the program accepts that, or "
                        "write it as --opt={{ ... }}"))
    return out


def _conditions(doc: Mapping[str, Any]) -> List[Tuple[Tuple[PathPart, ...], Any]]:
    found: List[Tuple[Tuple[PathPart, ...], Any]] = []

    def add(path: Tuple[PathPart, ...], raw: Any) -> None:
        if isinstance(raw, list):
            found.extend(((*path, i), c) for i, c in enumerate(raw))

    match = doc.get("match")
    if isinstance(match, dict):
        add(("match", "evidence"), match.get("evidence"))
    for key, sub in (("classify", "when"), ("escalate_when", "when")):
        items = doc.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                add((key, i, sub), item.get(sub))
    if isinstance(doc.get("verify"), dict):
        add(("verify", "expect"), doc["verify"].get("expect"))
    for path, step in _steps(doc):
        add((*path, "when"), step.get("when"))
    return found


def threshold_warnings(doc: Any) -> List[Tuple[Tuple[PathPart, ...], str]]:
    """``(path, message)`` for each ``> >= < <=`` condition of runbook ``doc`` whose
    threshold an alert label (or annotation) sets with no ``default(...)``: the runbook then has no bar
    of its own, so any label value (``threshold=0``) is used as is."""
    from agent_runtime.conditions import ConditionError, parse_condition
    from agent_runtime.template import TemplateError, render, template_paths

    if not isinstance(doc, dict):
        return []
    out: List[Tuple[Tuple[PathPart, ...], str]] = []
    for path, raw in _conditions(doc):
        try:
            cond = parse_condition(raw)
            paths = template_paths(cond.value) if isinstance(cond.value, str) else []
        except (ConditionError, TemplateError):
            continue
        if cond.op not in (">", ">=", "<", "<=") or not paths \
                or not all(p.startswith("alert.") for p in paths):
            continue
        try:
            render(cond.value, {"alert": {}})
        except TemplateError:
            out.append((path, "a label sets this threshold with no default: any value the "
                        "alert carries (threshold=0) is used as is; add the runbook's own "
                        "bar, e.g. | default(80), and a label can then only tighten it"))
    return out


def deletion_warnings(doc: Any) -> List[Tuple[Tuple[PathPart, ...], str]]:
    """``(path, message)`` for each ``clean_files`` / ``compress_files`` step of runbook
    ``doc`` whose ``patterns`` or ``older_than_days`` an alert value sets: a label such as
    ``days=0`` or ``pattern=*`` would choose which files are deleted or rewritten."""
    if not isinstance(doc, dict):
        return []
    out: List[Tuple[Tuple[PathPart, ...], str]] = []
    for path, step in _steps(doc):
        if step.get("action") not in ("clean_files", "compress_files"):
            continue
        for key in ("patterns", "older_than_days"):
            if "{{" in str(step["params"].get(key, "")) and "alert." in str(step["params"][key]):
                out.append(((*path, "params", key), "an alert value sets %s: a label such as "
                            "%s would choose which files %s touches; use a fixed value" % (
                                key, "pattern=*" if key == "patterns" else "days=0",
                                step["action"])))
    return out


def with_value_slots(doc: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a validated runbook whose ``shell`` steps carry :data:`SLOTS_PARAM`,
    so the action can refuse an option-looking value where a template put it."""
    if not any(option_slots(str(s.get("action")), s["params"]) for _, s in _steps(doc)):
        return doc
    out = copy.deepcopy(doc)
    for _, step in _steps(out):
        slots = option_slots(str(step.get("action")), step["params"])
        if slots:
            step["params"][SLOTS_PARAM] = [i for _, i in slots]
    return out
