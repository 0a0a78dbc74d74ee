"""``ccm pause``/``resume``/``status`` as an on-call engineer meets them: a mistyped hub
path, and open tasks that no daemon is working on."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from ccm_tui.commands.control import unheld_tasks
from ccm_tui.core.model import Task, new_task_id, utcnow
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub
from tests.unit.cli_support import ccm, hub_call, one_line, seed

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_pausing_a_hub_that_does_not_exist_is_an_error_and_makes_no_hub(
        tmp_path: Path, url: str) -> None:
    seed(url, [("web-01", "DiskFull", ())])  # the hub the daemons use
    typo = tmp_path / "hub-typo.db"
    result = ccm("--hub", f"sqlite:///{typo}", "pause", "--reason", "deploy")
    assert result.exit_code == 1
    assert f"there is no hub at {typo} (from --hub)" in one_line(result.stderr)
    assert not typo.exists()
    assert hub_call(url, "get_control").paused is False  # the real hub: untouched

    ok = ccm("--hub", url, "pause", "--json")
    assert ok.exit_code == 0 and ok.stderr == "" and json.loads(ok.stdout)["paused"] is True


def test_status_of_a_hub_that_does_not_exist_says_so(tmp_path: Path) -> None:
    typo = tmp_path / "nothere" / "hub.db"
    result = ccm("--hub", f"sqlite:///{typo}", "status", "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert f"there is no hub at {typo}" in one_line(result.stderr)
    assert not typo.parent.exists()


def test_status_names_open_tasks_no_daemon_holds(url: str) -> None:
    now = utcnow()

    async def go() -> tuple[str, str]:
        async with open_hub(url) as hub:
            old = await hub.create_task(Task(id=new_task_id(), host="web-01",
                                             alertname="DiskFull",
                                             created_at=now - timedelta(minutes=5)))
            fresh = await hub.create_task(Task(id=new_task_id(), host="web-02",
                                               alertname="DiskFull"))
            return old.id, fresh.id

    old, fresh = asyncio.run(go())
    data = json.loads(ccm("--hub", url, "status", "--json").stdout)
    assert data["unheld"]["count"] == 1 and data["unheld"]["tasks"] == [old]
    assert 290 <= data["unheld"]["oldest_seconds"] <= 400
    human = ccm("--hub", url, "status").stdout
    assert f"1 open task held by no daemon ({old}; the oldest 5m" in human
    assert "`ccm up` or `ccm daemon` runs against this hub" in human
    assert fresh not in human


def test_unheld_tasks_reads_leases_and_the_one_task_per_host_rule() -> None:
    now = utcnow()
    long_ago = now - timedelta(minutes=10)

    def task(host: str, state: TaskState, **kw: object) -> Task:
        return Task(id=new_task_id(), host=host, alertname=f"A{state.value}", state=state,
                    created_at=long_ago, updated_at=long_ago, **kw)  # type: ignore[arg-type]

    running = task("web-01", TaskState.DIAGNOSING, lease_owner="d1",
                   lease_expires_at=now + timedelta(seconds=20))
    queued = task("web-01", TaskState.NEW)  # waits for web-01's running task: normal
    orphan = task("web-02", TaskState.NEW)
    released = task("web-03", TaskState.AWAITING_APPROVAL)  # a stopped daemon handed it back
    expired = task("web-04", TaskState.REMEDIATING, lease_owner="dead",
                   lease_expires_at=now - timedelta(minutes=2))
    lately = task("web-05", TaskState.VERIFYING, lease_owner="dead",
                  lease_expires_at=now - timedelta(seconds=5))  # another daemon takes it soon
    done = task("web-06", TaskState.RESOLVED)
    found = unheld_tasks([running, queued, orphan, released, expired, lately, done], now)
    assert {t.id for t in found} == {orphan.id, released.id, expired.id}
