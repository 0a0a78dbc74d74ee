"""kill -9 during delivery loses nothing and duplicates nothing.

The worker runs as a real subprocess (``ccm notify worker``) against an SQLite hub
and the fake PagerDuty. The fake processes the 5th event and then holds its answer,
so the worker is killed with that event *delivered but not yet recorded* — the
worst moment. After a restart every event is delivered; the one in doubt reaches
the wire twice (at-least-once, as documented), and PagerDuty's dedup on
``dedup_key`` keeps it one incident: exactly once where it matters.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from ccm_tui.hub import open_hub
from ccm_tui.notify import pagerduty
from ccm_tui.notify.facts import IncidentFacts
from tests.fakes.fake_pagerduty import FakePagerDuty
from tests.functional.notify.conftest import ROUTING_KEY

ROOT = Path(__file__).resolve().parents[3]
N = 12


async def _until(cond, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _worker(url: str, config: Path, tmp: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp), "XDG_DATA_HOME": str(tmp)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccm_tui", "notify", "worker", "--hub", url, "--config",
        str(config), "--lease", "1", "--poll", "0.05", "--batch", "5",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


@pytest.mark.slow
async def test_kill_9_mid_batch_loses_nothing_and_duplicates_nothing(
        tmp_path: Path, fake_pd: FakePagerDuty) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    config = tmp_path / "config.toml"
    config.write_text(f'[notify]\npagerduty_routing_key = "{ROUTING_KEY}"\n'
                      f'pagerduty_url = "{fake_pd.enqueue_url}"\n')
    hub = open_hub(url)
    async with hub:
        for i in range(N):
            f = IncidentFacts(task_id=f"t-{i:02d}", host=f"db-{i:02d}", alertname="Down",
                              severity="critical", state="escalated")
            await hub.enqueue("pagerduty", {"v": 1, "task": f.task_id, "kind": "trigger",
                                            "order": f"pd:{f.task_id}",
                                            "body": pagerduty.trigger_event(f)},
                              dedup_key=pagerduty.outbox_key(f.task_id, "trigger"))
        fake_pd.hold_after = 4  # the 5th event is processed, its 202 never leaves

        first = await _worker(url, config, tmp_path)

        async def fifth_arrived() -> bool:
            assert first.returncode is None, await first.stderr.read()  # type: ignore[union-attr]
            return len(fake_pd.requests) >= 5

        await _until(fifth_arrived, "the 5th event")
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        sent = [m for m in await hub.list_outbox() if m.state == "sent"]
        assert len(sent) == 4  # delivered and recorded before the kill
        in_doubt = fake_pd.events[4]["dedup_key"]
        fake_pd.hold_after = None
        fake_pd.released.set()

        second = await _worker(url, config, tmp_path)

        async def all_sent() -> bool:
            return all(m.state == "sent" for m in await hub.list_outbox())

        try:
            await _until(all_sent, "every notification to be sent")
        finally:
            second.send_signal(signal.SIGTERM)
            await second.wait()
        outbox = await hub.list_outbox()

    expected = {f"ccm-t-{i:02d}" for i in range(N)}
    # Nothing lost: every incident was opened, and each exactly once.
    assert set(fake_pd.incidents_opened) == expected
    assert all(n == 1 for n in fake_pd.incidents_opened.values())
    # Nothing duplicated beyond the one event in flight at the kill, which PagerDuty dedups.
    wire = {key: n for (key, _), n in fake_pd.accepted.items()}
    assert {k for k, n in wire.items() if n > 1} <= {in_doubt}
    assert sum(wire.values()) <= N + 1
    assert {m.dedup_key: m.attempts for m in outbox if m.attempts > 1} == \
        {f"pd:{in_doubt.removeprefix('ccm-')}:trigger": 2}
