"""`make demo`'s command in a real terminal: the TUI shows a live fleet within 30 s,
incidents resolve on their own, and `q` leaves nothing behind."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def capture(sock: str) -> str:
    out = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "demo"],
                         capture_output=True, text=True)
    return out.stdout


def test_demo_tui_shows_a_live_fleet_and_fixes(tmp_path: Path) -> None:
    sock = f"ccm-demo-ui-{secrets.token_hex(3)}"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    env["HOME"] = str(tmp_path)
    cmd = f"cd {ROOT} && exec {sys.executable} -m ccm_tui demo --hosts 6 --seed 7"
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "demo", "-x", "160", "-y",
                    "48", cmd], check=True, env=env)
    try:
        screen, started = "", time.monotonic()
        fleet_seen_at = None
        while time.monotonic() - started < 90:
            screen = capture(sock)
            if fleet_seen_at is None and "web-01" in screen and "db-01" in screen:
                fleet_seen_at = time.monotonic() - started
            if fleet_seen_at is not None and "resolved" in screen:
                break
            time.sleep(0.5)
        assert fleet_seen_at is not None and fleet_seen_at < 30, screen
        assert "resolved" in screen and "incidents" in screen, screen
        subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "demo", "q"], check=True)
        for _ in range(60):
            alive = subprocess.run(["tmux", "-L", sock, "has-session", "-t", "demo"],
                                   capture_output=True).returncode == 0
            if not alive:
                break
            time.sleep(0.5)
        assert not alive, capture(sock)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    leftovers = subprocess.run(["pgrep", "-af", "ccm_tui demo --hosts 6 --seed 7"],
                               capture_output=True, text=True).stdout
    assert [line for line in leftovers.splitlines() if "pgrep" not in line] == []
