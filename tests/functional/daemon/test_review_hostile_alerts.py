"""Hostile alerts through the real pipeline: ingest → hub → daemon → SSH → tmux → agent.

Whoever can post an alert controls its labels and annotations. Each test here posts
one with shell syntax, path tricks or a dangerous unit name, lets the daemon run it on
a simulated host (sandboxed root, stand-in ``systemctl`` logging every call) and checks
that nothing ran or changed outside what the runbook means to touch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from ccm_tui.core.errors import FleetError
from ccm_tui.core.model import Task
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.remote import RemoteAgent
from ccm_tui.hub import Hub
from ccm_tui.ingest.parsers import parsers
from ccm_tui.ingest.pipeline import Ingestor
from tests.functional.daemon.conftest import FleetEnv, full_disk
from tests.unit.agent_runtime.test_builtin_runbooks import FAKE_SYSTEMCTL

DONE = (TaskState.RESOLVED, TaskState.FAILED, TaskState.ESCALATED)


def with_systemctl(env: FleetEnv, host: str, **units: Mapping[str, object]) -> Path:
    """Put a stand-in systemctl on ``host``'s PATH (inventory label ``ccm_path``);
    returns the file its calls are logged to."""
    bindir, unitdir = env.tmp / "bin", env.tmp / "units"
    bindir.mkdir()
    unitdir.mkdir()
    script = bindir / "systemctl"
    script.write_text(FAKE_SYSTEMCTL.replace(
        'units = os.environ["FAKE_UNITS"]', f"units = {str(unitdir)!r}"))
    script.chmod(0o755)
    for name, state in units.items():
        (unitdir / f"{name}.json").write_text(json.dumps(state))
    doc = yaml.safe_load(env.inventory_path.read_text())
    doc["hosts"][host].setdefault("labels", {})["ccm_path"] = str(bindir)
    env.inventory_path.write_text(yaml.safe_dump(doc))
    return unitdir / "calls.log"


async def post(env: FleetEnv, body: dict[str, object]) -> Task:
    report = await Ingestor(env.hub).ingest(parsers()["generic"](body).alerts)
    [task_id] = report.task_ids
    return await env.hub.get_task(task_id)


def restarts(log: Path) -> list[str]:
    return [c for c in (log.read_text().splitlines() if log.exists() else [])
            if c.startswith("restart")]


async def test_service_label_naming_poweroff_target_is_escalated_untouched(
        env: FleetEnv, hub: Hub) -> None:
    calls = with_systemctl(env, "web-01")
    await env.start_daemon()
    task = await post(env, {"name": "ServiceDown", "host": "web-01", "severity": "critical",
                            "labels": {"service": "poweroff.target"}})
    done = await env.wait_state(task.id, *DONE)
    assert done.state is TaskState.ESCALATED, done.outcome
    assert restarts(calls) == []
    finished = [e for e in await hub.list_events(task.id) if e.type == "finished"]
    assert "only .service units are restarted" in json.dumps(finished[0].data)


async def test_shell_syntax_in_labels_and_annotations_runs_nothing(
        env: FleetEnv, hub: Hub) -> None:
    canary = env.tmp / "pwned"
    calls = with_systemctl(env, "web-01", **{"nginx.service": {"active": False}})
    await env.start_daemon()
    hostile = [f"$(touch {canary})", f"`touch {canary}`", f"x'; touch {canary}; '",
               f"x\ntouch {canary}", f'"; touch {canary} #']
    tasks = []
    for i, value in enumerate(hostile):
        tasks.append(await post(env, {
            "name": "ServiceDown", "host": "web-01" if i == 0 else "web-02",
            "severity": "critical", "fingerprint": f"hostile-{i}",
            "labels": {"service": value, "instance": value, "job": value},
            "annotations": {"summary": value, "runbook": value, "description": value}}))
        done = await env.wait_state(tasks[-1].id, *DONE)
        assert done.state is TaskState.ESCALATED, (value, done.outcome)
    assert not canary.exists()
    assert restarts(calls) == []


async def test_mountpoint_label_cannot_move_the_clean_up(env: FleetEnv, hub: Hub) -> None:
    root = full_disk(env.roots["web-01"])
    etc_log = root / "etc" / "app.log.1"
    etc_log.parent.mkdir(parents=True)
    etc_log.write_bytes(b"x" * 2_000_000)
    outside = env.tmp / "outside.log.1"
    outside.write_bytes(b"x" * 10)
    await env.start_daemon()
    task = await env.alert("web-01", mountpoint="/../../../etc")
    done = await env.wait_state(task.id, *DONE)
    assert done.state is TaskState.RESOLVED, done.outcome
    assert etc_log.exists() and outside.exists()
    assert len(list((root / "var/log/app").iterdir())) == 1  # the intended clean-up ran


async def test_runbook_annotation_naming_another_runbook_is_not_followed(
        env: FleetEnv, hub: Hub) -> None:
    full_disk(env.roots["web-01"])
    calls = with_systemctl(env, "web-01", **{"nginx.service": {"active": False}})
    await env.start_daemon()
    task = await post(env, {"name": "DiskFull", "host": "web-01", "severity": "critical",
                            "labels": {"mountpoint": "/", "service": "nginx"},
                            "annotations": {"runbook": "service-down"}})
    done = await env.wait_state(task.id, *DONE)
    assert done.runbook == "disk-full" and done.state is TaskState.RESOLVED, done.outcome
    assert restarts(calls) == []


async def test_hostile_host_name_reaches_no_shell(env: FleetEnv, hub: Hub) -> None:
    canary = env.tmp / "pwned"
    await env.start_daemon()
    task = await env.alert(f"web-01;touch {canary}")
    done = await env.wait_state(task.id, TaskState.ESCALATED)
    assert "not in the inventory" in (done.outcome or "")
    assert not canary.exists()


async def test_line_breaking_and_control_characters_lose_no_event(
        env: FleetEnv, hub: Hub) -> None:
    """U+2028, NEL, CR and escapes in labels travel inside JSON lines over SSH: every
    event of the transcript arrives, in order, with the labels intact."""
    full_disk(env.roots["web-01"])
    await env.start_daemon()
    odd = "a\u2028b\u0085c\rd\x1b[31me\u202ef\u00a0g\ufeffh"
    task = await env.alert("web-01", team=odd, instance=odd)
    done = await env.wait_state(task.id, *DONE)
    assert done.state is TaskState.RESOLVED, done.outcome
    events = await hub.list_events(task.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "started" and events[-1].type == "finished"
    assert events[0].data["alert"]["labels"]["team"] == odd


async def test_a_task_id_that_is_not_a_plain_name_starts_nothing_on_the_host(
        env: FleetEnv) -> None:
    pool = env.pool()
    host = env.inventory.get("web-01")
    try:
        agent = RemoteAgent(pool, host, "../../evil", env.options())
        with pytest.raises(FleetError, match="cannot name a file or tmux session"):
            await agent.start({"task": "../../evil"})
        res = await pool.run(host, ["find", ".", "-name", "evil*"], timeout=30)
    finally:
        await pool.close()
    assert res.ok and res.stdout.strip() == ""
    assert env.tmux_sessions() == []
