"""``ccm notify test CHANNEL`` and ``ccm notify list``, as a user runs them, at the fakes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.fake_pagerduty import FakePagerDuty
from tests.fakes.fake_slack import FakeSlack

from .conftest import ROUTING_KEY

ROOT = Path(__file__).resolve().parents[3]


def ccm(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CCM_")}
    return subprocess.run(
        [sys.executable, "-m", "ccm_tui", "notify", *args, "--hub",
         f"sqlite:///{tmp_path / 'hub.db'}"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**base, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
             "PYTHONPATH": str(ROOT), **env})


async def test_a_test_message_reaches_each_configured_channel(
        tmp_path: Path, url: str, fake_slack: FakeSlack, fake_pd: FakePagerDuty) -> None:
    # url: the hub file ccm() names, made by the fixture
    env = {"CCM_NOTIFY__SLACK_WEBHOOK_URL": fake_slack.webhook_url,
           "CCM_NOTIFY__PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
           "CCM_NOTIFY__PAGERDUTY_URL": fake_pd.enqueue_url}

    slack = await asyncio.to_thread(ccm, tmp_path, env, "test", "slack")
    assert slack.returncode == 0, slack.stderr
    assert slack.stdout == "slack: sent\n"
    [message] = fake_slack.messages
    assert message["text"] == "CCM test message"

    pd = await asyncio.to_thread(ccm, tmp_path, env, "test", "pagerduty", "--json")
    assert pd.returncode == 0, pd.stderr
    assert json.loads(pd.stdout)["state"] == "sent"
    # a test incident is opened and resolved straight away: nobody stays paged
    assert [e["event_action"] for e in fake_pd.events] == ["trigger", "resolve"]
    assert set(fake_pd.incidents.values()) == {"resolved"}

    listed = await asyncio.to_thread(ccm, tmp_path, env, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(r["channel"] for r in rows) == ["pagerduty", "pagerduty", "slack"]
    assert {r["state"] for r in rows} == {"sent"}
    text = await asyncio.to_thread(ccm, tmp_path, env, "list")
    assert text.stdout.splitlines()[0].split() == ["ID", "CHANNEL", "KEY", "STATE", "TRIES",
                                                   "LAST", "ERROR"]


async def test_a_failing_or_unknown_channel_says_so(tmp_path: Path, url: str,
                                                    fake_slack: FakeSlack) -> None:
    # url: the hub file ccm() names, made by the fixture
    env = {"CCM_NOTIFY__SLACK_WEBHOOK_URL": fake_slack.webhook_url}
    unset = await asyncio.to_thread(ccm, tmp_path, env, "test", "grafana")
    assert unset.returncode == 1 and unset.stdout == ""
    assert unset.stderr == ("ccm: error: grafana is not configured: notify.grafana_url is not "
                            "set — set grafana_url under [notify] in config.toml (or "
                            "CCM_NOTIFY__GRAFANA_URL), then run this again\n")
    nothing = await asyncio.to_thread(ccm, tmp_path, env, "list", "--json")
    assert json.loads(nothing.stdout) == []  # no dead test message left behind

    fake_slack.script(400, body="invalid_token", times=1)
    failed = await asyncio.to_thread(ccm, tmp_path, env, "test", "slack")
    assert failed.returncode == 1
    assert failed.stdout.startswith("slack: dead — ") and "400" in failed.stdout

    fake_slack.script(503, times=1)  # retryable, but a test gets one attempt, reported now
    busy = await asyncio.to_thread(ccm, tmp_path, env, "test", "slack")
    assert busy.returncode == 1
    assert busy.stdout.startswith("slack: dead — gave up after 1 attempt: ")
    rows = json.loads((await asyncio.to_thread(ccm, tmp_path, env, "list", "--json")).stdout)
    assert {r["state"] for r in rows} == {"dead"}  # nothing left to retry later

    unknown = await asyncio.to_thread(ccm, tmp_path, env, "test", "teams")
    assert unknown.returncode == 2 and "expected one of pagerduty, slack" in unknown.stderr
    bad_state = await asyncio.to_thread(ccm, tmp_path, env, "list", "--state", "lost")
    assert bad_state.returncode == 2 and "expected pending, sent or dead" in bad_state.stderr
