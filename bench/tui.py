"""``ccm tui`` under load: 1,000 hosts, 100 events/s, key-to-repaint latency, CPU, RSS.

A real SQLite hub is seeded with 1,000 hosts (health history for each) and 200
incidents; a **separate writer process** then appends 100 transcript events/s to
the newest incident (the one the app selects, so its transcript follows every
event) plus 10 health snapshots/s for random hosts. The app runs headless
(``App.run_test``) in its own process, the busy incident selected and the
fleet grid focused, and receives
``--keys-per-s`` arrow keys (10 down, 10 up, repeated) for ``--duration`` seconds.

Key-to-repaint latency: from posting the key event to the end of the first
screen refresh after the key's action ran (the compositor's update, rendered to
the escape sequences a terminal would get — headless Textual skips only the
write). CPU share: process CPU time (all threads) over wall time, in the
measured window. Peak RSS: ``ru_maxrss`` of that process.

Peer, in the same run and its own process: a bare Textual app with one plain
``DataTable`` of 1,000 host rows receiving the same keys (no hub, no events) —
the floor for any Textual app of that size. Goals (issue 6): p95 < 100 ms,
peak RSS < 300 MB.

Run: ``python bench/tui.py [--duration 60] [--hosts 1000] [--rate 100]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccm_tui.core.model import Event, HealthSnapshot, Host, Task  # noqa: E402
from ccm_tui.hub import open_hub  # noqa: E402

GROUPS = ("web", "app", "db", "worker", "cache")
STATES = [["claimed", "diagnosing", "escalated"],
          ["claimed", "diagnosing", "remediating", "verifying", "resolved"],
          ["claimed", "diagnosing", "awaiting_approval"], ["claimed", "diagnosing"]]
BUSY = "t-bench0busy"
KEYS = ["down"] * 10 + ["up"] * 10
SIZE = (160, 48)


# -- the hub -----------------------------------------------------------------------------------
async def seed(url: str, n_hosts: int, n_tasks: int = 200) -> None:
    """Hosts with 3 health points each, incidents in every state, the busy one newest."""
    rng = random.Random(6)
    now = datetime.now(UTC)
    hosts = [Host(name=f"{GROUPS[i % len(GROUPS)]}-{i:04d}", address=f"10.{i // 250}.{i % 250}.1",
                  groups=(GROUPS[i % len(GROUPS)],)) for i in range(n_hosts)]
    async with open_hub(url) as hub:
        await hub.upsert_hosts(hosts)
        for h in hosts:
            for k in range(3):
                await hub.record_health(HealthSnapshot(
                    host=h.name, taken_at=now - timedelta(minutes=5 * (3 - k)),
                    cpu_pct=rng.uniform(5, 99), mem_pct=rng.uniform(20, 95),
                    disk_pct=rng.uniform(10, 97), load1=rng.uniform(0, 8)))
        for i in range(n_tasks):
            created = now - timedelta(minutes=5 * (n_tasks - i) + 10)
            tid = f"t-bench{i:05d}"
            await hub.create_task(Task(id=tid, host=hosts[(i * 7 + 1) % n_hosts].name,
                                       alertname=rng.choice(["DiskFull", "HighLoad", "OOM"]),
                                       created_at=created, updated_at=created))
            for state in STATES[i % len(STATES)]:
                await hub.transition(tid, state)
        await hub.create_task(Task(id=BUSY, host=hosts[0].name, alertname="QueueBacklog",
                                   created_at=now, updated_at=now))
        await hub.transition(BUSY, "claimed")
        await hub.transition(BUSY, "diagnosing")


async def writer(url: str, rate: float, n_hosts: int) -> None:
    """Append ``rate`` events/s to the busy task (and 1 health per 10) until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    rng = random.Random(7)
    written = health = 0
    async with open_hub(url) as hub:
        seq = await hub.last_seq(BUSY)
        start = time.monotonic()
        while not stop.is_set():
            seq += 1
            await hub.append_event(Event(BUSY, seq, "output", datetime.now(UTC),
                                         {"step": "top", "stream": "stdout",
                                          "text": f"line {seq}: queue depth {rng.randrange(9999)}"}))
            written += 1
            if written % 10 == 0:
                i = rng.randrange(n_hosts)
                await hub.record_health(HealthSnapshot(
                    host=f"{GROUPS[i % len(GROUPS)]}-{i:04d}", taken_at=datetime.now(UTC),
                    cpu_pct=rng.uniform(5, 99), mem_pct=rng.uniform(20, 95),
                    disk_pct=rng.uniform(10, 97)))
                health += 1
            delay = start + written / rate - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
        elapsed = time.monotonic() - start
    print(json.dumps({"events": written, "health": health, "seconds": elapsed}), flush=True)


