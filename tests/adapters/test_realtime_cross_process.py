"""One process appends 1,000 events; another, subscribed, receives all of them in order, once."""

from __future__ import annotations

import asyncio
import sys
import textwrap

from ccm_tui.core import ChangeKind, Task, new_task_id
from ccm_tui.hub import Hub

N = 1000

WRITER = textwrap.dedent("""
    import asyncio, sys
    from ccm_tui.core import Event, utcnow
    from ccm_tui.hub import open_hub

    async def main(url, task_id, n):
        async with open_hub(url) as hub:
            for seq in range(1, n + 1):
                await hub.append_event(Event(task_id, seq, "output", utcnow(),
                                             {"stream": "stdout", "text": f"line {seq}"}))
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
""")


async def test_thousand_events_across_processes(hub: Hub, hub_url: str) -> None:
    t = await hub.create_task(Task(id=new_task_id(), host="web-01", alertname="DiskFull"))
    seqs: list[int] = []
    texts: list[str] = []

    async def collect() -> None:
        async for ch in hub.subscribe([ChangeKind.EVENT]):
            assert ch.event is not None and ch.event.task_id == t.id
            seqs.append(ch.event.seq)
            texts.append(ch.event.data["text"])
            if len(seqs) == N:
                return

    reader = asyncio.create_task(collect())
    await asyncio.sleep(0.5)  # the subscription is listening before the writer starts
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, hub_url, t.id, str(N),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await writer.communicate()
    assert writer.returncode == 0, err.decode()
    await asyncio.wait_for(reader, timeout=60)
    assert seqs == list(range(1, N + 1))
    assert texts[-1] == f"line {N}"
    assert await hub.last_seq(t.id) == N
