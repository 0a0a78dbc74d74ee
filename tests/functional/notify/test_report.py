"""``ccm report`` on a hub filled by replaying a trace and by tasks finished through the
hub API: every figure matches a hand count (MTTR median and p90 exactly)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ccm_tui.core.model import CLEARED_AFTER_ESCALATION, HealthSnapshot, Host, Severity
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub
from ccm_tui.hub.base import Hub, TaskQuery
from ccm_tui.ingest.replay import replay
from ccm_tui.ingest.trace import TraceWriter, parse_trace
from ccm_tui.notify.hooks import on_task_escalated
from ccm_tui.notify.report import build_report, p90
from tests.fakes.fake_pagerduty import FakePagerDuty
from tests.functional.notify.conftest import FIX_PATH, make_task, notify_settings, run_worker

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=3)


def soon() -> datetime:
    """A window's end just after now: tasks made without a time are made now, which in a
    long test run is well after NOW (taken when this module was collected)."""
    return datetime.now(UTC) + timedelta(minutes=5)


def am(alertname: str, host: str, fp: str, severity: str) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": [{
        "status": "firing", "fingerprint": fp, "annotations": {},
        "labels": {"alertname": alertname, "instance": f"{host}:9100", "severity": severity},
        "startsAt": T0.isoformat(), "endsAt": "0001-01-01T00:00:00Z"}]}


def trace() -> str:
    out = io.StringIO()
    w = TraceWriter(out)
    w.inventory(T0, [Host("web-01", groups=("web",)), Host("web-02", groups=("web",)),
                     Host("db-01", groups=("db",))])
    w.write(T0, "alertmanager", body=am("DiskFull", "web-01", "a", "critical"))       # task
    w.write(T0 + timedelta(minutes=5), "alertmanager",
            body=am("DiskFull", "web-01", "a", "critical"))                           # repeat
    w.write(T0 + timedelta(minutes=6), "alertmanager", body=am("HighLoad", "db-01", "b", "warning"))
    w.write(T0 + timedelta(minutes=7), "alertmanager", body=am("HTTPDown", "web-02", "c", "critical"))
    w.write(T0 + timedelta(minutes=8), "alertmanager", body=am("NTPSkew", "web-02", "d", "warning"))
    w.write(T0 + timedelta(minutes=9), "alertmanager", body=am("BackupFailed", "db-01", "e", "critical"))
    return out.getvalue()


async def _walk(hub: Hub, task_id: str, path: tuple[TaskState, ...], seconds: float,
                **fields: Any) -> None:
    task = await hub.get_task(task_id)
    if fields:
        task = await hub.update_task(task.id, task.version, **fields)
    for i, state in enumerate(path):
        extra = {"finished_at": task.created_at + timedelta(seconds=seconds)} \
            if i == len(path) - 1 else {}
        await hub.transition(task_id, state, **extra)


async def fill(hub: Hub, fake_pd: FakePagerDuty) -> None:
    await replay(hub, parse_trace(trace().splitlines(), "t"), trace="t")
    ids = {t.alertname: t.id for t in await hub.list_tasks(TaskQuery())}
    assert len(ids) == 5
    await _walk(hub, ids["DiskFull"], FIX_PATH, 120, runbook="disk-cleanup")
    await _walk(hub, ids["HighLoad"], FIX_PATH, 300, runbook="high-load")
    await _walk(hub, ids["HTTPDown"], (*FIX_PATH[:2], TaskState.AWAITING_APPROVAL), 0,
                runbook="service-restart")
    await hub.decide(ids["HTTPDown"], "approve", actor="jordan")
    await _walk(hub, ids["HTTPDown"], (TaskState.REMEDIATING, TaskState.VERIFYING,
                                       TaskState.RESOLVED), 600)
    await _walk(hub, ids["NTPSkew"], (*FIX_PATH[:2], TaskState.AWAITING_APPROVAL), 0)
    await _walk(hub, ids["BackupFailed"], (*FIX_PATH[:2], TaskState.ESCALATED), 0)
    # Tasks finished through the hub API directly.
    for host, secs in (("web-01", 60), ("web-02", 180), ("db-01", 240), ("web-01", 900)):
        await make_task(hub, host, f"Disk{secs}", path=FIX_PATH, created_at=NOW - timedelta(
            minutes=30), finish_after=secs, runbook="disk-cleanup")
    await make_task(hub, "web-02", "Crash", path=FIX_PATH, created_at=NOW - timedelta(
        minutes=20), finish_after=30, runbook="service-restart")
    await make_task(hub, "db-01", "Vacuum", path=(*FIX_PATH[:2], TaskState.FAILED),
                    severity=Severity.WARNING, runbook="pg-vacuum")
    # One page sent, for the escalated backup.
    s = notify_settings(fake_pd)
    await on_task_escalated(hub, await hub.get_task(ids["BackupFailed"]), settings=s)
    await run_worker(hub, s)
    # Runbook track records, a promotion, and a disk filling at 10 %/h.
    await hub.record_runbook_outcome("disk-cleanup", "web", success=True)
    await hub.record_runbook_outcome("disk-cleanup", "web", success=False)
    await hub.audit("daemon d1", "runbook.promote", "disk-cleanup@web",
                    {"from": "suggest", "to": "auto"})
    for h, pct in ((2, 70.0), (1, 80.0), (0, 90.0)):
        await hub.record_health(HealthSnapshot("web-01", NOW - timedelta(hours=h), disk_pct=pct))


async def test_an_escalation_cleared_upstream_is_not_a_fix(tmp_path: Path) -> None:
    async with open_hub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        await make_task(hub, "web-01", "DiskFull", path=FIX_PATH, finish_after=60,
                        runbook="disk-cleanup", created_at=NOW - timedelta(minutes=30))
        esc = await make_task(hub, "web-02", "HTTPDown", created_at=NOW - timedelta(minutes=20),
                              path=(TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.ESCALATED))
        await hub.transition(esc.id, TaskState.RESOLVED, outcome=CLEARED_AFTER_ESCALATION,
                             finished_at=NOW - timedelta(minutes=10))
        r = await build_report(hub, since=NOW - timedelta(hours=1),
                               until=soon())
    assert [t.alertname for t in r.fixed_automatically] == ["DiskFull"]
    assert r.closed_upstream == 1 and r.escalated == []
    assert [(m.runbook, m.fixed) for m in r.mttr] == [("disk-cleanup", 1)]  # no "(none)" row


async def test_silences_in_force_and_alerts_held_back(tmp_path: Path) -> None:
    """The morning report shows what silences held back overnight and which are still on:
    a silence forgotten after a deploy hides real incidents."""
    from ccm_tui.commands.report import as_markdown
    from ccm_tui.core import Silence, parse_matcher
    from ccm_tui.notify.digest import digest_figures

    async with open_hub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        await hub.upsert_hosts([Host("web-01"), Host("db-01")])
        await hub.add_silence(Silence((parse_matcher("host=web-01"),), T0, NOW + timedelta(days=2),
                                      "deploy", "jordan"))
        await hub.add_silence(Silence((parse_matcher("host=db-01"),), T0,  # over by now
                                      T0 + timedelta(minutes=30), "vacuum", "sam"))
        out = io.StringIO()
        w = TraceWriter(out)
        w.write(T0 + timedelta(minutes=1), "alertmanager", body=am("DiskFull", "web-01", "a",
                                                                   "critical"))
        w.write(T0 + timedelta(minutes=40), "alertmanager", body=am("Load", "db-01", "b",
                                                                    "warning"))  # after it
        await replay(hub, parse_trace(out.getvalue().splitlines(), "t"), trace="t")
        r = await build_report(hub, since=NOW - timedelta(hours=12),
                               until=soon())
    assert (r.alerts_received, r.alerts_silenced, r.alerts_flapping) == (2, 1, 0)
    [on] = r.silences
    assert (on.matchers, on.reason, on.created_by) == ("host=web-01", "deploy", "jordan")
    md = as_markdown(r)
    assert "**Held back**: 1 silenced, 0 flapping." in md
    from ccm_tui.commands.report import to_data

    data = to_data(r)  # the names `ccm silence list --json` and `ccm tasks --json` use
    assert [s["matchers"] for s in data["silences"]] == [["host=web-01"]]
    assert set(data["noisy_alerts"][0]) == {"alertname", "host", "count"}
    assert "- `host=web-01` until " in md and "— deploy (jordan)" in md
    _, notes = digest_figures(r)
    assert any(n.startswith("silence in force: host=web-01 until ") for n in notes)


def test_p90_is_nearest_rank() -> None:
    assert p90([30, 60, 120, 180, 240, 300, 600, 900]) == 900   # ceil(7.2) = 8th
    assert p90(list(range(1, 11))) == 9 and p90([5]) == 5


async def test_report_figures_match_the_hand_count(tmp_path: Path,
                                                   fake_pd: FakePagerDuty) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = open_hub(url)
    async with hub:
        await fill(hub, fake_pd)
        r = await build_report(hub, since=NOW - timedelta(hours=12),
                               until=soon())
    assert r.tasks == 11
    assert sorted(t.alertname for t in r.fixed_automatically) == \
        ["Crash", "Disk180", "Disk240", "Disk60", "Disk900", "DiskFull", "HighLoad"]
    assert [t.alertname for t in r.fixed_with_approval] == ["HTTPDown"]
    assert [t.alertname for t in r.waiting] == ["NTPSkew"]
    assert [t.alertname for t in r.escalated] == ["BackupFailed"]
    assert [t.alertname for t in r.failed] == ["Vacuum"]
    # disk-cleanup: 60 120 180 240 900 → median 180, p90 = 5th of 5 = 900
    # service-restart: 30 600 → median 315, p90 = 2nd = 600; high-load: 300
    assert [(m.runbook, m.fixed, m.median_seconds, m.p90_seconds) for m in r.mttr] == [
        ("disk-cleanup", 5, 180.0, 900.0), ("high-load", 1, 300.0, 300.0),
        ("service-restart", 2, 315.0, 600.0)]
    # all 8: 30 60 120 180 240 300 600 900 → median (180+240)/2 = 210, p90 = 8th = 900
    assert (r.mttr_median_seconds, r.mttr_p90_seconds) == (210.0, 900.0)
    # 5 firing episodes (the repeat counts once); a, c, e are critical.
    assert (r.alerts_received, r.pages_without_ccm, r.pages_sent, r.pages_avoided) == (5, 3, 1, 2)
    assert (r.noisy_alerts[0].name, r.noisy_alerts[0].host, r.noisy_alerts[0].count) == \
        ("DiskFull", "web-01", 2)
    assert [(h.name, h.count) for h in r.busiest_hosts] == [("db-01", 4), ("web-02", 4),
                                                            ("web-01", 3)]
    [d] = r.disk_forecasts
    assert (d.host, d.disk_pct, d.pct_per_hour, d.hours_to_full) == ("web-01", 90.0, 10.0, 1.0)
    [rate] = r.runbooks
    assert (rate.runbook, rate.successes, rate.failures) == ("disk-cleanup", 1, 1)
    assert [(c.runbook, c.change, c.to_mode) for c in r.mode_changes] == \
        [("disk-cleanup@web", "promote", "auto")]

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "CCM_DEBUG": "1"}

    def ccm(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "ccm_tui", "report", "--hub", url, *args],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    data = json.loads(ccm("--json"))
    assert (data["fixed"], data["pages_avoided"], data["mttr_p90_seconds"]) == (8, 2, 900.0)
    assert data["busiest_hosts"][0] == {"host": "db-01", "count": 4}
    assert data["noisy_alerts"][0] == {"alertname": "DiskFull", "host": "web-01", "count": 2}
    assert len(data["waiting"]) == 1 and data["escalated"][0]["alertname"] == "BackupFailed"
    md = ccm("--markdown")
    assert "| disk-cleanup | 5 | 3m | 15m |" in md and "**2 avoided**" in md
    assert "- web-01: 90% now, 10.0%/h, full in ~1h" in md
    text = ccm("--since", "12h")
    assert "pages avoided" in text and "disk-cleanup" in text
    assert any(line.split() == ["web-01", "90%", "10.0%/h", "1h"] for line in text.splitlines())


async def test_a_critical_alert_nobody_handled_is_pending_not_avoided(tmp_path: Path) -> None:
    from ccm_tui.commands.report import as_markdown

    async with open_hub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        out = io.StringIO()
        w = TraceWriter(out)
        w.inventory(T0, [Host("web-01"), Host("db-01")])
        w.write(T0, "alertmanager", body=am("DiskFull", "web-01", "a", "critical"))
        w.write(T0, "alertmanager", body=am("ReplicationLag", "db-01", "b", "critical"))
        await replay(hub, parse_trace(out.getvalue().splitlines(), "t"), trace="t")
        tasks = {t.alertname: t.id for t in await hub.list_tasks(TaskQuery())}
        await _walk(hub, tasks["DiskFull"], FIX_PATH, 60, runbook="disk-cleanup")
        r = await build_report(hub, since=NOW - timedelta(hours=12),
                               until=soon())
    assert (r.pages_without_ccm, r.pages_sent, r.pages_avoided, r.pages_pending) == (2, 0, 1, 1)
    assert "**1 avoided** (1 still open: they may page)." in as_markdown(r)
