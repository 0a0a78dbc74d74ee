"""top_processes, memory_usage, zombie_processes, kill_process on real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from agent_runtime.actions import ActionContext, ActionError, run_action
from agent_runtime.actions.processes import read_stat


def _wait_state(pid: int, state: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_stat(pid)
        if st is not None and st.state == state:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never reached state {state}")


def test_top_processes_sees_the_test_process_and_a_busy_child() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        by_cpu = run_action("top_processes", {"by": "cpu", "limit": 5}, ActionContext())
        assert by_cpu.ok
        top = {p["pid"]: p for p in by_cpu.data["processes"]}
        assert busy.pid in top and top[busy.pid]["cpu_pct"] > 20
        by_mem = run_action("top_processes", {"by": "mem", "limit": 100000}, ActionContext())
        me = next(p for p in by_mem.data["processes"] if p["pid"] == os.getpid())
        assert me["rss_bytes"] > 1_000_000 and me["mem_pct"] >= 0
        assert "pytest" in me["cmdline"] or "python" in me["cmdline"]
        assert set(me) == {"pid", "name", "cmdline", "cpu_pct", "rss_bytes", "mem_pct", "unit"}
        rss = [p["rss_bytes"] for p in by_mem.data["processes"]]
        assert rss == sorted(rss, reverse=True)
    finally:
        busy.kill()
        busy.wait()


def test_memory_usage() -> None:
    res = run_action("memory_usage", {}, ActionContext())
    assert res.ok
    assert res.data["total_bytes"] > res.data["available_bytes"] > 0
    assert 0 <= res.data["used_pct"] <= 100 and "swap_used_pct" in res.data


def test_zombie_processes_finds_a_real_zombie() -> None:
    child = subprocess.Popen(["true"])  # exits at once; not reaped until wait()
    try:
        _wait_state(child.pid, "Z")
        res = run_action("zombie_processes", {}, ActionContext())
        assert res.ok and res.data["count"] >= 1
        mine = [z for z in res.data["zombies"] if z["pid"] == child.pid]
        assert mine and mine[0]["ppid"] == os.getpid()
        assert mine[0]["parent_name"] == read_stat(os.getpid()).name  # type: ignore[union-attr]
    finally:
        child.wait()
    after = run_action("zombie_processes", {}, ActionContext())
    assert child.pid not in [z["pid"] for z in after.data["zombies"]]


def test_kill_process_dry_run_then_real() -> None:
    victim = subprocess.Popen(["sleep", "30"])
    try:
        dry = run_action("kill_process", {"pid": victim.pid}, ActionContext(dry_run=True))
        assert dry.ok and dry.dry_run and dry.data["sent"] is False and dry.data["name"] == "sleep"
        assert victim.poll() is None
        res = run_action("kill_process", {"pid": victim.pid, "signal": "KILL"}, ActionContext())
        assert res.ok and res.changed and res.data["sent"] and res.data["exited"]
        assert victim.wait(timeout=5) == -9
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def test_kill_process_refusals() -> None:
    with pytest.raises(ActionError, match="'pid': must be > 1"):
        run_action("kill_process", {"pid": 1}, ActionContext())
    with pytest.raises(ActionError, match="agent itself"):
        run_action("kill_process", {"pid": os.getpid()}, ActionContext())
    with pytest.raises(ActionError, match="signal"):
        run_action("kill_process", {"pid": 2, "signal": "STOP"}, ActionContext())
