"""``ccm ingest replay``'s tables: alert data shown as it came, and headings that do not mislead."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ccm_tui.core import Host
from ccm_tui.ingest.trace import TraceWriter

ROOT = Path(__file__).resolve().parents[3]
T = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("isolated_env")


def replay(trace: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "ccm_tui", "ingest", "replay", str(trace)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def test_names_with_brackets_are_shown_not_read_as_markup(tmp_path: Path) -> None:
    """An alert named ``Disk[/]Full`` made the replay end in 'unexpected MarkupError'
    after it had run; a Kibana rule name such as ``[logs] errors`` lost its brackets."""
    out = io.StringIO()
    w = TraceWriter(out)
    w.inventory(T, [Host("web-01")])
    w.write(T, "generic", body={"name": "Disk[/]Full", "host": "web-[bold]01",
                                "severity": "critical"})
    w.write(T, "generic", body={"name": "[logs] errors", "host": "web-01"})
    w.write(T + timedelta(days=2), "generic", raw="[red]not json")
    trace = tmp_path / "brackets[1].jsonl"
    trace.write_text(out.getvalue())
    text = replay(trace)
    assert text.startswith(f"{trace}: 3 requests over 2d ")
    # a trace over several days shows the date of its end too
    assert "(2026-11-27 02:00Z → 2026-11-29 02:00Z)" in text
    for shown in ("Disk[/]Full", "web-[bold]01 (unmanaged)", "[logs] errors"):
        assert shown in text, shown


def test_the_rejected_table_says_when_it_shows_only_some(tmp_path: Path) -> None:
    out = io.StringIO()
    w = TraceWriter(out)
    w.inventory(T, [Host("web-01")])
    for i in range(25):
        w.write(T + timedelta(minutes=i), "generic", raw=f"bad {i}")
    trace = tmp_path / "bad.jsonl"
    trace.write_text(out.getvalue())
    text = replay(trace)
    assert "Rejected (the first 20 of 25; the counts above have all)" in text
    # no alert reached ingest: no empty tables, and no warning about unmanaged hosts
    assert "Noisiest alerts" not in text and "Tasks per host" not in text
    assert "counted as unmanaged" not in text


def test_progress_goes_to_a_terminal_on_stderr_and_never_into_json(tmp_path: Path) -> None:
    import json
    import os
    import pty
    import threading

    overnight = ROOT / "bench" / "traces" / "overnight.jsonl"
    master, slave = pty.openpty()
    seen: list[bytes] = []

    def drain() -> None:  # a terminal that is not read would block the writer
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ccm_tui", "ingest", "replay", str(overnight), "--json"],
            stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, timeout=120)
    finally:
        os.close(slave)
    reader.join(timeout=30)
    os.close(master)
    assert done.returncode == 0
    assert json.loads(done.stdout)["requests"] == 535
    terminal = b"".join(seen).decode(errors="replace")
    assert "replaying" in terminal and "537/537" in terminal
