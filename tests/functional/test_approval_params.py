"""What an engineer approves shows the runbook's parameters only.

The real agent plans a user runbook's ``shell`` step that passes an alert label; it
adds ``value_slots`` (its own record of where a template put a value, so it can refuse
one looking like an option) to the step's params. The events go into a real SQLite hub:
the TUI's approval bar and ``ccm tasks show`` show the command without it, while
``ccm tasks show --json`` keeps the events exactly as the agent wrote them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.app.widgets.decisions.bar import approval_text
from ccm_tui.core.model import Event, Task
from ccm_tui.hub import open_hub
from tests.unit.cli_support import ROOT, TO_APPROVAL, ccm, seed

pytestmark = pytest.mark.usefixtures("isolated_env")

RUNBOOK = {"id": "restart-unit", "title": "restart the unit", "risk": "low", "mode": "auto",
           "match": {"labels": ['alertname="UnitDown"']},
           "diagnose": [{"id": "d", "action": "disk_usage", "params": {"path": "/"}}],
           "classify": [{"cause": "down", "when": ["evidence.d.used_pct >= 0"], "weight": 0.7,
                         "remediate": ["restart"]}],
           "remediate": [{"id": "restart", "action": "shell", "params": {
               "argv": ["/bin/echo", "restart", "{{ alert.labels.unit }}"]}}]}


def agent_events(tmp_path: Path) -> list[dict[str, Any]]:
    """The events of the real agent asking approval to restart nginx (no answer comes)."""
    root = tmp_path / "host"
    root.mkdir()
    (root / ".ccm-host.json").write_text(json.dumps(
        {"mounts": [{"mount": "/", "total_bytes": 1 << 20, "total_inodes": 1000}]}))
    spec = {"task": "t-5e1ec7ed", "host": "web-01", "root": str(root),
            "alert": {"labels": {"alertname": "UnitDown", "unit": "nginx"}, "annotations": {},
                      "severity": "critical"},
            "runbooks": [RUNBOOK], "journal_dir": str(tmp_path / "journal"),
            "policy": {"auto_threshold": 0.9, "suggest_threshold": 0.5,
                       "approval_timeout": 0.1}}
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, "-m", "agent_runtime", "run", "--spec", str(spec_file)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_agents_own_params_are_not_shown_for_approval(url: str, tmp_path: Path) -> None:
    evts = [e for e in agent_events(tmp_path) if e["type"] != "finished"]
    [request] = [e["data"] for e in evts if e["type"] == "approval_requested"]
    [step] = request["actions"][0]["steps"]
    assert step["params"]["value_slots"] == [2]  # what the agent plans with

    [task] = seed(url, [("web-01", "UnitDown", TO_APPROVAL)])

    async def store() -> Task:
        async with open_hub(url) as hub:
            await hub.append_events([Event(task.id, e["seq"], e["type"],  # as the daemon does
                                           datetime.fromtimestamp(e["ts"], UTC), e["data"])
                                     for e in evts])
            return await hub.get_task(task.id)

    stored = asyncio.run(store())
    bar = approval_text(stored, request, "").plain
    assert '$ shell argv=["/bin/echo", "restart", "nginx"]\n' in bar
    assert "value_slots" not in bar

    shown = ccm("--hub", url, "tasks", "show", task.id, env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert 'shell argv=["/bin/echo", "restart", "nginx"]' in shown.stdout
    assert "value_slots" not in shown.stdout  # the plan, the dry run and its step

    data = json.loads(ccm("--hub", url, "tasks", "show", task.id, "--json").stdout)
    [kept] = [e for e in data["events"] if e["type"] == "approval_requested"]
    assert kept["data"] == request  # --json: as the agent wrote it
