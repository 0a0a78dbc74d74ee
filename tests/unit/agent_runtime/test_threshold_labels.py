"""Threshold labels (``threshold=0``, negative, NaN, huge) against the real agent.

A runbook compares evidence with ``{{ alert.labels.threshold | default(80) }}``.
Anyone who can post an alert sets its labels: a label may only make such a condition
harder to hold than the runbook's own default (never make a healthy host match, never
make a fix that did nothing pass verify), and the decision says which threshold was
used and why.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from runtime_helpers import builtin, events, finished, of_type, put, run_agent, sandbox, spec

from agent_runtime.conditions import check_all, parse_condition, threshold_for
from agent_runtime.decide import escalations

MB = 1024 * 1024


def _runbook(marker: Path) -> dict[str, Any]:
    bar = "{{ alert.labels.threshold | default(80) }}"
    return {
        "id": "full", "title": "full", "risk": "low", "mode": "auto",
        "match": {"labels": ['alertname="Full"'], "evidence": ["evidence.d.used_pct >= " + bar]},
        "diagnose": [{"id": "d", "action": "disk_usage", "params": {"path": "/"}}],
        "classify": [{"cause": "full", "when": ["evidence.d.used_pct >= " + bar],
                      "weight": 0.99, "remediate": ["fix"]}],
        "remediate": [{"id": "fix", "action": "shell",
                       "params": {"argv": [sys.executable, "-c",
                                           f"open({str(marker)!r}, 'w').close()"]}}],
        "verify": {"action": "disk_usage", "params": {"path": "/"},
                   "expect": ["result.used_pct < {{ alert.labels.target | default(80) }}"]},
    }


def _run(tmp_path: Path, used_mb: float, **labels: str) -> tuple[list[dict[str, Any]], Path]:
    root = sandbox(tmp_path / "host", total_bytes=10 * MB)
    if used_mb:
        put(root, "/data/big.bin", size=int(used_mb * MB))
    marker = tmp_path / "fix-ran"
    s = spec("t-thr", root, [_runbook(marker)], {"alertname": "Full", **labels},
             tmp_path / "journal")
    res = run_agent(s, tmp_path)
    assert res.returncode == 0, res.stderr
    return events(res.stdout), marker


@pytest.mark.parametrize("value", ["0", "-5", "nan", "-inf", "abc"])
def test_a_loosening_threshold_label_does_not_make_a_healthy_host_match(
        tmp_path: Path, value: str) -> None:
    evts, marker = _run(tmp_path, 0, threshold=value)
    decision = of_type(evts, "decision")[0]["data"]
    assert decision["verdict"] == "escalate" and decision["confidence"] == 0.0
    assert not marker.exists() and finished(evts)["outcome"] == "escalated"
    [note] = [t for t in decision["label_thresholds"] if t["where"] == "match.evidence"]
    assert (note["label_value"], note["runbook"], note["used"]) == (value, 80, 80)
    assert note["label_used"] is False
    assert any(f'threshold="{value}"' in r and ("the runbook's own 80 is used" in r
                                                 or "would loosen the runbook's own 80" in r)
               for r in decision["reasons"]), decision["reasons"]
    [match] = decision["match_confirmation"]
    assert match["condition"] == "evidence.d.used_pct >= 80" and match["ok"] is False


def test_a_huge_threshold_label_only_tightens(tmp_path: Path) -> None:
    evts, marker = _run(tmp_path, 9, threshold="1e9")
    decision = of_type(evts, "decision")[0]["data"]
    assert decision["verdict"] == "escalate" and not marker.exists()
    [note] = [t for t in decision["label_thresholds"] if t["where"] == "match.evidence"]
    assert note["used"] == "1e9" and note["label_used"] is True
    assert "is at least as strict as the runbook's own 80" in note["why"]


def test_a_stricter_threshold_label_is_used_and_a_full_host_is_fixed(tmp_path: Path) -> None:
    evts, marker = _run(tmp_path, 9, threshold="85")
    decision = of_type(evts, "decision")[0]["data"]
    assert decision["verdict"] == "auto" and decision["confidence"] >= 0.9
    assert decision["match_confirmation"][0]["condition"] == 'evidence.d.used_pct >= "85"'
    assert not any("would loosen" in r for r in decision["reasons"])
    assert 'label threshold="85" is at least as strict as the runbook\'s own 80: the ' \
        "label's value is used" in decision["reasons"]
    assert marker.exists()  # the fix ran (it frees nothing, so verify fails below)
    assert finished(evts)["outcome"] != "resolved"


def test_a_loose_verify_label_cannot_pass_a_fix_that_did_nothing(tmp_path: Path) -> None:
    evts, marker = _run(tmp_path, 9, target="1000")
    assert marker.exists()
    [verified] = of_type(evts, "verified")
    assert verified["data"]["passed"] is False
    [row] = verified["data"]["report"]
    assert row["condition"] == "result.used_pct < 80" and row["threshold"]["used"] == 80
    assert "would loosen the runbook's own 80" in row["threshold"]["why"]
    assert finished(evts)["outcome"] != "resolved"


def test_a_label_may_only_make_an_escalation_likelier() -> None:
    rb = {"escalate_when": [{"when": ["evidence.d.used_pct >= "
                                      "{{ alert.labels.stop_at | default(95) }}"],
                             "reason": "too full to fix safely"}]}

    def ctx(pct: float, **labels: str) -> dict[str, Any]:
        return {"alert": {"labels": labels}, "evidence": {"d": {"used_pct": pct}}}

    assert escalations(rb, ctx(91)) == []
    assert escalations(rb, ctx(91, stop_at="50")) == ["too full to fix safely"]
    assert escalations(rb, ctx(97, stop_at="1000")) == ["too full to fix safely"]
    assert escalations(rb, ctx(97, stop_at="nan")) == ["too full to fix safely"]


def test_an_annotation_threshold_is_held_to_the_same_rule() -> None:
    cond = parse_condition("evidence.d.used_pct >= "
                           "{{ alert.annotations.limit | default(80) }}")
    ctx: dict[str, Any] = {"alert": {"labels": {}, "annotations": {"limit": "0"}},
                           "evidence": {"d": {"used_pct": 5}}}
    value, note = threshold_for(cond, ctx)
    assert value == 80 and note is not None and note["labels"] == {"alert.annotations.limit": "0"}
    assert ctx["alert"]["annotations"] == {"limit": "0"}  # the context is left alone
    assert check_all(["evidence.d.used_pct >= {{ alert.annotations.limit | default(80) }}"],
                     ctx)[0]["ok"] is False


def test_the_builtin_disk_full_runbook_ignores_threshold_zero(tmp_path: Path) -> None:
    root = sandbox(tmp_path / "host", total_bytes=100 * MB)
    put(root, "/var/log/app/old.log", size=MB, age_days=30)
    s = spec("t-disk", root, [builtin("disk-full")],
             {"alertname": "DiskFull", "threshold": "0"}, tmp_path / "journal")
    res = run_agent(s, tmp_path)
    assert res.returncode == 0, res.stderr
    evts = events(res.stdout)
    decision = of_type(evts, "decision")[0]["data"]
    assert decision["verdict"] == "escalate" and not of_type(evts, "action")
    assert (root / "var/log/app/old.log").exists()
    assert any("would loosen the runbook's own 80" in r for r in decision["reasons"])
