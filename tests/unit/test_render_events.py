"""``ccm tasks show`` prints a transcript the way the TUI's transcript pane does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from ccm_tui.commands._render import transcript
from ccm_tui.core.model import Event
from ccm_tui.rendering.transcript import render_event

T = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def ev(kind: str, data: dict[str, Any], seq: int = 1) -> Event:
    return Event("t-1", seq, kind, T, data)


def plain(event: Event) -> list[str]:
    return [t.plain for t in render_event(event)]


def test_a_failed_step_shows_why_not_just_that_it_failed() -> None:
    [line] = plain(ev("evidence", {"step": "tmp", "ok": False, "summary": "bad action call",
                                   "error": "param 'path': '/tmp' is not a directory"}))
    assert line.endswith("✗ tmp: bad action call: param 'path': '/tmp' is not a directory")
    [ok] = plain(ev("evidence", {"step": "old_logs", "ok": True,
                                 "summary": "0 files, 0 bytes under /var/log"}))
    assert ok.endswith("✓ old_logs: 0 files, 0 bytes under /var/log")


def test_a_held_fix_says_why_and_by_whom() -> None:
    [line] = plain(ev("step", {"phase": "held", "actor": "jordan", "note": "silence 3: deploy",
                               "reason": "automatic fixes are on hold; asking instead"}))
    assert line.endswith("held by jordan · silence 3: deploy · automatic fixes are on hold; "
                         "asking instead")


def test_the_command_line_transcript_is_the_panes() -> None:
    events = [ev("started", {"host": "db-02", "runbook": "disk-full"}, 1),
              ev("decision", {"verdict": "escalate", "confidence": 0.0, "evidence_match": 0.0,
                              "prior": 0.95, "risk_cap": 1.0, "risk": "low",
                              "reasons": ["no cause matched the evidence"]}, 2)]
    console = Console(width=120, record=True, color_system=None)
    console.print(transcript(events))
    printed = console.export_text().splitlines()
    assert printed == [line for e in events for line in plain(e)]
    assert "ESCALATE · confidence 0.00" in printed[1]
    assert printed[2].strip() == "· no cause matched the evidence"
