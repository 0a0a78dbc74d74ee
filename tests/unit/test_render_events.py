"""How ``ccm tasks show`` says each transcript event in one line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from ccm_tui.commands._render import _event_summary, events_table
from ccm_tui.core.model import Event

T = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def ev(kind: str, data: dict[str, Any], seq: int = 1) -> Event:
    return Event("t-1", seq, kind, T, data)


@pytest.mark.parametrize(("kind", "data", "line"), [
    ("started", {"host": "db-02", "agent_version": "0.1.0", "runbook": "disk-full"},
     "agent 0.1.0 on db-02, runbook disk-full"),
    ("step", {"phase": "diagnose", "runbook": "disk-full", "steps": ["a", "b"]},
     "diagnose · disk-full (2 steps)"),
    ("step", {"phase": "remediate", "steps": ["a"]}, "remediate (1 step)"),
    ("step", {"phase": "diagnose", "step": "tmp", "action": "find_files"}, "tmp · find_files"),
    ("evidence", {"ok": False, "summary": "bad action call",
                  "error": "param 'path': '/tmp' is not a directory"},
     "bad action call: param 'path': '/tmp' is not a directory"),
    ("evidence", {"ok": True, "summary": "0 files, 0 bytes under /var/log"},
     "0 files, 0 bytes under /var/log"),
    ("classified", {"candidates": [{"cause": "old-logs", "score": 0.95, "matched": True},
                                   {"cause": "old-backups", "score": 0, "matched": False}]},
     "causes: old-logs 0.95, old-backups 0.00 (no match)"),
    ("decision", {"verdict": "escalate", "confidence": 0.0,
                  "reasons": ["no cause matched the evidence"]},
     "escalate · confidence 0.00 · no cause matched the evidence"),
    ("verified", {"cause": "old-logs", "passed": False, "attempts": 3},
     "old-logs: FAILED after 3 check(s)"),
    ("approval_requested", {"title": "Memory hog", "confidence": 0.7671, "risk": "medium",
                            "actions": [{"steps": [{"id": "restart-service"}]}]},
     "approve? Memory hog · confidence 0.77 · risk medium · restart-service"),
])
def test_each_event_reads_as_one_line(kind: str, data: dict[str, Any], line: str) -> None:
    assert _event_summary(ev(kind, data)) == line


def test_a_narrow_terminal_keeps_seq_time_and_type_and_wraps_the_detail() -> None:
    console = Console(width=60, record=True, color_system=None)
    console.print(events_table([ev("evidence", {"summary": "x" * 150}, seq=12),
                                ev("approval_requested", {"title": "t"}, seq=13)]))
    lines = console.export_text().splitlines()
    assert lines[0].split()[:3] == ["SEQ", "TIME", "TYPE"]
    assert lines[1].split()[0] == "12" and "evidence" in lines[1]
    assert any(line.split()[:1] == ["13"] and "approval_requested" in line for line in lines)
