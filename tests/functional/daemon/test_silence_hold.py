"""A silence added while an agent is still diagnosing holds its automatic fix.

The agent's diagnosis waits on a loopback HTTP check that the test releases, so the
silence lands exactly between the agent's start and its decision: the daemon hears of
it on the realtime feed and tells the agent to ask instead of fixing on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from ccm_tui.core import Silence, parse_matcher, utcnow
from ccm_tui.core.model import DecisionKind, TaskState
from ccm_tui.hub import Hub
from tests.functional.daemon.conftest import FleetEnv
from tests.unit.agent_runtime.runtime_helpers import put, sandbox

RUNBOOK = """
id: gated-cleanup
title: Gated cleanup (test)
description: Waits on a loopback HTTP check, then deletes stale files.
risk: low
mode: auto
match:
  labels:
    - alertname="GatedAlert"
diagnose:
  - id: gate
    action: http_check
    params: {{url: '{url}', timeout: 60}}
  - id: stale
    action: find_files
    params: {{path: /var/tmp/gated, patterns: ["*.old"], older_than_days: 0}}
classify:
  - cause: stale-files
    when: ["evidence.gate.status == 200", "evidence.stale.count >= 1"]
    weight: 1.0
    remediate: [clean]
remediate:
  - id: clean
    action: clean_files
    params: {{path: /var/tmp/gated, patterns: ["*.old"], older_than_days: 0}}
verify:
  action: find_files
  params: {{path: /var/tmp/gated, patterns: ["*.old"], older_than_days: 0}}
  expect: ["result.count == 0"]
"""


class Gate:
    """A loopback HTTP endpoint that answers only once released."""

    def __init__(self) -> None:
        self.hit = asyncio.Event()
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, _request: web.Request) -> web.Response:
        self.hit.set()
        await self.release.wait()
        return web.Response(text="open")


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    g = Gate()
    app = web.Application()
    app.router.add_get("/gate", g.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    g.url = f"http://127.0.0.1:{port}/gate"
    try:
        yield g
    finally:
        g.release.set()
        await runner.cleanup()


async def test_a_silence_added_mid_diagnosis_holds_the_fix(
        env: FleetEnv, hub: Hub, gate: Gate, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "gated-cleanup.yaml").write_text(RUNBOOK.format(url=gate.url))
    root = sandbox(env.roots["web-01"])
    put(root, "/var/tmp/gated/a.old", size=100, age_days=1)
    caplog.set_level(logging.INFO, logger="ccm.daemon")
    await env.start_daemon(runbook_dirs=(str(books),))
    task = await env.alert("web-01", name="GatedAlert")
    await asyncio.wait_for(gate.hit.wait(), 60)  # the agent is diagnosing

    now = utcnow()
    s = await hub.add_silence(Silence((parse_matcher("host=web-01"),), now - timedelta(seconds=1),
                                      now + timedelta(hours=1), "deploy", "jordan"))
    for _ in range(200):  # the daemon hears of it on the feed and tells the agent
        if any("held its automatic fix" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the daemon never held the fix")
    gate.release.set()

    waiting = await env.wait_state(task.id, TaskState.AWAITING_APPROVAL, TaskState.RESOLVED,
                                   TaskState.FAILED, TaskState.ESCALATED)
    assert waiting.state is TaskState.AWAITING_APPROVAL, waiting.outcome
    assert waiting.decision is not None and waiting.decision.kind is DecisionKind.AUTO
    held = [e for e in await hub.list_events(task.id)
            if e.type == "step" and e.data.get("phase") == "held"]
    assert held and held[0].data["note"] == f"silence {s.id}: deploy"
    assert held[0].data["actor"] == "jordan"
    assert (root / "var/tmp/gated/a.old").exists()  # nothing touched
    await hub.decide(task.id, "reject", actor="jordan")
    await env.wait_state(task.id, TaskState.CANCELLED)
