"""``ccm ingest replay``: a hand-counted trace, the shipped night, and the trace format."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.core import Host
from ccm_tui.hub import Hub
from ccm_tui.ingest.replay import replay
from ccm_tui.ingest.trace import TraceError, TraceWriter, parse_trace

ROOT = Path(__file__).resolve().parents[3]
OVERNIGHT = ROOT / "bench" / "traces" / "overnight.jsonl"
T = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


def am(alertname: str, host: str, fp: str, starts: int, *, status: str = "firing",
       severity: str = "critical", **labels: str) -> dict[str, Any]:
    alert = {"status": status, "fingerprint": fp,
             "labels": {"alertname": alertname, "instance": f"{host}:9100",
                        "severity": severity, **labels},
             "annotations": {}, "startsAt": at(starts).isoformat(),
             "endsAt": "0001-01-01T00:00:00Z"}
    return {"version": "4", "status": status, "alerts": [alert]}


def small_trace() -> str:
    """16 requests whose fate is counted by hand in the comments."""
    out = io.StringIO()
    w = TraceWriter(out)
    w.inventory(at(0), [Host("web-01", groups=("web",)), Host("web-02", groups=("web",)),
                        Host("db-01", groups=("db",))])
    w.write(at(0), "alertmanager", body=am("DiskFull", "web-01", "a", 0))     # created, page
    w.write(at(5), "alertmanager", body=am("DiskFull", "web-01", "a", 0))     # duplicate
    w.write(at(6), "alertmanager",                                          # attached, page
            body=am("DiskFull", "web-01", "b", 6, mountpoint="/var"))
    w.write(at(7), "generic", body={                                        # created unmanaged,
        "name": "BackupFailed", "host": "legacy-01", "severity": "critical",  # page with CCM too
        "starts_at": at(7).isoformat(), "fingerprint": "bk"})
    w.silence(at(8), ["host=~web-.*"], "1h", "deploy")
    w.write(at(9), "alertmanager", body=am("HTTPDown", "web-02", "c", 9))     # silenced, page
    w.write(at(10), "alertmanager",                                         # resolved, no task
            body=am("HTTPDown", "web-02", "c", 9, status="resolved"))
    for start in (11, 15, 19, 23):  # three tasks closed upstream, then held as flapping
        w.write(at(start), "alertmanager",
                body=am("HighLoad", "db-01", "d", start, severity="warning"))
        w.write(at(start + 2), "alertmanager",
                body=am("HighLoad", "db-01", "d", start, severity="warning", status="resolved"))
    w.write(at(26), "generic", raw="alertname=DiskFull host=web-01")        # rejected: json
    mixed = am("DiskFull", "web-01", "a", 0)                                # duplicate, and
    mixed["alerts"].append({"status": "firing", "labels": {"instance": "web-01"}})  # a bad alert
    mixed["truncatedAlerts"] = 3                                  # and 3 the sender left out
    w.write(at(27), "alertmanager", body=mixed)
    w.write(at(28), "alertmanager", body={"version": "4", "status": "firing",  # refused whole
                                          "alerts": [{"labels": {}}]})
    return out.getvalue()


async def test_replay_figures_match_the_hand_count(hub: Hub) -> None:
    s = await replay(hub, parse_trace(small_trace().splitlines(), "small"), trace="small")
    assert (s.requests, s.hosts_registered, s.silences_added) == (17, 3, 1)
    assert s.alerts_received == 15
    assert s.received_by_source == {"alertmanager": 14, "generic": 1}
    assert s.received_by_status == {"firing": 10, "resolved": 5}
    # a request refused whole counts once, not also per alert (as the receiver counts)
    assert s.rejected_requests == {"json": 1, "invalid_alerts": 1}
    assert s.rejected_alerts == {"alert_schema": 1}
    assert [r["line"] for r in s.rejections] == [17, 18, 19]
    assert s.truncated_by_sender == 3
    assert (s.tasks_created, s.attached, s.duplicates) == (5, 1, 2)
    assert (s.resolved_before_start, s.resolved_noted, s.resolved_without_task) == (3, 0, 2)
    assert [(x["matchers"], x["reason"], x["alerts"]) for x in s.silenced] == \
        [(["host=~web-.*"], "deploy", 1)]
    assert [(x["alertname"], x["host"], x["alerts"]) for x in s.flapping] == \
        [("HighLoad", "db-01", 1)]
    assert s.suppressed == 2
    assert s.unmanaged_hosts == ["legacy-01"] and s.unmanaged_tasks == 1
    assert s.tasks_by_host == {"db-01": 3, "legacy-01": 1, "web-01": 1}
    assert s.tasks_by_state == {"resolved_upstream": 3, "new": 2}
    assert s.top_noisy[:2] == [{"alertname": "HighLoad", "host": "db-01", "received": 8},
                               {"alertname": "DiskFull", "host": "web-01", "received": 4}]
    disk = next(t for t in s.tasks if t["alertname"] == "DiskFull")
    assert (disk["severity"], disk["repeat_count"], disk["managed"]) == ("critical", 1, True)
    # Critical firing episodes a, b, bk, c page without CCM; only the unmanaged one with it.
    assert (s.pages.without_ccm, s.pages.with_ccm, s.pages.avoided) == (4, 1, 3)
    assert s.pages.with_ccm_if_all_remediation_fails == 2  # + the open DiskFull task


def ccm(*args: str, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp)} if tmp else None
    return subprocess.run([sys.executable, "-m", "ccm_tui", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, env=env)


def test_overnight_trace_replays_to_few_tasks_keeping_every_incident(tmp_path: Path) -> None:
    regenerated = tmp_path / "overnight.jsonl"
    subprocess.run([sys.executable, str(OVERNIGHT.with_name("make_overnight.py")),
                    "--out", str(regenerated)], check=True, capture_output=True, timeout=60)
    assert regenerated.read_bytes() == OVERNIGHT.read_bytes(), "regenerate overnight.jsonl"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = ccm("ingest", "replay", str(OVERNIGHT), "--json", tmp=scratch)
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    assert s["requests"] >= 500 and s["alerts_received"] >= 500
    assert s["tasks_created"] <= 0.10 * s["alerts_received"]
    assert s["duplicates"] > s["alerts_received"] / 2
    assert set(s["received_by_source"]) == {"alertmanager", "grafana", "kibana", "generic"}
    assert s["rejected_requests"] and s["rejected_alerts"]
    assert s["silenced"][0]["alerts"] == 10 and s["flapping"][0]["host"] == "db-33"
    assert s["unmanaged_hosts"] == ["legacy-ftp-01"]
    assert s["pages"]["without_ccm"] >= 20 and s["pages"]["with_ccm"] == 1
    assert s["pages"]["avoided"] == s["pages"]["without_ccm"] - 1
    tasks = {(t["host"], t["alertname"]): t for t in s["tasks"]}
    for incident in [("web-03", "DiskFull"), ("app-17", "ServiceDown"), ("db-35", "BackupFailed"),
                     ("app-17", "Orders API error log spike"), ("legacy-ftp-01", "InstanceDown")]:
        assert tasks[incident]["state"] == "new", incident
        assert tasks[incident]["severity"] == "critical", incident
    assert list(scratch.iterdir()) == []  # the scratch hub is gone


def test_a_malformed_trace_line_is_one_error_line_with_its_number(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    good = small_trace().splitlines()[1]
    trace.write_text(good + "\n" + good.replace('"ts":"2026-11-27T02:00:00Z"', '"ts":"2am"'))
    done = ccm("ingest", "replay", str(trace), "--scratch")
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"ccm: error: {trace}:2: ts '2am' is not an RFC 3339 time with a "
                           "zone (e.g. 2026-11-27T02:00:00Z) — nothing was replayed; fix that line")


def test_replay_leaves_the_configured_hub_alone_unless_told(tmp_path: Path) -> None:
    """A replay's tasks are real tasks: a daemon on the hub would claim them and
    page about hosts that exist only in the trace. So only --into-hub writes there."""
    trace = tmp_path / "small.jsonl"
    trace.write_text(small_trace())
    hub = tmp_path / "configured" / "hub.db"
    done = ccm("ingest", "replay", str(trace), "--json", "--hub", f"sqlite:///{hub}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hub"] == "scratch (removed)"
    assert json.loads(done.stdout)["tasks_created"] == 5
    assert not hub.exists()


def test_replay_into_a_hub_leaves_the_tasks_there(hub_url: str, tmp_path: Path) -> None:
    trace = tmp_path / "small.jsonl"
    trace.write_text(small_trace())
    done = ccm("ingest", "replay", str(trace), "--into-hub", "--json", "--hub", hub_url)
    assert done.returncode == 0, done.stderr
    created = {t["id"] for t in json.loads(done.stdout)["tasks"]}
    listed = ccm("tasks", "list", "--json", "--hub", hub_url)
    assert listed.returncode == 0, listed.stderr
    assert {t["id"] for t in json.loads(listed.stdout)} == created and len(created) == 5


@pytest.mark.parametrize(("line", "error"), [
    ('{"ts": "2026-11-27T02:00:00", "endpoint": "generic", "body": {}}',
     "is not an RFC 3339 time with a zone"),
    ('{"ts": "2026-11-27T02:00:00Z", "endpoint": "pagerduty", "body": {}}',
     "endpoint 'pagerduty' is not one of"),
    ('{"ts": "2026-11-27T02:00:00Z", "endpoint": "generic", "body": {}, "raw": "x"}',
     'exactly one of "body"'),
    ('{"ts": "2026-11-27T02:00:00Z", "endpoint": "generic"}', 'exactly one of "body"'),
    ('{"ts": "2026-11-27T02:00:00Z", "endpoint": "silence", "body": {"matchers": ["host~x"], '
     '"duration": "1h"}}', "is not a matcher"),
    ('{"ts": "2026-11-27T02:00:00Z", "endpoint": "silence", "body": {"matchers": ["host=x"], '
     '"duration": "soon"}}', "not a positive duration"),
    ('{"ts": "2026-11-27T02:00:00Z", "endpoint": "inventory", "body": {"hosts": [{}]}}',
     'hosts[0] needs a non-empty "name"'),
    ('{"ts": "2026-11-27T01:00:00Z", "endpoint": "generic", "body": {}}', "is earlier than line 2"),
    ("[1, 2]", "not a JSON object"),
])
def test_trace_errors_name_the_line(line: str, error: str) -> None:
    first = '{"ts": "2026-11-27T01:30:00Z", "endpoint": "generic", "body": {}}'
    with pytest.raises(TraceError) as caught:
        parse_trace(["# a comment", first, "", line], "x.jsonl")
    assert str(caught.value).startswith("x.jsonl:4: ") and error in str(caught.value)


def test_writer_round_trips_and_drops_secrets() -> None:
    out = io.StringIO()
    w = TraceWriter(out)
    w.write(T, "grafana", body={"alerts": []}, headers={
        "Authorization": "Bearer s3cret", "X-Grafana-Alerting-Signature": "ab",
        "User-Agent": "Grafana"})
    w.write(T, "kibana", raw="\ud800 not utf-8")
    with pytest.raises(ValueError, match="earlier"):
        w.write(T - timedelta(seconds=1), "generic", body={})
    assert "s3cret" not in out.getvalue()
    first, second = parse_trace(out.getvalue().splitlines())
    assert (first.ts, first.endpoint, first.body, first.headers) == \
        (T, "grafana", {"alerts": []}, {"User-Agent": "Grafana"})
    assert second.raw is not None and second.payload().startswith(b"\xed\xa0\x80")
