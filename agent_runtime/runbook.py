"""The runbook schema: validation of a runbook *dict* (parsed YAML or JSON).

A runbook says, for one kind of alert, what to look at, what it may mean, what to
do about it and how to tell it worked::

    id: disk-full                 # slug
    title: Disk almost full
    description: ...
    risk: low                     # low | medium | high
    mode: auto                    # shadow | suggest | auto
    strategy: sequential          # best (default): fix the top cause; sequential:
                                  #   try matching causes in order, verify after each
    on_failure: escalate          # fail (default) | escalate, when no fix verified
    match:
      labels: ['alertname=~"DiskFull|NodeFilesystem.*"', 'severity!=info']
      evidence: ['evidence.disk.used_pct >= 80']     # optional confirmation
    diagnose:                     # read-only steps; each result is evidence[id]
      - {id: disk, action: disk_usage, params: {path: "{{ alert.labels.mountpoint | default(\\"/\\") }}"}}
    classify:
      - cause: old-logs
        when: ['evidence.logs.total_bytes > 0']
        weight: 0.95
        remediate: [clean-logs]   # step ids from ``remediate`` or inline steps
    remediate:
      - {id: clean-logs, action: clean_files, params: {...}}
    verify: {action: disk_usage, params: {...}, expect: ['result.used_pct < 85']}
    escalate_when: [{when: [...], reason: "..."}]

Label matchers use Alertmanager syntax: ``name=value``, ``name!=value``,
``name=~regex``, ``name!~regex`` (regexes are anchored).  :func:`validate` returns
:class:`Issue` objects whose ``path`` locates the offending key, so the central
linter can map it to a file line.  Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from agent_runtime.conditions import ConditionError, parse_condition
from agent_runtime.runbook_safety import SLOTS_PARAM, unsafe_params, with_value_slots
from agent_runtime.template import TemplateError, template_paths

PathPart = Union[str, int]

RISKS = ("low", "medium", "high")
MODES = ("shadow", "suggest", "auto")
STRATEGIES = ("best", "sequential")
ON_FAILURE = ("fail", "escalate")

TOP_KEYS = {"id": True, "title": True, "description": False, "version": False,
            "tags": False, "match": True, "diagnose": True, "classify": True,
            "remediate": False, "verify": False, "risk": True, "mode": True,
            "strategy": False, "on_failure": False, "escalate_when": False}
STEP_KEYS = {"id", "action", "params", "description", "when", "timeout"}
CAUSE_KEYS = {"cause", "description", "when", "weight", "remediate"}
VERIFY_KEYS = {"id", "action", "params", "description", "expect", "attempts", "interval", "timeout"}

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
_ROOTS = ("alert", "evidence", "host", "task")


@dataclass(frozen=True)
class Issue:
    """One validation error: where (a key path into the document) and why."""

    path: Tuple[PathPart, ...]
    message: str

    def where(self) -> str:
        """The path as ``diagnose[0].params.path``."""
        out = ""
        for part in self.path:
            out += "[%d]" % part if isinstance(part, int) else ("." if out else "") + part
        return out or "<root>"

    def __str__(self) -> str:
        return "%s: %s" % (self.where(), self.message)


class RunbookError(ValueError):
    """A runbook that failed validation; ``issues`` lists every problem."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


@dataclass(frozen=True)
class Matcher:
    """One label matcher."""

    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, Any]) -> bool:
        """True when ``labels`` satisfy this matcher (a missing label is "")."""
        actual = str(labels.get(self.label, ""))
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> Matcher:
    """Parse ``name op value`` (value optionally double-quoted); ValueError if bad."""
    m = _MATCHER.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError("bad label matcher %r (want name=value, !=, =~ or !~)" % (text,))
    label, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError("bad regex in matcher %r: %s" % (text, exc)) from None
    return Matcher(label, op, value)


def match_score(runbook: Mapping[str, Any], labels: Mapping[str, Any]) -> int:
    """How specifically ``runbook`` matches ``labels``: the number of matchers
    (all must hold), or -1 when it does not match."""
    matchers = [parse_matcher(t) for t in runbook.get("match", {}).get("labels", [])]
    if not all(m.matches(labels) for m in matchers):
        return -1
    return len(matchers)


def _default_actions() -> Mapping[str, Any]:
    from agent_runtime.actions import ACTIONS
    return ACTIONS


