"""Conditions on evidence: ``evidence.logs.total_bytes > 1000000``.

A condition is written either as a string ``"<path> <op> <value>"`` (the value is
JSON when it parses as JSON, else the bare text) or as a mapping
``{path: ..., op: ..., value: ...}``.  ``exists`` takes no value.  A value may be
a template (``"{{ evidence.before.count }}"``), rendered against the same context.

Operators: ``> >= < <= == != contains matches exists``.  A path with no value makes
every operator false except that ``exists`` is simply false too.

A threshold taken from an alert label or annotation (``>= {{ alert.labels.threshold |
default(80) }}``) may only make the condition harder to hold than the runbook's own
default, never easier: anyone who can post an alert sets its labels, and ``threshold=0`` must not
make a healthy host match a runbook (or pass its verify check).  A label that is not
a finite number is not used.  The report of such a condition says which threshold
was used and why (see :func:`threshold_for`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from agent_runtime.template import TemplateError, has_path, lookup, render, template_paths

OPS = (">", ">=", "<", "<=", "==", "!=", "contains", "matches", "exists")

_STRING_FORM = re.compile(
    r"^\s*(?P<path>[A-Za-z_][A-Za-z0-9_.-]*)\s+"
    r"(?P<op>>=|<=|==|!=|>|<|contains|matches|exists)\s*(?P<value>.*?)\s*$",
    re.DOTALL,
)


class ConditionError(ValueError):
    """A condition that does not parse."""


@dataclass(frozen=True)
class Condition:
    """One parsed condition."""

    path: str
    op: str
    value: Any = None

    def describe(self) -> str:
        """The condition as readable text."""
        if self.op == "exists":
            return "%s exists" % (self.path,)
        return "%s %s %s" % (self.path, self.op, json.dumps(self.value, ensure_ascii=False))


def parse_condition(raw: Any) -> Condition:
    """Parse the string or mapping form; raises :class:`ConditionError`."""
    if isinstance(raw, str):
        m = _STRING_FORM.match(raw)
        if not m:
            raise ConditionError(
                "cannot parse condition %r (want '<path> <op> <value>', op one of %s)"
                % (raw, " ".join(OPS)))
        path, op, text = m.group("path"), m.group("op"), m.group("value")
        if op == "exists":
            if text:
                raise ConditionError("'exists' takes no value: %r" % (raw,))
            return Condition(path, op)
        if not text:
            raise ConditionError("condition %r has no value" % (raw,))
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        return _checked(Condition(path, op, value))
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"path", "op", "value"}
        if unknown:
            raise ConditionError("unknown condition keys: %s" % ", ".join(sorted(unknown)))
        path, op = raw.get("path"), raw.get("op")
        if not isinstance(path, str) or not path:
            raise ConditionError("condition needs a 'path' string")
        if op not in OPS:
            raise ConditionError("unknown operator %r (use one of %s)" % (op, " ".join(OPS)))
        if op != "exists" and "value" not in raw:
            raise ConditionError("condition on %r with op %r needs a 'value'" % (path, op))
        return _checked(Condition(path, str(op), raw.get("value")))
    raise ConditionError("a condition is a string or a mapping, got %s" % type(raw).__name__)


def _checked(cond: Condition) -> Condition:
    if cond.op in (">", ">=", "<", "<="):
        value = cond.value
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(value, str) and "{{" not in value:
            try:
                float(value)
                numeric = True
            except ValueError:
                numeric = False
        elif isinstance(value, str):
            numeric = True  # a template: checked when it is rendered
        if not numeric:
            raise ConditionError("%r compares with %r: %s needs a number"
                                 % (cond.path, value, cond.op))
    if cond.op == "matches":
        if not isinstance(cond.value, str):
            raise ConditionError("'matches' needs a regular expression string")
        if "{{" not in cond.value:
            try:
                re.compile(cond.value)
            except re.error as exc:
                raise ConditionError("bad regular expression %r: %s" % (cond.value, exc)) from None
    return cond


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


_BOUNDS = (">", ">=", "<", "<=")
_LABELS = "alert.labels."


def _finite(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _alert_paths(cond: Condition) -> List[str]:
    """The ``alert.*`` paths (labels, annotations: set by whoever posts the alert) that
    a ``> >= < <=`` condition's value reads."""
    if cond.op not in _BOUNDS or not isinstance(cond.value, str) or "{{" not in cond.value:
        return []
    try:
        paths = template_paths(cond.value)
    except TemplateError:
        return []
    return [p for p in paths if p.startswith("alert.")]


def _pop(tree: Dict[str, Any], parts: List[str]) -> Tuple[bool, Any]:
    """Remove ``parts`` from ``tree`` (copying each mapping on the way, so the caller's
    context is untouched); ``(found, value)``."""
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, Mapping):
            return False, None
        node[part] = node = dict(child)
    if parts[-1] not in node:
        return False, None
    return True, node.pop(parts[-1])