# -- measuring an app --------------------------------------------------------------------------
async def measure(app: Any, duration: float, keys_per_s: float) -> dict[str, Any]:
    """Send keys for ``duration`` s; time each from posting to the next refresh after its action."""
    from textual import events

    loop = asyncio.get_running_loop()
    state: dict[str, Any] = {"armed": False, "handled": False, "done": None, "frames": 0}
    run_action, display = app.run_action, app._display

    async def hooked_action(*args: Any, **kw: Any) -> Any:
        result = await run_action(*args, **kw)
        if state["armed"]:
            state["handled"] = True
        return result

    def hooked_display(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is None:
            return
        render = getattr(renderable, "render_segments", None)
        if render is not None:  # the terminal write headless skips: build its bytes
            render(app.console)
        state["frames"] += 1
        done = state["done"]
        if state["handled"] and done is not None and not done.done():
            done.set_result(time.perf_counter())

    app.run_action, app._display = hooked_action, hooked_display
    latencies: list[float] = []
    missed = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    n = 0
    while time.perf_counter() - wall0 < duration:
        key = KEYS[n % len(KEYS)]
        n += 1
        state.update(armed=True, handled=False, done=loop.create_future())
        t0 = time.perf_counter()
        app.post_message(events.Key(key, None))
        try:
            t1 = await asyncio.wait_for(state["done"], 2.0)
            latencies.append(t1 - t0)
        except TimeoutError:
            missed += 1
        state["armed"] = False
        rest = t0 + 1 / keys_per_s - time.perf_counter()
        if rest > 0:
            await asyncio.sleep(rest)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"keys": n, "missed": missed, "frames": state["frames"], "wall": wall,
            "cpu_share": cpu / wall, "latencies": latencies,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


async def run_ccm(url: str, duration: float, keys_per_s: float) -> dict[str, Any]:
    """The control centre on the seeded hub, the fleet grid focused."""
    from ccm_tui.app import CCMApp
    from ccm_tui.app.screens.main import MainScreen

    app = CCMApp(open_hub(url), actor="bench", own_hub=True)
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        while not (isinstance(app.screen, MainScreen) and app.screen.loaded):
            await pilot.pause(0.05)
        screen = app.screen
        load = time.perf_counter() - t0
        assert len(screen.grid.order()) > 0
        screen.timeline.select_task(BUSY)  # the operator watches the live incident
        await pilot.pause(1.0)
        screen.grid.focus()
        seen0 = len(screen.transcript.events)
        out = await measure(app, duration, keys_per_s)
        out.update(load_s=load, hosts=len(screen.grid.order()), selected=screen.selected,
                   transcript_events=len(screen.transcript.events) - seen0)
    return out


async def run_peer(n_hosts: int, duration: float, keys_per_s: float) -> dict[str, Any]:
    """A bare Textual app: one DataTable of ``n_hosts`` rows, focused."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    rng = random.Random(6)

    class Peer(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("host", "status", "cpu", "mem", "disk")
            for i in range(n_hosts):
                table.add_row(f"{GROUPS[i % len(GROUPS)]}-{i:04d}", "ok",
                              *(f"{rng.uniform(5, 99):.0f}%" for _ in range(3)))
            table.focus()

    app = Peer()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(1.0)
        return await measure(app, duration, keys_per_s)


# -- the run -----------------------------------------------------------------------------------
def child(args: argparse.Namespace, role: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, "--hub", args.hub, "--hosts", str(args.hosts),
         "--rate", str(args.rate), "--duration", str(args.duration),
         "--keys-per-s", str(args.keys_per_s), *extra],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)


def result_of(proc: subprocess.Popen[str], role: str, timeout: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"the {role} process failed ({proc.returncode})")
    doc: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return doc


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of keys (default 60)")
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=100.0, help="events per second (default 100)")
    ap.add_argument("--keys-per-s", type=float, default=10.0)
    ap.add_argument("--role", choices=["main", "writer", "ccm", "peer"], default="main",
                    help=argparse.SUPPRESS)
    ap.add_argument("--hub", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "writer":
        asyncio.run(writer(args.hub, args.rate, args.hosts))
        return
    if args.role == "ccm":
        print(json.dumps(asyncio.run(run_ccm(args.hub, args.duration, args.keys_per_s))))
        return
    if args.role == "peer":
        print(json.dumps(asyncio.run(run_peer(args.hosts, args.duration, args.keys_per_s))))
        return

    with tempfile.TemporaryDirectory(prefix="ccm-bench-tui-") as tmp:
        args.hub = f"sqlite:///{Path(tmp) / 'hub.db'}"
        t0 = time.perf_counter()
        asyncio.run(seed(args.hub, args.hosts))
        print(f"seeded {args.hosts} hosts, 201 incidents in {time.perf_counter() - t0:.1f}s; "
              f"{args.rate:g} events/s for {args.duration:g}s, {args.keys_per_s:g} keys/s",
              file=sys.stderr)
        write = child(args, "writer")
        try:
            ccm = result_of(child(args, "ccm"), "ccm", args.duration + 120)
        finally:
            write.send_signal(signal.SIGTERM)
        wrote = result_of(write, "writer", 30)
        peer = result_of(child(args, "peer"), "peer", args.duration + 120)
    report(args, ccm, peer, wrote)


def report(args: argparse.Namespace, ccm: dict[str, Any], peer: dict[str, Any],
           wrote: dict[str, Any]) -> None:
    """The table, the ratios and the goals."""
    print(f"writer: {wrote['events']} events + {wrote['health']} health in "
          f"{wrote['seconds']:.1f}s = {wrote['events'] / wrote['seconds']:.1f} events/s "
          f"(separate process, SQLite)")
    print(f"ccm: {ccm['hosts']} hosts on the grid, started and loaded in {ccm['load_s']:.1f}s; transcript "
          f"of {ccm['selected']} followed {ccm['transcript_events']} new events")
    rows = []
    for name, r in (("ccm tui", ccm), ("peer DataTable", peer)):
        lat = [x * 1000 for x in r["latencies"]]
        rows.append((name, pct(lat, 50), pct(lat, 95), max(lat, default=0.0),
                     statistics.fmean(lat) if lat else 0.0, r["cpu_share"] * 100, r["rss_mb"],
                     r["keys"], r["missed"], r["frames"] / r["wall"]))
    print(f"{'':16} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'mean ms':>8} {'CPU %':>7} "
          f"{'RSS MB':>7} {'keys':>5} {'missed':>6} {'fps':>5}")
    for row in rows:
        print(f"{row[0]:16} {row[1]:8.1f} {row[2]:8.1f} {row[3]:8.1f} {row[4]:8.1f} "
              f"{row[5]:7.1f} {row[6]:7.0f} {row[7]:5d} {row[8]:6d} {row[9]:5.1f}")
    (_, p50, p95, *_r), peer_row = rows
    ratio = [f"p50 ×{p50 / peer_row[1]:.2f}" if peer_row[1] else "p50 -",
             f"p95 ×{p95 / peer_row[2]:.2f}" if peer_row[2] else "p95 -",
             f"CPU ×{rows[0][5] / peer_row[5]:.2f}" if peer_row[5] else "CPU -",
             f"RSS ×{rows[0][6] / peer_row[6]:.2f}"]
    print("ccm / peer: " + ", ".join(ratio))
    print(f"goals: p95 < 100 ms: {'met' if p95 < 100 else 'MISSED'} ({p95:.1f} ms); "
          f"peak RSS < 300 MB: {'met' if rows[0][6] < 300 else 'MISSED'} ({rows[0][6]:.0f} MB)")


if __name__ == "__main__":
    main()
