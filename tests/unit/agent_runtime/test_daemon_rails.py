"""The daemon's safety rails as the agent sees them: pause, fix caps, circuit breakers."""

from __future__ import annotations

from pathlib import Path

from tests.unit.agent_runtime.runtime_helpers import (
    Agent,
    events,
    finished,
    of_type,
    run_agent,
)
from tests.unit.agent_runtime.test_loop import disk_spec, full_disk


def test_auto_not_allowed_becomes_a_suggestion(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    spec = disk_spec(tmp_path, root)
    spec["policy"] = {"allow_auto": False, "auto_blocked": "automatic fixes are paused",
                      "approval_timeout": 0.5}
    evts = events(run_agent(spec, tmp_path).stdout)
    [decision] = of_type(evts, "decision")
    assert decision["data"]["verdict"] == "suggest"
    assert any("automatic fixes are paused" in r for r in decision["data"]["reasons"])
    assert of_type(evts, "approval_requested")
    assert len(list((root / "var/log/app").iterdir())) == 9  # nothing was deleted


def test_open_circuit_breaker_escalates(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    spec = disk_spec(tmp_path, root)
    spec["policy"] = {"escalate_runbooks": {"disk-full": "disk-full failed on web-01 today"}}
    evts = events(run_agent(spec, tmp_path).stdout)
    done = finished(evts)
    assert done["outcome"] == "escalated"
    assert "disk-full failed on web-01 today" in done["reasons"]


def test_hold_before_an_automatic_fix_asks_instead(tmp_path: Path) -> None:
    root = full_disk(tmp_path)
    spec = disk_spec(tmp_path, root)
    spec["policy"] = {"approval_timeout": 0.5}
    agent = Agent(spec, tmp_path)
    try:
        agent.send("hold", actor="ccm pause")  # waits in the channel until the decision
        done = agent.finish()
    finally:
        agent.kill()
    held = [e for e in of_type(agent.events, "step") if e["data"].get("phase") == "held"]
    assert held and held[0]["data"]["actor"] == "ccm pause"
    assert of_type(agent.events, "approval_requested")
    assert done["outcome"] == "escalated"  # nobody answered within the timeout
    assert len(list((root / "var/log/app").iterdir())) == 9