def threshold_for(cond: Condition, context: Mapping[str, Any], harder: bool = True
                  ) -> Tuple[Any, Optional[Dict[str, Any]]]:
    """``(value, note)``: what ``cond`` compares with in ``context``.

    When an alert label (or annotation) sets a ``> >= < <=`` threshold, it may only move
    it the way that makes the condition harder to hold (``harder``; easier for an
    ``escalate_when`` condition) than the runbook's own default; a value that is not a
    finite number is not used.  ``note`` (``None`` when no label was involved, or the
    label is the only threshold there is) says which threshold was used and why.  The
    value is ``None`` when no usable threshold is left.  Raises :class:`TemplateError`
    as :func:`render` does.
    """
    value = render(cond.value, context)
    paths = _alert_paths(cond)
    if not paths:
        return value, None
    without: Dict[str, Any] = dict(context)
    given: Dict[str, Any] = {}
    for path in paths:
        found, got = _pop(without, path.split("."))
        if found:
            given[path[len(_LABELS):] if path.startswith(_LABELS) else path] = got
    if not given:
        return value, None
    try:
        own_value = render(cond.value, without)
    except TemplateError:
        own_value = None  # no default: the label is the only threshold
    own = _finite(own_value)
    own_value = own_value if own is not None else None
    shown = ", ".join("%s=%s" % (n, json.dumps(v, ensure_ascii=False)) for n, v in given.items())
    number = _finite(value)
    note: Dict[str, Any] = {"labels": given, "runbook": own_value, "label_used": False}
    if number is None:
        note["used"] = own_value
        note["why"] = ("label %s is not a finite number: %s" % (
            shown, "the runbook's own %s is used" % (own_value,) if own is not None
            else "the runbook gives no default, so the condition does not hold"))
        return own_value, note
    if own is None:
        return value, None
    up = (cond.op in (">", ">=")) == harder
    used = max(number, own) if up else min(number, own)
    note["used"] = value if used == number else own_value
    note["label_used"] = used == number
    same, worse, may = (("is at least as strict as", "would loosen", "tighten it") if harder
                        else ("escalates at least as readily as",
                              "would make escalation rarer than", "make escalation likelier"))
    if used == number:
        note["why"] = "label %s %s the runbook's own %s: the label's value is used" % (
            shown, same, own_value)
    else:
        note["why"] = ("label %s %s the runbook's own %s: the runbook's value is used "
                       "(a label may only %s)" % (shown, worse, own_value, may))
    return note["used"], note


def evaluate(cond: Condition, context: Mapping[str, Any], harder: bool = True
             ) -> Tuple[bool, Any]:
    """``(holds, actual value)`` of one condition in ``context`` (``harder``: see
    :func:`threshold_for`)."""
    return _compare(cond, context, harder)[:2]


def _compare(cond: Condition, context: Mapping[str, Any], harder: bool
             ) -> Tuple[bool, Any, Any, Optional[Dict[str, Any]]]:
    if cond.op == "exists":
        present = has_path(context, cond.path)
        return present, (lookup(context, cond.path) if present else None), None, None
    try:
        actual = lookup(context, cond.path)
        expected, note = threshold_for(cond, context, harder)
    except TemplateError:
        return False, None, None, None
    if expected is None and note is not None:  # no usable threshold: never holds
        return False, actual, expected, note
    ok, actual = _holds(cond, actual, expected)
    return ok, actual, expected, note


def _holds(cond: Condition, actual: Any, expected: Any) -> Tuple[bool, Any]:
    try:
        if cond.op == "contains":
            if isinstance(actual, str):
                return str(expected) in actual, actual
            if isinstance(actual, (list, tuple, dict)):
                return expected in actual, actual
            return False, actual
        if cond.op == "matches":
            return re.search(str(expected), _as_text(actual)) is not None, actual
        if cond.op == "==":
            return _eq(actual, expected), actual
        if cond.op == "!=":
            return not _eq(actual, expected), actual
        a, b = _number(actual), _number(expected)
        if cond.op == ">":
            return bool(a > b), actual
        if cond.op == ">=":
            return bool(a >= b), actual
        if cond.op == "<":
            return bool(a < b), actual
        if cond.op == "<=":
            return bool(a <= b), actual
    except (TypeError, re.error):
        return False, actual
    raise ConditionError("unknown operator %r" % (cond.op,))


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        return bool(_number(a) == _number(b))
    return bool(a == b)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_as_text(v) for v in value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def check_all(raw_conditions: Sequence[Any], context: Mapping[str, Any],
              harder: bool = True) -> List[Dict[str, Any]]:
    """Evaluate each raw condition; one report dict per condition (``condition``,
    ``ok``, ``actual``, and ``threshold`` when an alert label set one: see
    :func:`threshold_for`; ``harder=False`` for ``escalate_when`` conditions)."""
    report: List[Dict[str, Any]] = []
    for raw in raw_conditions:
        cond = parse_condition(raw)
        ok, actual, expected, note = _compare(cond, context, harder)
        shown = cond
        if note is not None:
            shown = Condition(cond.path, cond.op, expected)
        elif cond.op != "exists":
            try:
                shown = Condition(cond.path, cond.op, render(cond.value, context))
            except TemplateError:
                pass
        entry = {"condition": shown.describe(), "ok": ok, "actual": _short(actual)}
        if note is not None:
            entry["threshold"] = note
        report.append(entry)
    return report


def _short(value: Any) -> Any:
    """Keep reports small: long lists and strings are summarised."""
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "..."
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        if len(text) > 200:
            return "%s of %d items" % (type(value).__name__, len(value))
    return value
