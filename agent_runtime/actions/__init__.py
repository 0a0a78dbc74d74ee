"""Typed actions: the only way the agent looks at or changes a host.

Each action is registered in :data:`ACTIONS` with its parameter types, whether
it is read-only, and its doc. :func:`run_action` is the single entry point::

    from agent_runtime.actions import ACTIONS, ActionContext, run_action
    result = run_action("disk_usage", {"path": "/var"}, ActionContext())
    result.ok, result.summary, result.data

Contract of :func:`run_action`:

* an unknown action or bad params (wrong type, missing, unknown key, a path
  escaping the host root) raise :class:`ActionError` with a message naming the
  param and why;
* an operational failure never raises: it returns ``ok=False`` and ``error``;
* read-only actions ignore ``ctx.dry_run``; changing actions in dry-run report
  exactly what they would do (same ``data`` shape) with ``changed=False`` and
  ``dry_run=True``;
* for checks (``http_check``, ``tcp_check``) ``ok`` is whether the check passed.

Standard library only, Python >= 3.9.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from agent_runtime.actions import (  # noqa: F401 - imported to register their actions
    disk,
    files,
    logrotate,
    logs,
    network,
    packages,
    processes,
    services,
    shell,
    tls,
)
from agent_runtime.actions.base import (
    REGISTRY,
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    validate_params,
)
from agent_runtime.hostroot import HostRoot, PathEscape

__all__ = [
    "ACTIONS",
    "ActionContext",
    "ActionError",
    "ActionResult",
    "ActionSpec",
    "HostRoot",
    "PathEscape",
    "describe",
    "run_action",
]

#: Every typed action, by name.
ACTIONS: Dict[str, ActionSpec] = REGISTRY


def run_action(name: str, params: Optional[Dict[str, Any]], ctx: ActionContext) -> ActionResult:
    """Validate *params* and run action *name* in *ctx* (see the module doc for the contract)."""
    spec = ACTIONS.get(name)
    if spec is None:
        raise ActionError(f"unknown action {name!r}; known: {', '.join(sorted(ACTIONS))}")
    clean = validate_params(spec, params)
    try:
        result = spec.func(clean, ctx)
    except ActionError:
        raise
    except PathEscape as exc:
        raise ActionError(f"action {name!r}: {exc}") from exc
    except Exception as exc:
        result = ActionResult(
            ok=False, summary=f"{name} failed: {exc}", data={},
            error=f"{type(exc).__name__}: {exc}",
        )
    if spec.read_only:
        result.dry_run = False
        result.changed = False
    elif ctx.dry_run:
        result.dry_run = True
        result.changed = False
    if not result.ok and not result.error:
        result.error = result.summary
    return result


def describe() -> Dict[str, Dict[str, Any]]:
    """Every action's params, read-only flag and doc, JSON-ready (for tools and docs)."""
    return {
        n: {"read_only": s.read_only, "params": dict(s.params), "doc": s.doc}
        for n, s in sorted(ACTIONS.items())
    }
