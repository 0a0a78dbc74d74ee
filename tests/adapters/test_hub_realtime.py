"""The hub contract, realtime: every adapter announces the same changes, in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from ccm_tui.core import (
    ChangeKind,
    Event,
    HealthSnapshot,
    Silence,
    TaskState,
    parse_matcher,
    utcnow,
)
from ccm_tui.hub import Hub
from tests.support.hub_builders import task, to_state


# -- realtime -----------------------------------------------------------------------------
async def test_subscribe_sees_events_and_task_changes_in_order(hub: Hub) -> None:
    received: list[tuple[str, str | None]] = []
    ready = asyncio.Event()

    async def listen() -> None:
        sub = hub.subscribe([ChangeKind.EVENT, ChangeKind.TASK])
        it = sub.__aiter__()
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0.3)
        ready.set()
        ch = await first
        while True:
            received.append((ch.kind.value, ch.ref))
            if ch.kind is ChangeKind.EVENT and ch.event and ch.event.type == "finished":
                return
            ch = await it.__anext__()

    listener = asyncio.create_task(listen())
    await ready.wait()
    t = await hub.create_task(task())
    t = await to_state(hub, t, TaskState.CLAIMED)
    await hub.append_events([Event(t.id, 1, "started", utcnow()),
                             Event(t.id, 2, "finished", utcnow(), {"outcome": "noop"})])
    await hub.record_health(HealthSnapshot("web-01", utcnow()))  # filtered out
    await asyncio.wait_for(listener, timeout=10)
    assert received == [("task", "new"), ("task", "claimed"), ("event", "1"), ("event", "2")]


async def test_subscribe_since_replays_then_follows(hub: Hub) -> None:
    t = await hub.create_task(task())
    await hub.append_events([Event(t.id, i, "step", utcnow()) for i in (1, 2, 3)])
    seqs: list[int] = []
    sub = hub.subscribe([ChangeKind.EVENT], since=0)
    async for ch in sub:
        assert ch.event is not None and ch.task_id == t.id
        seqs.append(ch.event.seq)
        if ch.event.seq == 3:
            await hub.append_event(Event(t.id, 4, "finished", utcnow()))
        if ch.event.seq == 4:
            break
    assert seqs == [1, 2, 3, 4]


async def test_silences_reach_the_feed(hub: Hub) -> None:
    """Added and expired silences are changes, so a daemon holds fixes and the TUI
    redraws at once (ref: the silence id)."""
    sub = hub.subscribe([ChangeKind.SILENCE])
    it = sub.__aiter__()
    first = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.3)
    now = utcnow()
    s = await hub.add_silence(Silence((parse_matcher("host=web-01"),), now,
                                      now + timedelta(hours=1), "deploy", "jordan"))
    added = await asyncio.wait_for(first, 10)
    assert (added.kind, added.ref, added.task_id) == (ChangeKind.SILENCE, str(s.id), None)
    await hub.expire_silence(s.id or 0, actor="jordan")
    expired = await asyncio.wait_for(it.__anext__(), 10)
    assert (expired.kind, expired.ref) == (ChangeKind.SILENCE, str(s.id))
    await sub.aclose()  # type: ignore[attr-defined]
