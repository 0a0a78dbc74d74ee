"""``ccm approve|reject|escalate ID``: the one-key decisions of the TUI, from a shell.

Each is stored in the hub with who and when (and in the audit log); the daemon
relays it to the agent working on the task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import print_json, settings, with_hub

if TYPE_CHECKING:
    from ccm_tui.core.model import Approval, Task
    from ccm_tui.hub.base import Hub

TaskIdArg = Annotated[str, typer.Argument(metavar="ID", help="Task id, or a unique prefix.")]
NoteOpt = Annotated[
    str, typer.Option("--note", "-m", metavar="TEXT", help="Why; stored with the decision.")
]
ActorOpt = Annotated[
    str | None,
    typer.Option(
        "--as", metavar="ACTOR",
        help="Record the decision under this name (default: `actor` from the config, "
        "else $USER@hostname).",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the stored approval and the task as JSON.")
]

_DONE = {
    "approve": ("approved", "the agent goes ahead with the proposed fix"),
    "reject": ("rejected", "the fix will not run; the task is cancelled"),
    "escalate": ("escalated", "the task is handed to a human (paged if PagerDuty is set up)"),
}



def _decide(
    ctx: typer.Context, kind: str, task_id: str, note: str, actor: str | None, as_json: bool
) -> None:
    from ccm_tui.commands.tasks import require_task_id
    from ccm_tui.core.errors import IllegalTransition, InvalidDecision

    require_task_id(task_id)
    who = actor or settings(ctx).actor

    async def go(hub: Hub) -> tuple[Approval, Task]:
        task = await hub.get_task(task_id)
        try:
            approval = await hub.decide(task.id, kind, actor=who, note=note)
        except (InvalidDecision, IllegalTransition) as exc:
            # the task is known: point at it, not at a placeholder
            exc.hint = exc.hint or f"check the task's state with `ccm tasks show {task.id}`"
            raise
        return approval, await hub.get_task(task.id)

    approval, task = with_hub(ctx, go)
    if as_json:
        print_json({"approval": approval, "task": task})
        return
    from rich.text import Text

    from ccm_tui.commands._render import console, plain, state_text
    from ccm_tui.core.model import is_endorsable
    from ccm_tui.core.text import printable

    done, effect = _DONE[kind]
    if kind == "approve" and is_endorsable(task):
        runbook = printable(task.runbook)
        done, effect = "endorsed", (
            f"the plan {runbook}'s shadow run would have applied was right; the daemon "
            f"counts it toward taking {runbook} out of shadow mode "
            "(`ccm runbooks stats` shows how many more it needs)")
    elif kind == "reject" and is_endorsable(task):
        runbook = printable(task.runbook)
        done, effect = "rejected", (
            f"the plan {runbook}'s shadow run would have applied was wrong; {runbook} stays "
            "in shadow mode and its endorsements start again from zero")
    console().print(Text.assemble(
        ("✓ ", "green"), f"{done} ", plain(task.id, "bold"), " (", plain(task.host), " · ",
        plain(task.alertname), ") as ", plain(approval.actor), "; now ", state_text(task.state),
        f" — {effect}",
    ))


def _command(kind: str, doc: str) -> Callable[..., None]:
    """One of the three decision commands (they differ only in what they decide)."""

    def command(
        ctx: typer.Context,
        task_id: TaskIdArg,
        note: NoteOpt = "",
        actor: ActorOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        _decide(ctx, kind, task_id, note, actor, as_json)

    command.__name__ = command.__qualname__ = kind
    command.__doc__ = doc
    return command


approve = _command(
    "approve", "Approve the fix a task proposes (the task must be awaiting_approval).\n\n"
    "On a task a shadow-mode runbook escalated, it endorses the plan the dry run shows: "
    "enough endorsements take the runbook out of shadow (see `ccm runbooks stats`).")
reject = _command(
    "reject", "Reject the fix a task proposes; the task is cancelled (must be awaiting_approval).\n\n"
    "On a task a shadow-mode runbook escalated, it says the plan the dry run shows was wrong: "
    "the runbook's endorsements start again from zero.")
escalate = _command(
    "escalate", "Hand a task to a human: stop automatic work on it and page if configured.")


COMMANDS: dict[str, Callable[..., Any]] = {
    "approve": approve,
    "reject": reject,
    "escalate": escalate,
}

__all__ = ["COMMANDS", "approve", "escalate", "reject"]
