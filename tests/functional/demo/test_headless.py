"""``ccm demo --headless``: the whole pipeline as a subprocess, then nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(not Path("/usr/bin/tmux").exists() and
                                subprocess.run(["which", "tmux"], capture_output=True)
                                .returncode != 0, reason="tmux is not installed")

ROOT = Path(__file__).resolve().parents[3]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCM_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"))
    return env


def _descendants(pid: int) -> list[int]:
    """Processes whose parent chain reaches ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    out: list[int] = []
    frontier = {pid}
    while frontier:
        kids = {p for p, pp in parents.items() if pp in frontier}
        out.extend(kids)
        frontier = kids
    return out


def assert_clean(doc: dict[str, Any], pid: int) -> None:
    """No tmux server on the demo's socket, no temp folder, no process left."""
    ls = subprocess.run(["tmux", "-L", doc["tmux_socket"], "ls"], capture_output=True)
    assert ls.returncode != 0, ls.stdout
    assert not Path(doc["temp_dir"]).exists()
    assert not Path(f"/tmp/tmux-{os.getuid()}/{doc['tmux_socket']}").exists()
    stray = subprocess.run(["pgrep", "-a", "-f", doc["temp_dir"]], capture_output=True,
                           text=True).stdout.strip()
    assert stray == "", stray
    assert _descendants(pid) == []


def test_headless_demo_ends_every_fault_as_expected(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "demo", "--headless", "--hosts", "6", "--seed", "7",
         "--duration", "50", "--json"], cwd=ROOT, env=_env(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=110)
    assert out, err
    doc = json.loads(out)
    rows = {r["name"]: r for r in doc["scenarios"]}
    assert proc.returncode == 0, json.dumps(rows, indent=1) + err[-2000:]
    assert doc["ok"] and all(r["actual"] == r["expected"] for r in rows.values())
    assert set(rows) == {"disk-old-logs", "crashed-service", "memory-hog", "unknown-file",
                         "flapping", "package-update"}
    assert rows["disk-old-logs"]["mttr_seconds"] < 5
    # an escalation is no repair: its time is time to escalate, never an MTTR
    assert "mttr_seconds" not in rows["unknown-file"]
    assert rows["unknown-file"]["escalated_after_seconds"] > 0
    assert doc["fixed_automatically"] >= 2 and doc["awaiting_approval"] >= 1
    assert doc["escalated"] >= 1 and doc["alerts_suppressed"] >= 1
    assert doc["mttr_median_seconds"] is not None and doc["mttr_p90_seconds"] is not None
    assert_clean(doc, proc.pid)


def test_without_a_terminal_the_demo_runs_headless(tmp_path: Path) -> None:
    """`make demo` in CI or piped into a file: no TUI drawn into the pipe, which
    would run until killed; the headless run, its outcome, and nothing left behind."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "demo", "--hosts", "5", "--seed", "3",
         "--duration", "3", "--json"], cwd=ROOT, env=_env(tmp_path), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    assert "no terminal to draw the TUI on, so running headless" in err
    assert proc.returncode in (0, 1), err[-2000:]  # 3 s may end before every fault has
    doc = json.loads(out)
    assert {r["name"] for r in doc["scenarios"]} >= {"disk-old-logs", "flapping"}
    assert_clean(doc, proc.pid)


def test_sigint_mid_run_leaves_nothing_behind(tmp_path: Path) -> None:
    hub = tmp_path / "kept.db"  # kept, so this test can see when the run is under way
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "demo", "--headless", "--hosts", "5", "--seed", "3",
         "--duration", "60", "--json", "--hub", f"sqlite:///{hub}"], cwd=ROOT,
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _has_tasks(hub):  # the fleet is up and the first faults are being handled
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
        time.sleep(0.2)
    assert proc.poll() is None
    kids = _descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    doc = json.loads(out)
    assert doc["interrupted"] is True
    assert_clean(doc, proc.pid)
    alive = [k for k in kids if _running(k)]
    assert alive == [], [Path(f"/proc/{k}/cmdline").read_bytes() for k in alive]


def _has_tasks(db: Path) -> bool:
    """Whether the demo's hub has made a task yet (read-only, as any other reader)."""
    import sqlite3

    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return bool(conn.execute("SELECT count(*) FROM ccm_tasks").fetchone()[0])
    except sqlite3.Error:  # the schema is not there yet
        return False


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for init to reap it is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_demo_never_writes_into_the_hub_ccm_hub_names(tmp_path: Path) -> None:
    """An operator's CCM_HUB names the real hub: the demo's simulated web-01, db-01…
    must not become tasks there. Only --hub on the command line keeps the demo's hub."""
    real, kept = tmp_path / "real.db", tmp_path / "kept.db"
    argv = ["demo", "--headless", "--hosts", "5", "--seed", "3", "--duration", "4", "--json"]

    def demo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ccm_tui", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    ignored = demo(*argv, env={**_env(tmp_path), "CCM_HUB": f"sqlite:///{real}"})
    assert ignored.returncode in (0, 1), ignored.stderr[-2000:]
    assert "CCM_HUB is ignored" in ignored.stderr
    assert not real.exists()
    assert not Path(json.loads(ignored.stdout)["temp_dir"]).exists()  # its own hub went too

    given = demo("--hub", f"sqlite:///{kept}", *argv, env=_env(tmp_path))
    assert given.returncode in (0, 1), given.stderr[-2000:]
    assert "CCM_HUB" not in given.stderr and kept.exists()
