"""Shared helpers for the agent runtime tests: sandboxes, specs, real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
RUNBOOKS = REPO / "runbooks"
DAY = 86400.0


def builtin(runbook_id: str) -> dict[str, Any]:
    """A built-in runbook as the JSON the agent receives."""
    with open(RUNBOOKS / (runbook_id + ".yaml"), encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def sandbox(root: Path, total_bytes: int = 10 * 1024 * 1024, total_inodes: int = 100000) -> Path:
    """A simulated host root with one quota'd mount ``/``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".ccm-host.json").write_text(json.dumps(
        {"mounts": [{"mount": "/", "total_bytes": total_bytes, "total_inodes": total_inodes}]}))
    return root


def put(root: Path, host_path: str, size: int = 0, age_days: float = 0.0,
        content: bytes | None = None) -> Path:
    """Create a file at ``host_path`` under ``root`` with a size and an age."""
    path = root / host_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if content is not None else b"x" * size)
    if age_days:
        t = time.time() - age_days * DAY
        os.utime(path, (t, t))
    return path


def spec(task: str, root: Path, runbooks: list[dict[str, Any]], labels: dict[str, str],
         journal_dir: Path, **extra: Any) -> dict[str, Any]:
    """A task spec for the agent."""
    out: dict[str, Any] = {
        "task": task, "host": "sandbox-1", "root": str(root),
        "alert": {"labels": labels, "annotations": {}, "severity": "critical"},
        "runbooks": runbooks, "journal_dir": str(journal_dir),
        "policy": {"auto_threshold": 0.9, "suggest_threshold": 0.5},
    }
    out.update(extra)
    return out


def agent_cmd(*args: str) -> list[str]:
    """``python -m agent_runtime ARGS`` from the repo."""
    return [sys.executable, "-m", "agent_runtime", *args]


def agent_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


def run_agent(task_spec: dict[str, Any], tmp_path: Path, stdin: str = "",
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the agent on a spec file to completion."""
    spec_file = tmp_path / ("{}.spec.json".format(task_spec["task"]))
    spec_file.write_text(json.dumps(task_spec))
    return subprocess.run(agent_cmd("run", "--spec", str(spec_file)), input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=str(REPO),
                          env=agent_env())


def events(stdout: str) -> list[dict[str, Any]]:
    """The JSON events printed by the agent."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def journal(journal_dir: Path, task: str) -> list[dict[str, Any]]:
    """The events in a task's journal file."""
    return events((journal_dir / (task + ".jsonl")).read_text())


def of_type(evts: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e for e in evts if e["type"] == type_]


def finished(evts: list[dict[str, Any]]) -> dict[str, Any]:
    """The data of the single, last ``finished`` event."""
    fins = of_type(evts, "finished")
    assert len(fins) == 1 and evts[-1]["type"] == "finished", [e["type"] for e in evts]
    data: dict[str, Any] = fins[0]["data"]
    return data


class Agent:
    """A running ``agent_runtime run`` subprocess, driven line by line."""

    def __init__(self, task_spec: dict[str, Any], tmp_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.task = task_spec["task"]
        spec_file = tmp_path / (f"{self.task}.spec.json")
        spec_file.write_text(json.dumps(task_spec))
        self.proc = subprocess.Popen(
            agent_cmd("run", "--spec", str(spec_file)), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO),
            env=agent_env(env))
        self.events: list[dict[str, Any]] = []

    def read_until(self, type_: str) -> dict[str, Any]:
        """Read events until one of ``type_`` arrives (fails on EOF)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            self.events.append(event)
            if event["type"] == type_:
                return event
        raise AssertionError("agent ended before {!r}; stderr: {}; events: {}".format(
            type_, self.proc.stderr.read() if self.proc.stderr else "",
            [e["type"] for e in self.events]))

    def send(self, type_: str, actor: str = "jordan", task: str | None = None) -> None:
        """Send one control message on stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"v": 1, "type": type_, "task": task or self.task,
                                          "actor": actor, "note": ""}) + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 60) -> dict[str, Any]:
        """Read to the end; return the ``finished`` data and check the exit code."""
        data = self.read_until("finished")["data"]
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=timeout) == 0
        return data

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
