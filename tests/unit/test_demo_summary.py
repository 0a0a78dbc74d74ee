"""How ``ccm demo`` writes its outcome: a fix's time is MTTR, an escalation's is not."""

from __future__ import annotations

from typing import Any

from ccm_tui.commands.demo import summary_text


def _doc(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"incidents": 2, "fixed_automatically": 1, "awaiting_approval": 0, "escalated": 1,
            "alerts_suppressed": 0, "mttr_median_seconds": 1.6, "mttr_p90_seconds": 1.6,
            "ok": True, "scenarios": [
                {"ok": True, "host": "web-01", "expected": "resolved", "actual": "resolved",
                 **r} for r in rows]}


def test_a_fix_shows_its_time_and_an_escalation_its_time_to_escalate() -> None:
    text = summary_text(_doc({"name": "disk", "mttr_seconds": 1.6},
                             {"name": "unknown", "escalated_after_seconds": 1.5}))
    assert "disk             web-01     expected resolved, got resolved (fixed in 1.6s)" in text
    assert "(escalated in 1.5s)" in text
    assert text.count("MTTR") == 1  # only the totals line: MTTR is time to a fix


def test_a_row_without_a_time_has_no_parenthesis() -> None:
    text = summary_text(_doc({"name": "waiting"}))
    assert "got resolved\n" in text
