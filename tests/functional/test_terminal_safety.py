"""Text from outside CCM cannot act on the on-call engineer's terminal.

A hostile alert (labels, annotations), inventory, silence or transcript goes into a
real SQLite hub through the real ingest path (``ccm ingest replay --into-hub``) or the
hub API, and each human-readable command shows it with its control characters as
escapes (``\\x1b``), its square brackets as they are (not rich markup), and no line of
its own; ``--json`` keeps the stored value exactly.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.core.model import Event, Task, new_task_id
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub
from tests.unit.cli_support import ccm, hub_call

pytestmark = pytest.mark.usefixtures("isolated_env")

E = "\x1b"
#: Hide the rest, write the clipboard (OSC 52), clear the screen, ring, a CSI in C1, a
#: right-to-left override, and rich markup that must print as it is.
EVIL = (f"Disk{E}[8mhid{E}]52;c;cm0gLXJmIC8K\x07{E}[2J\x9b31m\u202eX"
        "[bold red]R[/][link=http://evil.example]L[/link]")
#: The escaped form each human-readable output must show.
SHOWN = ("Disk\\x1b[8mhid\\x1b]52;c;cm0gLXJmIC8K\\x07\\x1b[2J\\x9b31m\\u202eX"
         "[bold red]R[/][link=http://evil.example]L[/link]")
#: A carriage return and a new line, then a line that would look like CCM's own.
FAKE_LINE = "ok\r\nccm: approved by root"
#: What must never reach the terminal: C0 but new line, DEL, C1, and the bidi controls.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def assert_safe(out: str, *, shown: str = SHOWN) -> None:
    """``out`` holds nothing that acts on a terminal, shows ``shown``, and has no line
    that a value faked."""
    assert not UNSAFE.search(out), repr(out)
    assert shown in out, out
    assert not any(line.lstrip(" ").startswith("ccm: approved") for line in out.splitlines()), out


def _ts(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _alert(alertname: str, summary: str, fingerprint: str) -> dict[str, Any]:
    return {"status": "firing", "fingerprint": fingerprint, "startsAt": _ts(60),
            "labels": {"alertname": alertname, "instance": "web-01:9100",
                       "severity": "critical"},
            "annotations": {"summary": summary}}


def _trace(tmp_path: Path) -> Path:
    """A night with one hostile alert, one alert whose name fakes a line, a hostile
    silence and a request the receiver refuses for a hostile body."""
    lines = [
        {"ts": _ts(90), "endpoint": "inventory", "body": {"hosts": [{"name": "web-01"}]}},
        {"ts": _ts(80), "endpoint": "silence",
         "body": {"matchers": ["host=db-01"], "duration": "30d", "reason": EVIL}},
        {"ts": _ts(60), "endpoint": "alertmanager",
         "body": {"version": "4", "status": "firing", "receiver": "r", "groupLabels": {},
                  "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
                  "alerts": [_alert(EVIL, EVIL, "f1"), _alert(FAKE_LINE, "x", "f2")]}},
        {"ts": _ts(59), "endpoint": "generic", "raw": EVIL},
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture
def hostile(url: str, tmp_path: Path) -> str:
    """``url``'s hub after the hostile trace went through ingest into it."""
    played = ccm("--hub", url, "ingest", "replay", str(_trace(tmp_path)), "--into-hub")
    assert played.exit_code == 0, played.output
    return url


def _task(url: str, alertname: str) -> dict[str, Any]:
    listed = json.loads(ccm("--hub", url, "tasks", "list", "--json").stdout)
    return next(t for t in listed if t["alertname"] == alertname)


def test_ingest_stores_verbatim_and_json_stays_exact(hostile: str) -> None:
    task = _task(hostile, EVIL)
    assert task["summary"].startswith(f"Disk{E}[8m")  # as sent: nothing lost
    shown = json.loads(ccm("--hub", hostile, "tasks", "show", task["id"], "--json").stdout)
    assert shown["alertname"] == EVIL
    silences = json.loads(ccm("--hub", hostile, "silence", "list", "--json").stdout)
    assert silences[0]["reason"] == EVIL


def test_tasks_list(hostile: str) -> None:
    out = ccm("--hub", hostile, "tasks", "list").stdout
    assert_safe(out)
    rows = [line for line in out.splitlines() if line.startswith("t-")]
    assert len(rows) == 2, out  # the name with a new line stays on its own row
    assert any("ok\\r\\nccm: approved by root" in row for row in rows), out


