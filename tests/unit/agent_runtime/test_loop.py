"""The remediation loop, driven as a real subprocess on a sandboxed host root."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from runtime_helpers import (
    REPO,
    Agent,
    agent_cmd,
    agent_env,
    builtin,
    events,
    finished,
    journal,
    of_type,
    put,
    run_agent,
    sandbox,
    spec,
)

MB = 1_000_000
DISK_ALERT = {"alertname": "DiskFull", "mountpoint": "/", "severity": "critical"}


def full_disk(tmp_path: Path) -> Path:
    """A 10 MB quota, 92% full: 8 old rotated logs plus a live log."""
    root = sandbox(tmp_path / "host", total_bytes=10 * MB)
    for i in range(8):
        put(root, f"/var/log/app/app.log.{i + 1}", size=1_140_000, age_days=10)
    put(root, "/var/log/app/app.log", size=80_000, age_days=0)
    return root


def disk_spec(tmp_path: Path, root: Path, task: str = "t-disk", **changes: Any) -> dict:
    runbook = builtin("disk-full")
    runbook.update(changes)
    return spec(task, root, [runbook], DISK_ALERT, tmp_path / "journal")


def test_disk_full_auto_frees_space_and_the_journal_tells_the_story(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    res = run_agent(disk_spec(tmp_path, root), tmp_path)
    assert res.returncode == 0, res.stderr
    evts = events(res.stdout)

    # journal == what was printed, seq 1..n
    assert journal(tmp_path / "journal", "t-disk") == evts
    assert [e["seq"] for e in evts] == list(range(1, len(evts) + 1))
    assert all(e["task"] == "t-disk" for e in evts)

    types = [e["type"] for e in evts]
    assert types[0] == "started" and types[-1] == "finished"
    order = ["started", "evidence", "classified", "decision", "action", "verified", "finished"]
    assert [t for t in dict.fromkeys(types) if t in order] == order

    disk = next(e for e in of_type(evts, "evidence") if e["data"]["step"] == "disk")
    assert disk["data"]["value"]["used_pct"] >= 92
    decision = of_type(evts, "decision")[0]["data"]
    assert decision["verdict"] == "auto"
    for key in ("evidence_match", "prior", "risk", "risk_cap", "confidence", "thresholds",
                "mode", "reasons"):
        assert key in decision
    assert decision["confidence"] == pytest.approx(
        decision["evidence_match"] * decision["prior"] * decision["risk_cap"])
    action = of_type(evts, "action")[0]["data"]
    assert action["step"] == "clean-old-logs" and action["dry_run"] is False
    assert action["data"]["count"] == 8 and action["data"]["bytes_freed"] == 8 * 1_140_000
    verified = of_type(evts, "verified")[0]["data"]
    assert verified["passed"] is True and verified["result"]["used_pct"] < 80
    done = finished(evts)
    assert done["outcome"] == "resolved" and done["cause"] == "old-logs"

    # on disk: the old logs are gone, the live log stays
    assert sorted(p.name for p in (root / "var/log/app").iterdir()) == ["app.log"]


def test_disk_full_suggest_waits_for_approval_then_fixes(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    agent = Agent(disk_spec(tmp_path, root, mode="suggest"), tmp_path)
    try:
        ask = agent.read_until("approval_requested")["data"]
        assert ask["risk"] == "low" and ask["confidence"] >= 0.9
        assert ask["actions"][0]["steps"][0]["action"] == "clean_files"
        dry = ask["dry_run"][0]["steps"][0]
        assert dry["dry_run"] is True and dry["data"]["count"] == 8
        assert len(list((root / "var/log/app").iterdir())) == 9  # nothing deleted yet
        agent.send("approve")
        done = agent.finish()
    finally:
        agent.kill()
    assert done["outcome"] == "resolved"
    assert sorted(p.name for p in (root / "var/log/app").iterdir()) == ["app.log"]
    types = [e["type"] for e in agent.events]
    assert types.index("approval_requested") < types.index("verified")
    real = [e for e in of_type(agent.events, "action") if not e["data"]["dry_run"]]
    assert len(real) == 1


@pytest.mark.parametrize("answer, outcome", [
    ("reject", "rejected"), ("escalate", "escalated"), ("cancel", "cancelled")])
def test_suggest_answers_other_than_approve_change_nothing(tmp_path: Path, answer: str,
                                                          outcome: str) -> None:
    root = full_disk(tmp_path)
    agent = Agent(disk_spec(tmp_path, root, mode="suggest"), tmp_path)
    try:
        agent.read_until("approval_requested")
        agent.send("approve", task="another-task")  # ignored: not for this task
        agent.send(answer)
        done = agent.finish()
    finally:
        agent.kill()
    assert done["outcome"] == outcome
    assert done["actor"] == "jordan"
    if outcome == "escalated":
        assert done["evidence"]["disk"]["used_pct"] >= 92
    assert len(list((root / "var/log/app").iterdir())) == 9


def test_shadow_mode_only_dry_runs(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    res = run_agent(disk_spec(tmp_path, root, mode="shadow"), tmp_path)
    evts = events(res.stdout)
    done = finished(evts)
    assert done["outcome"] == "noop" and done["would"] == "shadow"
    assert all(e["data"]["dry_run"] for e in of_type(evts, "action"))
    assert len(list((root / "var/log/app").iterdir())) == 9


def test_confidence_from_prior_and_risk_policy(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    # a runbook that often failed here: 0.95 x 0.6 x 1.0 = 0.57 -> suggest
    s = disk_spec(tmp_path, root, task="t-prior")
    s["priors"] = {"disk-full": 0.6}
    agent = Agent(s, tmp_path)
    try:
        decision = agent.read_until("decision")["data"]
        assert decision["verdict"] == "suggest" and decision["confidence"] == pytest.approx(0.57)
        assert decision["prior_known"] is True
        agent.read_until("approval_requested")
        agent.send("reject")
        assert agent.finish()["outcome"] == "rejected"
    finally:
        agent.kill()
    # 0.95 x 0.3 -> below the suggest threshold: escalate with the evidence
    s = disk_spec(tmp_path, root, task="t-prior-low")
    s["priors"] = {"disk-full": 0.3}
    done = finished(events(run_agent(s, tmp_path).stdout))
    assert done["outcome"] == "escalated" and "largest" in done["evidence"]
    # a high-risk runbook is never automatic under max_auto_risk=medium
    s = disk_spec(tmp_path, root, task="t-risk", risk="high")
    s["policy"]["risk_caps"] = {"high": 1.0}
    s["policy"]["dry_run"] = True
    decision = of_type(events(run_agent(s, tmp_path).stdout), "decision")[0]["data"]
    assert decision["verdict"] == "suggest"
    assert any("above the automatic limit" in r for r in decision["reasons"])


def test_failed_verification_ends_failed_without_retry(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    put(root, "/var/lib/db/huge.bin", size=0)
    runbook = builtin("disk-full")
    runbook["on_failure"] = "fail"
    runbook["verify"]["expect"] = ["result.used_pct < 0"]  # can never pass
    res = run_agent(spec("t-fail", root, [runbook], DISK_ALERT, tmp_path / "journal"), tmp_path)
    evts = events(res.stdout)
    done = finished(evts)
    assert done["outcome"] == "failed"
    assert [t["cause"] for t in done["tried"]] == ["old-logs"]
    assert done["tried"][0]["verified"] is False
    assert len(of_type(evts, "action")) == 1  # one fix, not retried
    assert "no fix passed verification" in done["reasons"]


def test_no_matching_runbook_escalates(tmp_path: Path) -> None:
    root = sandbox(tmp_path / "host")
    s = spec("t-none", root, [builtin("disk-full")], {"alertname": "Unknown"}, tmp_path / "j")
    done = finished(events(run_agent(s, tmp_path).stdout))
    assert done["outcome"] == "escalated"
    assert done["reasons"] == ["no runbook matches this alert"]


def test_alert_label_reaches_shell_as_one_literal_argument(tmp_path: Path) -> None:
    """A hostile label flows from the alert into a `shell` step: it arrives as one
    argv element (argv form) and as one quoted word (command template form)."""
    root = sandbox(tmp_path / "host")
    out = tmp_path / "argv.json"
    recorder = tmp_path / "record.py"
    recorder.write_text("import json, sys\n"
                        "with open(sys.argv[1], 'a') as fh:\n"
                        "    fh.write(json.dumps(sys.argv[2:]) + '\\n')\n")
    canary = tmp_path / "canary"
    canary.write_text("still here")
    payload = f'"; rm -rf {canary} #'
    runbook = {
        "id": "echo-label", "title": "t", "risk": "low", "mode": "auto",
        "match": {"labels": ["alertname=Echo"]},
        "diagnose": [{"id": "disk", "action": "disk_usage", "params": {"path": "/"}}],
        "classify": [{"cause": "c", "when": ["evidence.disk.total_bytes > 0"], "weight": 1.0,
                      "remediate": ["argv-form", "command-form"]}],
        "remediate": [
            {"id": "argv-form", "action": "shell", "params": {
                "argv": [sys.executable, str(recorder), str(out), "{{ alert.labels.note }}"]}},
            {"id": "command-form", "action": "shell", "params": {
                "command": f"{sys.executable} {recorder} {out} {{}} tail",
                "args": ["{{ alert.labels.note }}"]}},
        ],
    }
    s = spec("t-inject", root, [runbook], {"alertname": "Echo", "note": payload},
             tmp_path / "j")
    res = run_agent(s, tmp_path)
    assert finished(events(res.stdout))["outcome"] == "resolved", res.stdout
    calls = [json.loads(x) for x in out.read_text().splitlines()]
    assert calls == [[payload], [payload, "tail"]]
    assert canary.read_text() == "still here"


def test_spec_on_stdin_then_control_lines(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    s = disk_spec(tmp_path, root, task="t-stdin", mode="suggest")
    control = json.dumps({"v": 1, "type": "approve", "task": "t-stdin", "actor": "ops"})
    res = subprocess.run(agent_cmd("run", "--spec", "-"),
                         input=json.dumps(s, indent=2) + "\n" + control + "\n",
                         capture_output=True, text=True, timeout=60, cwd=str(REPO),
                         env=agent_env())
    assert res.returncode == 0, res.stderr
    assert finished(events(res.stdout))["outcome"] == "resolved"


def test_control_file_answers_after_stdin_is_gone(tmp_path: Path) -> None:
    """A re-attached daemon answers through the control file next to the journal."""
    root = full_disk(tmp_path)
    agent = Agent(disk_spec(tmp_path, root, task="t-cf", mode="suggest"), tmp_path)
    try:
        ask = agent.read_until("approval_requested")["data"]
        assert agent.proc.stdin is not None
        agent.proc.stdin.close()  # the SSH channel died
        with open(ask["control_file"], "a") as fh:
            fh.write(json.dumps({"v": 1, "type": "approve", "task": "t-cf", "actor": "d2"}) + "\n")
        done = agent.read_until("finished")["data"]
        assert agent.proc.wait(timeout=30) == 0
    finally:
        agent.kill()
    assert done["outcome"] == "resolved"


def test_sigterm_finishes_cancelled(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    agent = Agent(disk_spec(tmp_path, root, task="t-term", mode="suggest"), tmp_path)
    try:
        agent.read_until("approval_requested")
        agent.proc.send_signal(signal.SIGTERM)
        done = agent.read_until("finished")["data"]
        assert agent.proc.wait(timeout=30) == 0
    finally:
        agent.kill()
    assert done["outcome"] == "cancelled"


@pytest.mark.parametrize("body, message", [
    ("{not json", "bad task spec"),
    ('{"host": "x"}', "needs a 'task' id"),
    ('{"task": "t", "policy": {"auto_threshold": 7}}', "auto_threshold"),
    ('{"task": "t", "surprise": 1}', "unknown task spec keys"),
])
def test_bad_spec_exits_2(tmp_path: Path, body: str, message: str) -> None:
    f = tmp_path / "spec.json"
    f.write_text(body)
    res = subprocess.run(agent_cmd("run", "--spec", str(f)), capture_output=True, text=True,
                         timeout=30, cwd=str(REPO), env=agent_env())
    assert res.returncode == 2
    assert message in res.stderr


def test_invalid_runbook_in_spec_is_rejected_not_run(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    bad = builtin("disk-full")
    bad["diagnose"][0]["action"] = "clean_files"
    res = run_agent(spec("t-bad", root, [bad], DISK_ALERT, tmp_path / "j"), tmp_path)
    evts = events(res.stdout)
    started = evts[0]["data"]
    assert started["rejected"][0]["id"] == "disk-full"
    assert finished(evts)["outcome"] == "escalated"
    assert len(list((root / "var/log/app").iterdir())) == 9


def test_version_and_help() -> None:
    res = subprocess.run(agent_cmd("--version"), capture_output=True, text=True, cwd=str(REPO),
                         env=agent_env(), timeout=30)
    assert res.returncode == 0 and res.stdout.startswith("ccm-agent ")
    assert os.path.exists(REPO / "agent_runtime" / "__main__.py")


def test_long_output_is_streamed_in_bounded_chunks(tmp_path: Path) -> None:
    """Output from both streams (reader threads) becomes `output` events: chunked,
    capped per step with one `truncated` marker, and seq stays strictly increasing."""
    from agent_runtime.protocol import MAX_OUTPUT_CHUNK, MAX_OUTPUT_PER_STEP

    root = sandbox(tmp_path / "host")
    noisy = ("import sys\n"
             "for i in range(2000):\n"
             "    sys.stdout.write('o' * 99 + '\\n'); sys.stderr.write('e' * 49 + '\\n')\n")
    runbook = {
        "id": "noisy", "title": "t", "risk": "low", "mode": "auto",
        "match": {"labels": ["alertname=Noisy"]},
        "diagnose": [{"id": "disk", "action": "disk_usage", "params": {"path": "/"}}],
        "classify": [{"cause": "c", "when": ["evidence.disk.total_bytes > 0"], "weight": 1.0,
                      "remediate": ["talk"]}],
        "remediate": [{"id": "talk", "action": "shell",
                       "params": {"argv": [sys.executable, "-c", noisy]}}],
    }
    res = run_agent(spec("t-noisy", root, [runbook], {"alertname": "Noisy"}, tmp_path / "j"),
                    tmp_path)
    evts = events(res.stdout)
    assert finished(evts)["outcome"] == "resolved"
    assert [e["seq"] for e in evts] == list(range(1, len(evts) + 1))
    assert journal(tmp_path / "j", "t-noisy") == evts
    out = [e["data"] for e in of_type(evts, "output")]
    assert {o["stream"] for o in out} == {"stdout", "stderr"}
    assert all(o["step"] == "talk" and len(o["text"]) <= MAX_OUTPUT_CHUNK for o in out)
    assert sum(len(o["text"]) for o in out) == MAX_OUTPUT_PER_STEP  # 300 kB produced
    marks = [o for o in out if o.get("truncated")]
    assert len(marks) == 1 and marks[0]["dropped_chars"] > 0
