"""log_tail and log_grep on real files, including a bounded read of a big one."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_runtime.actions import ActionContext, ActionError, run_action
from agent_runtime.hostroot import HostRoot


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    logs = tmp_path / "var" / "log"
    logs.mkdir(parents=True)
    (logs / "app.log").write_text("".join(
        f"line {i} {'ERROR disk full' if i % 100 == 0 else 'fine'}\n" for i in range(1000)))
    return tmp_path


def test_log_tail(root: Path) -> None:
    ctx = ActionContext(root=HostRoot(str(root)))
    res = run_action("log_tail", {"path": "/var/log/app.log", "lines": 3}, ctx)
    assert res.ok
    assert res.data["lines"] == ["line 997 fine", "line 998 fine", "line 999 fine"]
    assert res.data["count"] == 3 and res.data["truncated"] is True
    whole = run_action("log_tail", {"path": "/var/log/app.log", "lines": 5000}, ctx)
    assert whole.data["count"] == 1000 and whole.data["truncated"] is False


def test_log_grep_newest_matches_and_bounded_scan(root: Path) -> None:
    ctx = ActionContext(root=HostRoot(str(root)))
    res = run_action("log_grep", {"path": "/var/log/app.log", "pattern": "ERROR", "max_matches": 3}, ctx)
    assert res.ok and res.data["total_matches"] == 10
    assert res.data["lines"] == ["line 700 ERROR disk full", "line 800 ERROR disk full",
                                 "line 900 ERROR disk full"]
    assert res.data["truncated"]
    # only the last ~2 KB are read: older matches are not seen
    small = run_action("log_grep", {"path": "/var/log/app.log", "pattern": "ERROR", "max_bytes": 2000}, ctx)
    assert small.data["total_matches"] == 1 and small.data["scanned_bytes"] == 2000
    assert small.data["truncated"]


def test_log_errors(root: Path) -> None:
    ctx = ActionContext(root=HostRoot(str(root)))
    with pytest.raises(ActionError, match="invalid regex"):
        run_action("log_grep", {"path": "/var/log/app.log", "pattern": "("}, ctx)
    with pytest.raises(ActionError, match="is not a file"):
        run_action("log_tail", {"path": "/var/log/missing.log"}, ctx)
