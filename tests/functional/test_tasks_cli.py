"""``ccm tasks list`` on a real SQLite hub: what an empty result says, and a table that
keeps ids and alert names readable next to a long host name."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.core.states import TaskState
from tests.unit.cli_support import TO_APPROVAL, seed

#: HOME, XDG folders and CCM_* settings isolated (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_env")

LONG_HOST = "very-long-hostname-in-a-datacenter-fra1.prod.example.internal"
EMPTY = "no tasks — alerts become tasks once `ccm webhook` or `ccm up` receives them\n"


def tasks(url: str, *args: str, columns: int = 200) -> Any:
    result = CliRunner().invoke(app, ["tasks", "list", "--hub", url, *args],
                                env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result


def test_a_filter_that_matches_nothing_is_named(url: str) -> None:
    seed(url, [("web-01", "DiskFull", ()), ("db-01", "HighMemory", (TaskState.ESCALATED,))])
    assert tasks(url, "--host", "nosuch").stdout == "no tasks match --host nosuch\n"
    assert tasks(url, "--alert", "Disk Full", "--state", "new").stdout == \
        "no tasks match --state new --alert 'Disk Full'\n"
    # `--open --state escalated` can match nothing whatever the hub holds
    assert tasks(url, "--open", "--state", "escalated").stdout == \
        "no tasks match --state escalated --open\n"
    assert tasks(url, "--host", "web-01").stdout.count("web-01") == 2  # (row and summary)


def test_an_empty_hub_says_how_tasks_come(url: str) -> None:
    assert tasks(url).stdout == EMPTY
    assert tasks(url, "--host", "nosuch").stdout == EMPTY  # no task at all: not the filter
    assert tasks(url, "--host", "nosuch", "--json").stdout == "[]\n"


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_a_long_host_name_gives_way_before_the_alert_name(url: str, columns: int) -> None:
    made = seed(url, [(LONG_HOST, "DiskFull", ()),
                      ("web-01", "HighMemoryUsageCritical", TO_APPROVAL)])
    out = tasks(url, columns=columns).stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "STATE", "HOST", "ALERT"], out
    assert all(len(line.rstrip()) <= columns for line in lines), out
    for task in made:
        row = next(line for line in lines if line.startswith(task.id))
        # whole, or at 80 columns (the summary gone, one space between) 20 characters of it
        assert f" {task.alertname} " in row or (
            columns == 80 and f" {task.alertname[:20]}" in row), out
        assert task.state.value in row, out
    long_row = next(line for line in lines if line.startswith(made[0].id))
    # the host name is ellipsised (to 5 characters at least), not dropped
    assert any(f" {LONG_HOST[:n]}…" in long_row for n in range(5, len(LONG_HOST))), out
