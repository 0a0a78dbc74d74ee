"""The approval bar: what exactly will run, and why, for a task awaiting approval.

Shown under the panes while the selected task is ``awaiting_approval``: the exact
action on the host, the risk, the confidence with its inputs and reasons, and the
dry-run output; then the keys (``a`` approve, ``r`` reject, ``e`` escalate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ccm_tui.core.model import Task
from ccm_tui.core.states import TaskState
from ccm_tui.core.text import printable
from ccm_tui.rendering.transcript import action_line, decision_inputs

MAX_LINES = 3


def _steps(plans: Any) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for plan in plans or ():
        if isinstance(plan, Mapping):
            out.extend(s for s in plan.get("steps", ()) if isinstance(s, Mapping))
    return out


def approval_text(task: Task, request: Mapping[str, Any] | None, decided: str,
                  compact: bool = False) -> Text:
    """The bar's content for ``task`` given its ``approval_requested`` data, if loaded.

    ``compact`` (small terminals) keeps the header, the first action and the keys.
    """
    req = dict(request or {})
    decision = task.decision.to_dict() if task.decision else {}
    inputs = {**decision, **{k: v for k, v in req.items() if k in {"confidence", "risk"}}}
    conf = inputs.get("confidence", task.confidence)
    risk = inputs.get("risk", task.risk or "?")
    t = Text()
    t.append(" ⚑ APPROVAL ", style="bold reverse")
    what = req.get("title") or task.runbook or task.alertname
    t.append(f" {printable(task.id)} on {printable(task.host)} · {printable(what)}", style="bold")
    t.append(f" · risk {printable(risk)} · confidence ")
    t.append(f"{conf:.2f}" if isinstance(conf, int | float) else "?", style="bold")
    if "evidence_match" in inputs and not compact:
        t.append(f" ({decision_inputs(inputs)})", style="dim")
    steps = _steps(req.get("actions"))
    shown = 1 if compact else MAX_LINES
    for step in steps[:shown]:
        t.append("\n  $ ", style="bold")
        t.append(printable(action_line(step)))
    if len(steps) > shown:
        t.append(f"\n  … and {len(steps) - shown} more steps", style="dim")
    if not steps:
        t.append("\n  (waiting for the agent's approval request…)", style="dim")
    reasons = req.get("reasons") or inputs.get("reasons") or ()
    if reasons and not compact:
        t.append("\n  why: ", style="bold")
        t.append(printable("; ".join(str(r) for r in reasons)))
    dry = [s for p in req.get("dry_run") or () if isinstance(p, Mapping)
           for s in p.get("steps", ()) if isinstance(s, Mapping)]
    if dry and not compact:
        t.append("\n  dry run: ", style="bold")
        t.append(printable("; ".join(f"{'✓' if s.get('ok') else '✗'} {s.get('action')}: "
                                     f"{s.get('summary') or s.get('error') or ''}"
                                     for s in dry[:MAX_LINES])))
    t.append("\n  ")
    if decided:
        t.append(printable(decided), style="bold")
        t.append(" · ")
    for key, label in (("a", "approve"), ("r", "reject"), ("e", "escalate"), ("t", "jump in")):
        t.append(f"[{key}]", style="bold reverse")
        t.append(f" {label}  ")
    return t


class ApprovalBar(Static):
    """One-key decisions for the selected task; hidden unless it awaits approval."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.shown: Task | None = None
        self.compact = False
        self.display = False

    def show_task(self, task: Task | None, request: Mapping[str, Any] | None,
                  decided: str = "") -> None:
        """Show the bar for ``task`` if it awaits approval, else hide it."""
        self.shown = task
        visible = task is not None and task.state is TaskState.AWAITING_APPROVAL
        self.display = visible
        if visible and task is not None:
            self.update(approval_text(task, request, decided, self.compact))