class _Checker:
    def __init__(self, actions: Mapping[str, Any]) -> None:
        self.actions = actions
        self.issues: List[Issue] = []

    def err(self, path: Tuple[PathPart, ...], message: str) -> None:
        self.issues.append(Issue(path, message))

    def keys(self, obj: Mapping[str, Any], allowed: Any, path: Tuple[PathPart, ...]) -> None:
        for key in obj:
            if key not in allowed:
                self.err((*path, str(key)), "unknown key %r (allowed: %s)"
                         % (key, ", ".join(sorted(allowed))))

    def templates(self, value: Any, path: Tuple[PathPart, ...], steps: Sequence[str],
                  roots: Sequence[str] = _ROOTS) -> None:
        try:
            paths = template_paths(value)
        except TemplateError as exc:
            self.err(path, str(exc))
            return
        for p in paths:
            self.ref(p, path, steps, roots)

    def ref(self, ref: str, path: Tuple[PathPart, ...], steps: Sequence[str],
            roots: Sequence[str]) -> None:
        parts = ref.split(".")
        if parts[0] not in roots:
            self.err(path, "%r: a path starts with one of %s" % (ref, ", ".join(roots)))
        elif parts[0] == "evidence" and (len(parts) < 2 or parts[1] not in steps):
            self.err(path, "%r names no earlier diagnose step (known: %s)"
                     % (ref, ", ".join(steps) or "none"))

    def conditions(self, raw: Any, path: Tuple[PathPart, ...], steps: Sequence[str],
                   roots: Sequence[str] = _ROOTS) -> None:
        if not isinstance(raw, list):
            self.err(path, "must be a list of conditions")
            return
        for i, item in enumerate(raw):
            try:
                cond = parse_condition(item)
            except ConditionError as exc:
                self.err((*path, i), str(exc))
                continue
            self.ref(cond.path, (*path, i), steps, roots)
            self.templates(cond.value, (*path, i), steps, roots)

    def step(self, step: Any, path: Tuple[PathPart, ...], steps: Sequence[str],
             read_only: bool, allowed: Any = STEP_KEYS, need_id: bool = True) -> None:
        if not isinstance(step, dict):
            self.err(path, "a step is a mapping with id, action, params")
            return
        self.keys(step, allowed, path)
        sid = step.get("id")
        if need_id and not (isinstance(sid, str) and _ID.match(sid)):
            self.err((*path, "id"), "step needs an id (lowercase letters, digits, - and _)")
        name = step.get("action")
        spec = self.actions.get(name) if isinstance(name, str) else None
        if spec is None:
            self.err((*path, "action"), "unknown action %r (known: %s)"
                     % (name, ", ".join(sorted(self.actions))))
        elif read_only and not spec.read_only:
            self.err((*path, "action"), "action %r changes the host; only read-only "
                     "actions may run here" % (name,))
        params = step.get("params", {})
        if not isinstance(params, dict):
            self.err((*path, "params"), "params must be a mapping")
            params = {}
        if spec is not None:
            declared = dict(getattr(spec, "params", {}) or {})
            for key in params:
                if key not in declared:
                    shown = [k for k in declared if k != SLOTS_PARAM]  # the agent's own
                    self.err((*path, "params", str(key)), "action %r has no param %r "
                             "(accepted: %s)" % (name, key, ", ".join(shown) or "none"))
            for key, decl in declared.items():
                if "=" not in str(decl) and key not in params:
                    self.err((*path, "params"), "action %r needs param %r (%s)"
                             % (name, key, decl))
        self.templates(params, (*path, "params"), steps)
        for field_name, why in unsafe_params(str(name), params):
            self.err((*path, "params", field_name), why)
        if "when" in step:
            self.conditions(step["when"], (*path, "when"), steps)
        timeout = step.get("timeout", 1)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            self.err((*path, "timeout"), "timeout must be a positive number of seconds")


def validate(doc: Any, actions: Optional[Mapping[str, Any]] = None) -> List[Issue]:
    """Every problem with runbook ``doc``; an empty list means it is valid.

    ``actions`` maps action names to specs with ``read_only`` and ``params``
    (default: the agent's :data:`agent_runtime.actions.ACTIONS`).
    """
    c = _Checker(_default_actions() if actions is None else actions)
    if not isinstance(doc, dict):
        return [Issue((), "a runbook is a mapping")]
    c.keys(doc, TOP_KEYS, ())
    for key, required in TOP_KEYS.items():
        if required and key not in doc:
            c.err((), "missing required key %r" % (key,))
    rid = doc.get("id")
    if "id" in doc and not (isinstance(rid, str) and _ID.match(rid)):
        c.err(("id",), "id must be a slug (lowercase letters, digits, - and _)")
    for key in ("title", "description"):
        if key in doc and not isinstance(doc[key], str):
            c.err((key,), "%s must be text" % key)
    for key, allowed in (("risk", RISKS), ("mode", MODES), ("strategy", STRATEGIES),
                         ("on_failure", ON_FAILURE)):
        if key in doc and doc[key] not in allowed:
            c.err((key,), "%s must be one of %s, got %r" % (key, "|".join(allowed), doc[key]))

    steps: List[str] = []
    diagnose = doc.get("diagnose", [])
    if not isinstance(diagnose, list):
        c.err(("diagnose",), "diagnose must be a list of steps")
        diagnose = []
    for i, step in enumerate(diagnose):
        c.step(step, ("diagnose", i), steps, read_only=True)
        sid = step.get("id") if isinstance(step, dict) else None
        if isinstance(sid, str):
            if sid in steps:
                c.err(("diagnose", i, "id"), "duplicate step id %r" % (sid,))
            steps.append(sid)

    _check_match(c, doc.get("match"), steps)

    fixes: List[str] = []
    remediate = doc.get("remediate", [])
    if not isinstance(remediate, list):
        c.err(("remediate",), "remediate must be a list of steps")
        remediate = []
    for i, step in enumerate(remediate):
        c.step(step, ("remediate", i), steps, read_only=False)
        sid = step.get("id") if isinstance(step, dict) else None
        if isinstance(sid, str):
            if sid in fixes or sid in steps:
                c.err(("remediate", i, "id"), "duplicate step id %r" % (sid,))
            fixes.append(sid)

    _check_classify(c, doc.get("classify"), steps, fixes)
    _check_verify(c, doc.get("verify"), steps)

    esc = doc.get("escalate_when", [])
    if not isinstance(esc, list):
        c.err(("escalate_when",), "escalate_when must be a list of {when, reason}")
        esc = []
    for i, item in enumerate(esc):
        if not isinstance(item, dict):
            c.err(("escalate_when", i), "an entry is a mapping {when: [...], reason: text}")
            continue
        c.keys(item, {"when", "reason"}, ("escalate_when", i))
        c.conditions(item.get("when"), ("escalate_when", i, "when"), steps)
        if not isinstance(item.get("reason"), str):
            c.err(("escalate_when", i, "reason"), "reason must be text")
    return c.issues


