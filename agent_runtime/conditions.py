"""Conditions on evidence: ``evidence.logs.total_bytes > 1000000``.

A condition is written either as a string ``"<path> <op> <value>"`` (the value is
JSON when it parses as JSON, else the bare text) or as a mapping
``{path: ..., op: ..., value: ...}``.  ``exists`` takes no value.  A value may be
a template (``"{{ evidence.before.count }}"``), rendered against the same context.

Operators: ``> >= < <= == != contains matches exists``.  A path with no value makes
every operator false except that ``exists`` is simply false too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from agent_runtime.template import TemplateError, has_path, lookup, render

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


def evaluate(cond: Condition, context: Mapping[str, Any]) -> Tuple[bool, Any]:
    """``(holds, actual value)`` of one condition in ``context``."""
    if cond.op == "exists":
        present = has_path(context, cond.path)
        return present, (lookup(context, cond.path) if present else None)
    try:
        actual = lookup(context, cond.path)
        expected = render(cond.value, context)
    except TemplateError:
        return False, None
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


def check_all(raw_conditions: Sequence[Any], context: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Evaluate each raw condition; one report dict per condition
    (``condition``, ``ok``, ``actual``)."""
    report: List[Dict[str, Any]] = []
    for raw in raw_conditions:
        cond = parse_condition(raw)
        ok, actual = evaluate(cond, context)
        shown = cond
        if cond.op != "exists":
            try:
                shown = Condition(cond.path, cond.op, render(cond.value, context))
            except TemplateError:
                pass
        report.append({"condition": shown.describe(), "ok": ok, "actual": _short(actual)})
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
