"""``ccm silence add|list|expire`` on a real SQLite hub, and what ingest makes of them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.core import Host
from ccm_tui.hub import open_hub
from ccm_tui.ingest.outcomes import Outcome
from ccm_tui.ingest.parsers import parsers
from ccm_tui.ingest.pipeline import Ingestor

#: HOME, XDG folders and CCM_* settings isolated (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_env")


def ccm(url: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["silence", *args, "--hub", url])


def outcomes(url: str, *hosts: str) -> list[Outcome]:
    """Fire one DiskFull alert per host through a fresh receiver pipeline."""
    async def go() -> list[Outcome]:
        async with open_hub(url) as hub:
            ingestor = Ingestor(hub)
            result = []
            for host in hosts:
                body = {"name": "DiskFull", "host": host, "severity": "critical"}
                report = await ingestor.ingest(parsers()["generic"](body).alerts)
                result += [r.outcome for r in report.results]
            return result
    return asyncio.run(go())


def test_add_list_expire_and_what_ingest_makes_of_them(url: str) -> None:
    added = ccm(url, "add", "host=~web-.*", "--for", "2h", "--reason", "deploy",
                "--as", "jordan")
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("silence 1: host=~web-.* until ")
    assert added.stdout.rstrip().endswith("— deploy")
    window = ccm(url, "add", "alertname=BackupRunning", "--start", "+6h", "--for", "1h",
                 "--json")
    assert window.exit_code == 0, window.output
    doc = json.loads(window.stdout)
    assert doc["id"] == 2 and doc["matchers"] == ["alertname=BackupRunning"]

    listed = ccm(url, "list")
    assert listed.exit_code == 0
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "active" in rows["1"] and "jordan" in rows["1"] and "deploy" in rows["1"]
    assert "scheduled" in rows["2"]

    assert outcomes(url, "web-01", "db-01") == [Outcome.SILENCED, Outcome.CREATED]

    expired = ccm(url, "expire", "1", "--as", "jordan")
    assert expired.exit_code == 0 and expired.stdout == "silence 1 expired\n"
    assert [s["id"] for s in json.loads(ccm(url, "list", "--json").stdout)] == [2]
    every = json.loads(ccm(url, "list", "--all", "--json").stdout)
    assert [s["id"] for s in every] == [1, 2] or [s["id"] for s in every] == [2, 1]
    assert next(s for s in every if s["id"] == 1)["expired_at"] is not None
    assert outcomes(url, "web-02") == [Outcome.CREATED]

    async def audit() -> list[tuple[str, str]]:
        async with open_hub(url) as hub:
            return [(e.action, e.actor) for e in await hub.list_audit(limit=10)]
    assert ("silence.expire", "jordan") in asyncio.run(audit())


def test_add_says_what_the_silence_covers_and_warns_of_a_typo(url: str) -> None:
    async def await_outcome_tasks() -> list[str]:
        async with open_hub(url) as hub:
            ingestor = Ingestor(hub)
            body = {"name": "DiskFull", "host": "web-02", "severity": "critical"}
            report = await ingestor.ingest(parsers()["generic"](body).alerts)
            return [r.task_id for r in report.results if r.task_id]

    async def hosts() -> None:
        async with open_hub(url) as hub:
            await hub.upsert_hosts([Host("web-01"), Host("web-02"), Host("db-01")])
    asyncio.run(hosts())
    [task_id] = asyncio.run(await_outcome_tasks())

    deploy = ccm(url, "add", "host=~web-.*", "--for", "1h", "--reason", "deploy")
    assert deploy.exit_code == 0, deploy.output
    lines = deploy.stdout.splitlines()
    assert lines[1] == "  matches 2 of 3 hosts: web-01, web-02"
    assert lines[2] == (f"  matches 1 task not started yet ({task_id}): while the silence "
                        "lasts, a fix for it waits for approval")
    assert deploy.stderr == ""

    typo = ccm(url, "add", "host=web-0l", "--for", "1h")
    assert typo.exit_code == 0  # stored all the same: hosts may join the inventory later
    assert typo.stdout.splitlines()[1] == "  matches 0 of 3 hosts"
    assert typo.stderr == ("ccm silence: warning: no host the hub knows matches host=web-0l — "
                           "a typo? It stays until expired: `ccm silence expire 2`\n")
    doc = json.loads(ccm(url, "add", "alertname=DiskFull", "--json").stdout)
    assert (doc["hosts_matched"], doc["hosts_known"], doc["open_tasks_matched"]) == \
        (None, 3, [task_id])

    async def claim() -> None:
        async with open_hub(url) as hub:
            assert (await hub.claim_next_task("d1", lease_seconds=30)) is not None
    asyncio.run(claim())
    late = ccm(url, "add", "host=web-02", "--for", "1h")
    assert late.stdout.splitlines()[2] == (
        f"  matches 1 task already under way ({task_id}): an agent still diagnosing asks "
        "for approval instead; a fix already running goes on — `ccm escalate TASK` hands "
        "one to a human")


@pytest.mark.parametrize(("args", "error"), [
    (["add", "host=~(", "--for", "1h"],
     "ccm: error: bad regular expression for host: missing ), unterminated subpattern at "
     "position 0 — quote each matcher: 'host=~web-.*'"),
    (["add", "host=~web-[", "--for", "1h"],
     "ccm: error: bad regular expression for host: unterminated character set at position 4 "
     "— quote each matcher: 'host=~web-.*'"),
    # would close the anchoring group early, so 'web' matched any host starting with it
    (["add", "host=~web)|(?:db", "--for", "1h"],
     "ccm: error: bad regular expression for host: unbalanced parenthesis at position 3 "
     "— quote each matcher: 'host=~web-.*'"),
    (["add", "host=web-01", "--for", "0m"],
     "ccm: error: --for '0m' must be positive — e.g. --for 2h"),
    (["add", "host=web-01", "--for", "2x"],
     "ccm: error: --for: '2x' is not a duration; use e.g. 30m, 12h, 2d or 1h30m — e.g. "
     "--for 2h"),
    (["add", "host=web-01", "--start", "+soon"],
     "ccm: error: --start '+soon': 'soon' is not a duration; use e.g. 30m, 12h, 2d or 1h30m "
     "— e.g. --start +1h"),
    (["add", "host=web-01", "--start", "tomorrow"],
     "ccm: error: --start 'tomorrow' is neither +DURATION nor an ISO time — e.g. --start +1h "
     "or --start 2026-11-28T02:00:00Z"),
    (["expire", "99"],
     "ccm: error: no silence with id 99 — list them with `ccm silence list --all`"),
])
def test_bad_input_is_one_line_and_stores_nothing(url: str, args: list[str],
                                                  error: str) -> None:
    res = ccm(url, *args)
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr == error + "\n"
    assert ccm(url, "list").stdout == "no silences\n"


def test_status_shows_the_silences(url: str) -> None:
    def status(*args: str) -> Any:
        return CliRunner().invoke(app, ["status", "--hub", url, *args])

    assert not [x for x in status().stdout.splitlines() if x.startswith("silences")]
    ccm(url, "add", "host=~web-.*", "--for", "2h", "--reason", "deploy")
    ccm(url, "add", "alertname=Backup", "--start", "+6h", "--for", "1h")
    line = next(x for x in status().stdout.splitlines() if x.startswith("silences"))
    assert line.startswith("silences 1 active, 1 scheduled — host=~web-.* until ")
    assert line.endswith("(deploy) and 1 more: `ccm silence list`")
    assert json.loads(status("--json").stdout)["silences"] == {"active": 1, "scheduled": 1}


def _hhmm(iso: str, fmt: str = "%m-%d %H:%M") -> str:
    from datetime import datetime

    return f"{datetime.fromisoformat(iso).astimezone():{fmt}}"


def test_list_json_has_the_state_the_table_shows(url: str) -> None:
    ccm(url, "add", "host=web-01", "--for", "2h")
    ccm(url, "add", "alertname=Backup", "--start", "+6h", "--for", "1h")
    ccm(url, "add", "host=db-01", "--for", "2h")
    assert ccm(url, "expire", "3").exit_code == 0
    doc = json.loads(ccm(url, "list", "--all", "--json").stdout)
    states = {s["id"]: s["state"] for s in doc}
    assert states == {1: "active", 2: "scheduled", 3: "expired"}
    table = ccm(url, "list", "--all").stdout.splitlines()
    assert table[0].split()[2] == "STATE"
    assert {int(line.split()[0]): line.split()[2] for line in table[1:]} == states
    assert [s["state"] for s in json.loads(ccm(url, "list", "--json").stdout)] == \
        ["active", "scheduled"]


def test_an_expired_silence_shows_when_it_ended_not_its_planned_end(url: str) -> None:
    ccm(url, "add", "host=web-01", "--for", "3h", "--reason", "deploy")
    assert ccm(url, "expire", "1").exit_code == 0
    [doc] = json.loads(ccm(url, "list", "--all", "--json").stdout)
    assert doc["expired_at"] is not None
    [row] = ccm(url, "list", "--all").stdout.splitlines()[1:]
    # ID MATCHERS STATE FROM(2 words) UNTIL(2 words) BY REASON
    until = " ".join(row.split()[5:7])
    assert until == _hhmm(doc["expired_at"]) != _hhmm(doc["ends_at"])


def test_expiring_an_expired_silence_says_so_and_when(url: str) -> None:
    ccm(url, "add", "host=web-01", "--for", "2h")
    assert ccm(url, "expire", "1", "--as", "jordan").stdout == "silence 1 expired\n"
    [doc] = json.loads(ccm(url, "list", "--all", "--json").stdout)
    again = ccm(url, "expire", "1", "--as", "kim")
    assert again.exit_code == 0, again.output
    assert again.stdout == (f"silence 1 was already expired at "
                            f"{_hhmm(doc['expired_at'], '%Y-%m-%d %H:%M %Z')}\n")
    assert json.loads(ccm(url, "list", "--all", "--json").stdout) == [doc]

    async def audit() -> list[tuple[str, str]]:
        async with open_hub(url) as hub:
            return [(e.action, e.actor) for e in await hub.list_audit(limit=10)
                    if e.action == "silence.expire"]
    assert asyncio.run(audit()) == [("silence.expire", "jordan")]  # not expired twice


def test_expiring_a_silence_past_its_end_says_when_it_ended(url: str) -> None:
    from datetime import UTC, datetime, timedelta

    start = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    assert ccm(url, "add", "host=web-01", "--start", start, "--for", "1h").exit_code == 0
    [doc] = json.loads(ccm(url, "list", "--all", "--json").stdout)
    assert doc["state"] == "expired" and doc["expired_at"] is None
    done = ccm(url, "expire", "1")
    assert done.exit_code == 0, done.output
    assert done.stdout == (f"silence 1 was already expired at "
                           f"{_hhmm(doc['ends_at'], '%Y-%m-%d %H:%M %Z')} (its planned end)\n")
