"""``ccm pause``, ``ccm resume`` and ``ccm status`` on a real SQLite hub file."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from ccm_tui.core.model import utcnow
from ccm_tui.hub import open_hub
from tests.unit.cli_support import TO_APPROVAL, ccm, hub_call, seed

pytestmark = pytest.mark.usefixtures("isolated_env")


# -- pause / resume / status ---------------------------------------------------------------
def test_pause_resume_round_trip(url: str) -> None:
    seed(url, [])
    result = ccm("--hub", url, "pause", "--reason", "incident 42", "--as", "dave")
    assert result.exit_code == 0, result.stderr
    assert "PAUSED" in result.stdout and "incident 42" in result.stdout
    control = hub_call(url, "get_control")
    assert control.paused and control.actor == "dave" and control.reason == "incident 42"

    status = json.loads(ccm("--hub", url, "status", "--json").stdout)
    assert status["paused"] is True

    result = ccm("--hub", url, "resume", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["paused"] is False
    assert hub_call(url, "get_control").paused is False


def test_status_counts_tasks_per_state(url: str) -> None:
    seed(url, [("a", "X", ()), ("b", "X", ()), ("c", "X", TO_APPROVAL)])
    data = json.loads(ccm("--hub", url, "status", "--json").stdout)
    assert data["tasks"]["new"] == 2 and data["tasks"]["awaiting_approval"] == 1
    assert data["tasks"]["resolved"] == 0
    human = ccm("--hub", url, "status")
    assert human.exit_code == 0
    assert "1 waiting for approval" in human.stdout


def test_status_sums_up_the_fleet_from_the_latest_probes(url: str) -> None:
    from ccm_tui.core.model import HealthSnapshot, Host

    now = utcnow()

    async def go() -> None:
        async with open_hub(url) as hub:
            await hub.upsert_hosts([Host(n) for n in ("web-01", "web-02", "db-01", "db-02",
                                                      "app-01")])
            for snap in (
                    HealthSnapshot("web-01", now - timedelta(seconds=40), cpu_pct=10,
                                   mem_pct=20, disk_pct=30),
                    HealthSnapshot("web-02", now - timedelta(seconds=12), disk_pct=93),
                    HealthSnapshot("db-01", now - timedelta(seconds=20), reachable=False,
                                   data={"error": "db-01: no key…", "error_kind": "auth"}),
                    HealthSnapshot("db-02", now - timedelta(seconds=20), reachable=False,
                                   data={"error": "refused", "error_kind": "unreachable"})):
                await hub.record_health(snap)

    empty = ccm("--hub", url, "status")
    asyncio.run(go())
    fleet = json.loads(ccm("--hub", url, "status", "--json").stdout)["fleet"]
    human = ccm("--hub", url, "status").stdout

    assert "fleet    " not in empty.stdout  # an empty hub: nothing to say about a fleet
    assert {k: v for k, v in fleet.items() if k != "last_probe_seconds_ago"} == {
        "hosts": 5, "probed": 4, "ok": 1, "critical": 1, "unreachable": 1, "no_login": 1,
        "probe_failed": 0, "stale": False}
    assert 11 <= fleet["last_probe_seconds_ago"] < 60
    assert ("fleet    5 hosts · 1 ok · 1 critical · 1 unreachable · 1 no login · 1 never "
            "probed — probed 1") in human
    assert "`ccm fleet probe` says why there is no login" in human


def test_status_counts_a_failed_probe_apart_from_ok(url: str) -> None:
    """A host CCM logs in to but whose probe gave no figures (no python3, a broken
    agent) is not watched: it used to count as "ok"."""
    from ccm_tui.core.model import HealthSnapshot, Host

    now = utcnow()

    async def go() -> None:
        async with open_hub(url) as hub:
            await hub.upsert_hosts([Host("web-01"), Host("web-02"), Host("db-01")])
            for snap in (
                    HealthSnapshot("web-01", now, cpu_pct=10, mem_pct=20, disk_pct=30),
                    HealthSnapshot("web-02", now, data={
                        "error": "probe failed: python3: command not found"}),
                    HealthSnapshot("db-01", now, reachable=False,
                                   data={"error": "db-01: no key…", "error_kind": "auth"})):
                await hub.record_health(snap)

    asyncio.run(go())
    fleet = json.loads(ccm("--hub", url, "status", "--json").stdout)["fleet"]
    assert (fleet["ok"], fleet["probe_failed"], fleet["no_login"]) == (1, 1, 1)
    human = ccm("--hub", url, "status").stdout
    assert "fleet    3 hosts · 1 ok · 1 no login · 1 probe failed — probed " in human
    assert "`ccm fleet probe` says why there is no login or the probe failed" in human

    from ccm_tui.commands._fleet_health import describe, summarise

    alone = describe(summarise(1, {"web-02": HealthSnapshot("web-02", now, data={
        "error": "probe failed"})}, now))
    assert "0 ok" in alone and "· `ccm fleet probe` says why the probe failed" in alone


def test_status_says_when_nothing_has_probed_for_a_while(url: str) -> None:
    from ccm_tui.core.model import HealthSnapshot, Host

    async def go() -> None:
        async with open_hub(url) as hub:
            await hub.upsert_hosts([Host("web-01")])
            for host in ("web-01", "web-02"):  # web-02: probed (ccm fleet probe), not synced
                await hub.record_health(HealthSnapshot(host, utcnow() - timedelta(hours=3)))

    asyncio.run(go())
    assert "last probe 3h ago: is `ccm up` running?" in ccm("--hub", url, "status").stdout
    fleet = json.loads(ccm("--hub", url, "status", "--json").stdout)["fleet"]
    assert (fleet["stale"], fleet["hosts"], fleet["probed"], fleet["ok"]) == (True, 2, 2, 2)