def test_tasks_show_with_a_hostile_transcript(hostile: str) -> None:
    task_id = _task(hostile, EVIL)["id"]

    async def events() -> None:
        async with open_hub(hostile) as hub:
            now = datetime.now(UTC)
            await hub.append_events([
                Event(task_id, 1, "started", now, {"host": f"web-01{E}[2J", "runbook": EVIL}),
                Event(task_id, 2, "output", now, {"text": f"line 1\n{EVIL}\r\nccm: approved by root"}),
                Event(task_id, 3, "finished", now, {"outcome": "escalated", "reasons": [EVIL]}),
            ])

    asyncio.run(events())
    out = ccm("--hub", hostile, "tasks", "show", task_id).stdout
    assert_safe(out)
    # command output keeps its lines (a CRLF ends one too), each in the transcript's gutter
    assert "│ line 1\n" in out and "[/link]\n" in out and "│ ccm: approved by root" in out, out


def test_approve_reject_escalate_and_the_approvals_table(hostile: str) -> None:
    task_id = _task(hostile, EVIL)["id"]
    done = ccm("--hub", hostile, "escalate", task_id, "--as", f"eve{E}[8m", "-m", EVIL)
    assert done.exit_code == 0, done.output
    assert_safe(done.stdout)
    assert "as eve\\x1b[8m;" in done.stdout
    assert_safe(ccm("--hub", hostile, "tasks", "show", task_id).stdout)  # BY and NOTE


def test_silence_list_and_add(hostile: str) -> None:
    assert_safe(ccm("--hub", hostile, "silence", "list").stdout.replace("\n", ""))
    # (a reason too long for the column wraps; joined, it is the one shown)
    added = ccm("--hub", hostile, "silence", "add", f"host=web-0{E}[2J", "--reason", FAKE_LINE)
    assert added.exit_code == 0, added.output
    assert_safe(added.output, shown="host=web-0\\x1b[2J")
    assert "ok\\r\\nccm: approved by root" in added.stdout


@pytest.mark.parametrize("form", [(), ("--markdown",)])
def test_report(hostile: str, form: tuple[str, ...]) -> None:
    out = ccm("--hub", hostile, "report", "--since", "1d", *form, env={"COLUMNS": "400"})
    assert out.exit_code == 0, out.output
    # the silence's reason and the noisiest alert's name; Markdown escapes its brackets
    assert_safe(out.stdout, shown=SHOWN.replace("[", "\\[").replace("]", "\\]") if form
                else SHOWN)


def test_ingest_replay_summary(tmp_path: Path) -> None:
    out = ccm("ingest", "replay", str(_trace(tmp_path)), env={"COLUMNS": "400"}).stdout
    assert_safe(out)


def test_runbooks_stats(url: str) -> None:
    group = f"web{E}]52;c;AA\x07[bold]"
    hub_call(url, "record_runbook_outcome", "disk-full", group, success=True)

    async def failed(host: str) -> None:
        async with open_hub(url) as hub:
            t = await hub.create_task(Task(id=new_task_id(), host=host, alertname="DiskFull"))
            for state in (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.REMEDIATING):
                t = await hub.transition(t.id, state, runbook="disk-full")
            await hub.transition(t.id, TaskState.FAILED, outcome="verify failed")

    for _ in range(3):
        asyncio.run(failed(f"db-01{E}[2J[red]"))
    out = ccm("--hub", url, "runbooks", "stats", env={"COLUMNS": "400"}).stdout
    assert_safe(out, shown="web\\x1b]52;c;AA\\x07[bold]")
    assert "db-01\\x1b[2J[red]" in out, out  # the open breaker names the host


