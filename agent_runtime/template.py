"""Value substitution for runbook parameters: ``{{ alert.labels.NAME }}``.

A template is resolved against a *context* dict (``alert``, ``evidence``,
``result``, ...) by a dotted path; list items are addressed by index
(``evidence.top.processes.0.unit``).  Substitution is by value, never by text
pasted into a shell:

* a string that is exactly one template becomes the value itself (a number, a
  list, a dict, or a string kept whole, spaces and quotes included);
* a template inside a longer string is replaced by the value's text;
* ``{{ path | default(JSON) }}`` gives a fallback when the path is missing.

Nothing is evaluated: there are no expressions, only paths.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Tuple

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")
_DEFAULT = re.compile(r"^default\((.*)\)$", re.DOTALL)
_MISSING = object()


class TemplateError(ValueError):
    """A template that does not parse, or names a path with no value."""


def parse_expression(expr: str) -> Tuple[str, Any]:
    """Split ``path | default(x)`` into ``(path, default)``; default is a sentinel
    when absent.  Raises :class:`TemplateError` on bad syntax."""
    path, _, rest = expr.partition("|")
    path = path.strip()
    if not _PATH.match(path):
        raise TemplateError("bad template path %r" % (path,))
    if not rest:
        return path, _MISSING
    m = _DEFAULT.match(rest.strip())
    if not m:
        raise TemplateError("unknown template filter %r (only default(...))" % (rest.strip(),))
    raw = m.group(1).strip()
    try:
        return path, json.loads(raw)
    except ValueError:
        raise TemplateError("default(...) needs a JSON value, got %r" % (raw,)) from None


def lookup(context: Mapping[str, Any], path: str, default: Any = _MISSING) -> Any:
    """The value at dotted ``path`` in ``context``; :class:`TemplateError` when
    missing and no default is given."""
    node: Any = context
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and _is_index(part) and int(part) < len(node):
            node = node[int(part)]
        else:
            if default is not _MISSING:
                return default
            raise TemplateError("no value at %r (missing %r)" % (path, part))
    return node


def _is_index(part: str) -> bool:
    return part.isdigit()


def has_path(context: Mapping[str, Any], path: str) -> bool:
    """True when ``path`` names a value in ``context``."""
    try:
        lookup(context, path)
    except TemplateError:
        return False
    return True


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def render_string(text: str, context: Mapping[str, Any]) -> Any:
    """Render one string: a lone template yields the value, else text."""
    whole = _TEMPLATE.fullmatch(text.strip()) if text.strip() == text else None
    if whole:
        path, default = parse_expression(whole.group(1))
        return lookup(context, path, default)

    def repl(m: "re.Match[str]") -> str:
        path, default = parse_expression(m.group(1))
        return _text(lookup(context, path, default))

    return _TEMPLATE.sub(repl, text)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside ``value`` (dicts and lists recursively)."""
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def template_paths(value: Any) -> List[str]:
    """Every path referenced by templates inside ``value`` (for validation)."""
    found: List[str] = []
    if isinstance(value, str):
        for m in _TEMPLATE.finditer(value):
            found.append(parse_expression(m.group(1))[0])
    elif isinstance(value, dict):
        for v in value.values():
            found.extend(template_paths(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(template_paths(v))
    return found


def make_context(alert: Mapping[str, Any], evidence: Mapping[str, Any],
                 **extra: Any) -> Dict[str, Any]:
    """The standard template context: ``alert``, ``evidence`` and extras."""
    ctx: Dict[str, Any] = {"alert": dict(alert), "evidence": dict(evidence)}
    ctx.update(extra)
    return ctx