def _check_match(c: _Checker, match: Any, steps: Sequence[str]) -> None:
    if match is None:
        return
    if not isinstance(match, dict):
        c.err(("match",), "match must be a mapping with labels (and evidence)")
        return
    c.keys(match, {"labels", "evidence"}, ("match",))
    labels = match.get("labels", [])
    if not isinstance(labels, list) or not labels:
        c.err(("match", "labels"), "labels must be a non-empty list of matchers")
        labels = []
    for i, text in enumerate(labels):
        try:
            parse_matcher(text)
        except ValueError as exc:
            c.err(("match", "labels", i), str(exc))
    if "evidence" in match:
        c.conditions(match["evidence"], ("match", "evidence"), steps)


def _check_classify(c: _Checker, classify: Any, steps: Sequence[str],
                    fixes: Sequence[str]) -> None:
    if not isinstance(classify, list) or not classify:
        c.err(("classify",), "classify must be a non-empty list of causes")
        return
    seen: List[str] = []
    for i, cause in enumerate(classify):
        path: Tuple[PathPart, ...] = ("classify", i)
        if not isinstance(cause, dict):
            c.err(path, "a cause is a mapping {cause, when, weight, remediate}")
            continue
        c.keys(cause, CAUSE_KEYS, path)
        name = cause.get("cause")
        if not (isinstance(name, str) and _ID.match(name)):
            c.err((*path, "cause"), "cause needs a slug name")
        elif name in seen:
            c.err((*path, "cause"), "duplicate cause %r" % (name,))
        else:
            seen.append(name)
        c.conditions(cause.get("when", []), (*path, "when"), steps)
        weight = cause.get("weight")
        if (not isinstance(weight, (int, float)) or isinstance(weight, bool)
                or not 0 <= weight <= 1):
            c.err((*path, "weight"), "weight must be a number from 0 to 1")
        fix = cause.get("remediate", [])
        if not isinstance(fix, list):
            c.err((*path, "remediate"), "remediate must be a list of step ids or steps")
            continue
        for j, item in enumerate(fix):
            if isinstance(item, str):
                if item not in fixes:
                    c.err((*path, "remediate", j), "no remediate step %r (known: %s)"
                          % (item, ", ".join(fixes) or "none"))
            else:
                c.step(item, (*path, "remediate", j), steps, read_only=False)


def _check_verify(c: _Checker, verify: Any, steps: Sequence[str]) -> None:
    if verify is None:
        return
    path: Tuple[PathPart, ...] = ("verify",)
    if not isinstance(verify, dict):
        c.err(path, "verify is a mapping {action, params, expect}")
        return
    c.step(verify, path, steps, read_only=True, allowed=VERIFY_KEYS, need_id=False)
    if "expect" not in verify:
        c.err(path, "verify needs 'expect' conditions")
    else:
        c.conditions(verify["expect"], (*path, "expect"), steps, (*_ROOTS, "result"))
    attempts = verify.get("attempts", 1)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 30:
        c.err((*path, "attempts"), "attempts must be an integer from 1 to 30")
    interval = verify.get("interval", 0)
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval < 0:
        c.err((*path, "interval"), "interval must be a number of seconds >= 0")


def check(doc: Any, actions: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Validate and return ``doc`` with defaults filled; raises :class:`RunbookError`."""
    issues = validate(doc, actions)
    if issues:
        raise RunbookError(issues)
    out = dict(doc)
    out.setdefault("description", "")
    out.setdefault("remediate", [])
    out.setdefault("strategy", "best")
    out.setdefault("on_failure", "fail")
    out.setdefault("escalate_when", [])
    return with_value_slots(out)
