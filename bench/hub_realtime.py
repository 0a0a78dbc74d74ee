"""Cross-process realtime latency of the hub, against a bare LISTEN/NOTIFY peer.

A writer process appends events (each carrying its send time); this process,
subscribed through ``Hub.subscribe``, measures how long each took to arrive.
Peer: a bare asyncpg NOTIFY → LISTEN round trip with the payload inline — the
floor for any Postgres realtime. Goal (issue 2): SQLite p95 < 250 ms.

Run: ``python bench/hub_realtime.py [--events 200] [--rate 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccm_tui.core import ChangeKind, Task, new_task_id  # noqa: E402
from ccm_tui.hub import open_hub  # noqa: E402
from tests.support.postgres import running_cluster  # noqa: E402

WRITER = textwrap.dedent("""
    import asyncio, sys, time
    from ccm_tui.core import Event, utcnow
    from ccm_tui.hub import open_hub

    async def main(url, task_id, n, rate):
        async with open_hub(url) as hub:
            for seq in range(1, n + 1):
                await hub.append_event(Event(task_id, seq, "output", utcnow(),
                                             {"sent": time.time()}))
                await asyncio.sleep(1 / rate)
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
""")

BARE_WRITER = textwrap.dedent("""
    import asyncio, sys, time, asyncpg

    async def main(url, n, rate):
        conn = await asyncpg.connect(url)
        for _ in range(n):
            await conn.execute("SELECT pg_notify('bench', $1)", repr(time.time()))
            await asyncio.sleep(1 / rate)
        await conn.close()
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
""")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure_hub(url: str, n: int, rate: float) -> list[float]:
    latencies: list[float] = []
    async with open_hub(url) as hub:
        await hub.migrate()
        task = await hub.create_task(Task(id=new_task_id(), host="web-01", alertname="Bench"))

        async def collect() -> None:
            async for ch in hub.subscribe([ChangeKind.EVENT]):
                assert ch.event is not None
                latencies.append((time.time() - ch.event.data["sent"]) * 1000)
                if len(latencies) == n:
                    return

        reader = asyncio.create_task(collect())
        await asyncio.sleep(0.5)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, url, task.id, str(n), str(rate), cwd=ROOT)
        await proc.wait()
        await asyncio.wait_for(reader, 60)
    return latencies


async def measure_bare(url: str, n: int, rate: float) -> list[float]:
    import asyncpg

    latencies: list[float] = []
    done = asyncio.Event()

    def on_notify(_c: object, _p: int, _ch: str, payload: str) -> None:
        latencies.append((time.time() - float(payload)) * 1000)
        if len(latencies) == n:
            done.set()

    conn = await asyncpg.connect(url)
    await conn.add_listener("bench", on_notify)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BARE_WRITER, url, str(n), str(rate), cwd=ROOT)
    await proc.wait()
    await asyncio.wait_for(done.wait(), 60)
    await conn.close()
    return latencies


def line(name: str, lat: list[float]) -> tuple[str, float]:
    p50, p95 = statistics.median(lat), pct(lat, 95)
    return f"{name:<28} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   max {max(lat):7.2f} ms", p95


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--rate", type=float, default=50.0, help="events per second")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_cluster() as pg:
        sqlite = await measure_hub(f"sqlite:///{tmp}/hub.db", args.events, args.rate)
        pg.psql("CREATE DATABASE bench")
        postgres = await measure_hub(pg.url("bench"), args.events, args.rate)
        bare = await measure_bare(pg.url("bench"), args.events, args.rate)
    print(f"hub realtime, {args.events} events at {args.rate:.0f}/s, writer in another process")
    s_line, s95 = line("ccm sqlite (50 ms poll)", sqlite)
    p_line, p95 = line("ccm postgres (LISTEN/NOTIFY)", postgres)
    b_line, b95 = line("bare asyncpg NOTIFY (peer)", bare)
    print(s_line)
    print(p_line)
    print(b_line)
    print(f"ratio p95 ccm-postgres / bare = {p95 / b95:.1f}x;  "
          f"sqlite p95 {s95:.0f} ms vs goal 250 ms: {'OK' if s95 < 250 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
