"""``ccm approve|reject|escalate ID`` refusals on a real SQLite hub: an empty id, and a
decision that does not fit the task's state."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.core.states import TaskState
from tests.unit.cli_support import TO_APPROVAL, hub_call, seed

#: HOME, XDG folders and CCM_* settings isolated (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_env")

EMPTY = ("ccm: error: the task id is empty — give a task id or a unique prefix of one; "
         "`ccm tasks list` shows them\n")


def ccm(url: str, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--hub", url])


@pytest.mark.parametrize("command", [("approve",), ("reject",), ("escalate",),
                                     ("tasks", "show")])
@pytest.mark.parametrize("task_id", ["", "  "])
def test_an_empty_task_id_says_it_is_empty(url: str, command: tuple[str, ...],
                                           task_id: str) -> None:
    """Not "task id '' is ambiguous; give more characters" (every id starts with '')."""
    (task,) = seed(url, [("db-01", "HighMemory", TO_APPROVAL)])
    seed(url, [("db-02", "HighMemory", TO_APPROVAL)])
    result = ccm(url, *command, task_id)
    assert result.exit_code == 1
    assert (result.stdout, result.stderr) == ("", EMPTY)
    assert hub_call(url, "list_approvals", task.id) == []
    assert hub_call(url, "get_task", task.id).state is TaskState.AWAITING_APPROVAL


@pytest.mark.parametrize(("path", "command", "refusal"), [
    ((), "approve", "is new, not awaiting_approval"),
    ((TaskState.ESCALATED,), "escalate", "is already escalated"),
    (TO_APPROVAL, None, "already approved by"),
])
def test_a_refusal_names_the_task_to_check(url: str, path: tuple[TaskState, ...],
                                          command: str | None, refusal: str) -> None:
    (task,) = seed(url, [("web-01", "DiskFull", path)])
    if command is None:  # a second approve
        assert ccm(url, "approve", task.id[:6], "--as", "alice").exit_code == 0
        command = "approve"
    result = ccm(url, command, task.id[:6])  # (a prefix: the hint gives the whole id)
    assert result.exit_code == 1 and result.stdout == ""
    assert refusal in result.stderr
    assert result.stderr.endswith(f"`ccm tasks show {task.id}`\n")
    assert "`ccm tasks show ID`" not in result.stderr
