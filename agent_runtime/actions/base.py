"""The types every typed action shares, and the registry they enter.

An action is a plain function ``func(params, ctx) -> ActionResult`` declared with
:func:`action`, which records it (name, read-only flag, parameter types, doc) in
:data:`REGISTRY`. Parameter types are short strings a human or an LLM can read
and :func:`validate_params` enforces::

    "str"                 required string
    "int=10"              integer, default 10 (defaults are JSON)
    "str(files|dirs)=\"files\""   one of the listed values
    "list[str]"           list of strings
    "int?=null"           integer or null, default null

Standard library only, Python >= 3.9.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from agent_runtime.hostroot import HostRoot, PathEscape

__all__ = [
    "REGISTRY",
    "ActionContext",
    "ActionError",
    "ActionFunc",
    "ActionResult",
    "ActionSpec",
    "action",
    "parse_param_type",
    "resolve_path",
    "validate_params",
]


class ActionError(ValueError):
    """Unknown action or bad parameters; the message names the parameter and why."""


@dataclass
class ActionContext:
    """How an action runs: on which root, dry-run or not, with which limits."""

    root: HostRoot = field(default_factory=HostRoot)
    dry_run: bool = False
    on_output: Optional[Callable[[str, str], None]] = None  # (stream, text) for long output
    timeout: float = 30.0
    env: Optional[Dict[str, str]] = None  # extra environment for subprocesses


@dataclass
class ActionResult:
    """The exact outcome of one action; ``data`` holds the action-specific fields."""

    ok: bool
    summary: str
    data: Dict[str, Any]
    changed: bool = False
    dry_run: bool = False
    error: str = ""

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)


ActionFunc = Callable[[Dict[str, Any], ActionContext], ActionResult]


@dataclass(frozen=True)
class ActionSpec:
    """A registered action: its function, whether it changes the host, its params."""

    name: str
    func: ActionFunc
    read_only: bool
    params: Dict[str, str]
    doc: str
    #: Checks the rendered params before a fix is planned (raises :class:`ActionError`),
    #: so a value the action will refuse escalates up front instead of failing midway.
    vet: Optional[Callable[[Dict[str, Any]], None]] = None


#: Every action declared with :func:`action`, by name.
REGISTRY: Dict[str, ActionSpec] = {}

_TYPE_RE = re.compile(
    r"^(?P<type>str|int|float|bool|list\[str\]|list\[int\]|dict)(?P<null>\?)?"
    r"(?:\((?P<choices>[^)]*)\))?(?:=(?P<default>.*))?$"
)
_MISSING = object()


def parse_param_type(decl: str) -> Tuple[str, bool, Optional[List[str]], Any]:
    """``(type, nullable, choices, default)`` of a declaration; default is ``_MISSING`` if required."""
    m = _TYPE_RE.match(decl.strip())
    if m is None:
        raise ValueError(f"bad parameter declaration {decl!r}")
    choices = m.group("choices")
    default: Any = _MISSING
    if m.group("default") is not None:
        default = json.loads(m.group("default"))
    return (m.group("type"), m.group("null") is not None,
            choices.split("|") if choices else None, default)


def action(name: str, *, read_only: bool, params: Dict[str, str],
           vet: Optional[Callable[[Dict[str, Any]], None]] = None,
           ) -> Callable[[ActionFunc], ActionFunc]:
    """Register ``func`` as action *name*; its docstring becomes the spec's doc.

    *vet*, when given, checks rendered params at planning time (see :attr:`ActionSpec.vet`).
    """
    for decl in params.values():
        parse_param_type(decl)

    def register(func: ActionFunc) -> ActionFunc:
        if name in REGISTRY:
            raise ValueError(f"action {name!r} registered twice")
        doc = (func.__doc__ or "").strip()
        REGISTRY[name] = ActionSpec(name, func, read_only, dict(params), doc, vet)
        return func

    return register


def _coerce(name: str, kind: str, value: Any) -> Any:
    """Check *value* against *kind*; canonical strings ("10", "true") are converted."""
    if kind == "str":
        if isinstance(value, str):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
    elif kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif kind in ("list[str]", "list[int]"):
        if isinstance(value, (list, tuple)):
            inner = kind[5:-1]
            return [_coerce(f"{name}[{i}]", inner, v) for i, v in enumerate(value)]
    elif kind == "dict" and isinstance(value, dict):
        return dict(value)
    raise ActionError(f"param {name!r}: expected {kind}, got {type(value).__name__} {value!r:.60}")


def validate_params(spec: ActionSpec, params: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The params with types checked and defaults filled; raises :class:`ActionError`."""
    given = dict(params or {})
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        raise ActionError(
            f"action {spec.name!r}: unknown param(s) {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(spec.params) or 'none'}"
        )
    out: Dict[str, Any] = {}
    for pname, decl in spec.params.items():
        kind, nullable, choices, default = parse_param_type(decl)
        if pname not in given:
            if default is _MISSING:
                raise ActionError(f"action {spec.name!r}: param {pname!r} is required ({decl})")
            out[pname] = default
            continue
        value = given[pname]
        if value is None:
            if not nullable:
                raise ActionError(f"action {spec.name!r}: param {pname!r} must not be null")
            out[pname] = None
            continue
        value = _coerce(pname, kind, value)
        if choices is not None and str(value) not in choices:
            raise ActionError(
                f"action {spec.name!r}: param {pname!r} must be one of {'|'.join(choices)}, got {value!r}"
            )
        out[pname] = value
    return out


def resolve_path(ctx: ActionContext, params: Dict[str, Any], key: str) -> str:
    """Resolve host-path param *key* under ``ctx.root``; an escape is an :class:`ActionError`."""
    try:
        return ctx.root.resolve(str(params[key]))
    except PathEscape as exc:
        raise ActionError(f"param {key!r}: {exc}") from exc


def require(cond: bool, message: str) -> None:
    """Raise :class:`ActionError` with *message* unless *cond*."""
    if not cond:
        raise ActionError(message)