def test_fleet_list(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(json.dumps({"hosts": {
        "web-01": {"address": "fe80::1", "labels": {"team": EVIL, "note": FAKE_LINE}},
        "web-02": {"address": "10.0.0.2", "groups": ["web[bold]"]},
    }}))
    out = ccm("--inventory", str(inventory), "fleet", "list").stdout
    assert_safe(out, shown=f"team={SHOWN}")
    assert "[fe80::1]:22" in out, out  # an IPv6 address is not a markup tag
    assert "web[bold]" in out, out
    assert len(out.splitlines()) == 4, out  # header, two hosts, the count


def test_silences_keep_id_until_and_every_matcher_at_80_columns(url: str) -> None:
    """All columns ``no_wrap``, the report's silences lost ID, UNTIL and BY at 80 columns,
    and ``silence list`` cut a matcher to ``alertname=D…``: neither can be acted on."""
    reason = "kernel upgrade on the web tier, ticket OPS-4411, ask alice before expiring"
    added = ccm("--hub", url, "silence", "add", "host=~web-.*", "alertname=DiskFull",
                "--reason", reason, "--as", "alice@ops-laptop", "--json")
    until = json.loads(added.stdout)["ends_at"]
    hhmm = datetime.fromisoformat(until).astimezone().strftime("%m-%d %H:%M")
    narrow = {"COLUMNS": "80"}
    report = ccm("--hub", url, "report", env=narrow).stdout
    table = report[report.index("Silences in force"):].splitlines()
    assert table[1].split() == ["ID", "MATCHERS", "UNTIL", "BY", "REASON"], report
    assert table[2].split()[:4] == ["1", "host=~web-.*", *hhmm.split()], report
    assert table[3].split()[0] == "alertname=DiskFull", report
    listed = ccm("--hub", url, "silence", "list", env=narrow).stdout
    assert all(len(line) <= 80 for line in listed.splitlines()), listed
    header, *rows = listed.splitlines()
    start, end = header.index("MATCHERS"), header.index("STATE")
    cells = "".join(line[start:end].strip() for line in rows)
    assert cells.startswith("host=~web-.*alertname=DiskFull"), listed  # folded, not cut


def test_a_filter_that_matches_nothing_is_named_safely(hostile: str) -> None:
    out = ccm("--hub", hostile, "tasks", "list", "--host", f"web\x07{FAKE_LINE}").stdout
    assert out == "no tasks match --host 'web\\x07ok\\r\\nccm: approved by root'\n"


@pytest.mark.parametrize("columns", [60, 80])
def test_report_keeps_the_ids_of_tasks_that_need_you_next_to_a_long_host(
        url: str, columns: int) -> None:
    """Every column ``no_wrap``, a long host name cut the ids of "Needs you" to ``t…``
    and dropped STATE, at 80 columns: the table a morning starts with, unusable."""
    from tests.unit.cli_support import seed

    long_host = "very-long-hostname-in-a-datacenter-fra1.prod.example.internal"
    made = seed(url, [(long_host, "HighMemoryUsageCriticalOnJavaHeap", (TaskState.ESCALATED,)),
                      ("web-01", "DiskFull", (TaskState.ESCALATED,))])
    out = ccm("--hub", url, "report", env={"COLUMNS": str(columns)}).stdout
    table = out[out.index("Needs you"):].split("\n\n")[0].splitlines()
    assert table[1].split() == ["ID", "STATE", "HOST", "ALERT"], out
    for task, row in zip(made, table[2:], strict=True):
        assert row.split()[:2] == [task.id, "escalated"], out
        assert len(row.rstrip()) <= columns, out
    assert f" {long_host[:12]}" in table[2] and "…" in table[2], out  # cut, not dropped


def test_report_until_asks_for_a_time_not_a_duration(url: str) -> None:
    out = ccm("--hub", url, "report", "--until", "12h", env={"COLUMNS": "200"})
    assert out.exit_code == 2
    assert "'12h' is not an RFC 3339 time (e.g. 2026-11-27T08:00Z)" in out.output, out.output
    since = ccm("--hub", url, "report", "--since", "12x", env={"COLUMNS": "200"})
    assert "'12x' is neither a duration (12h) nor an RFC 3339 time" in since.output


def test_printable_escapes_every_control_and_keeps_blocks_readable() -> None:
    from ccm_tui.core.text import printable

    assert printable(None) == ""
    assert printable("a\tb\nc\rd\x00\x7f\x85\u2028\u202e") == \
        "a\\tb\\nc\\rd\\x00\\x7f\\x85\\u2028\\u202e"
    assert printable("a\tb\r\nc\rd\x0c", block=True) == "a\tb\nc\\rd\\x0c"
    assert printable("ünïcode — ✓ 日本") == "ünïcode — ✓ 日本"  # printable text is left alone


def test_runbooks_stats_keeps_its_figures_at_80_columns(url: str) -> None:
    """In a box, at 80 columns rich dropped ok, fail, appr, rej and prior whole (the
    figures the command is for) next to a long host group; now the names give way."""
    hub_call(url, "record_runbook_outcome", "disk-full", "web-frontend-production-eu-west",
             success=True, approved=True)
    hub_call(url, "record_runbook_outcome", "connection-exhaustion", "db", success=False)
    out = ccm("--hub", url, "runbooks", "stats", env={"COLUMNS": "80"}).stdout
    lines = out.splitlines()
    assert lines[1].split() == ["runbook", "group", "mode", "ok", "fail", "appr", "rej",
                                "prior", "next"], out
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert rows["disk-full"][1].startswith("web-fronten") and "…" in rows["disk-full"][1]
    assert rows["disk-full"][2:8] == ["auto", "(file)", "1", "0", "1", "0"], out
    assert all(len(line) <= 80 for line in lines[:4]), out


def test_tasks_show_a_summary_cannot_add_a_row_to_the_details(url: str) -> None:
    async def make() -> str:
        async with open_hub(url) as hub:
            task = await hub.create_task(Task(
                id=new_task_id(), host="web-01", alertname="DiskFull",
                summary="disk at 91%\nstate     resolved\noutcome   fixed by ccm"))
            return task.id

    out = ccm("--hub", url, "tasks", "show", asyncio.run(make())).stdout
    assert "disk at 91%\\nstate     resolved\\noutcome   fixed by ccm" in out, out
    assert [line.split()[1] for line in out.splitlines()
            if line.startswith("│") and len(line.split()) > 1].count("state") == 1, out
