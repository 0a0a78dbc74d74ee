"""Helpers of the ``ccm`` command tests: run it in-process or as a process, seed a hub."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.core.model import Task, new_task_id
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_PG = "postgresql://ccm@127.0.0.1:1/ccm"


def ccm(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``ccm`` in-process; stdout and stderr are kept apart."""
    return CliRunner().invoke(app, list(args), env=env)


def ccm_proc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ccm_tui`` in a subprocess, as a user would."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ccm_tui", *args], capture_output=True, text=True,
        env=full_env, cwd=ROOT, timeout=60,
    )


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {lines!r}"
    return lines[0]


def seed(url: str, specs: Sequence[tuple[str, str, Sequence[TaskState]]]) -> list[Task]:
    """Create tasks through the hub API, each moved along ``path``."""

    async def go() -> list[Task]:
        out = []
        async with open_hub(url) as hub:
            for host, alertname, path in specs:
                task = await hub.create_task(Task(
                    id=new_task_id(), host=host, alertname=alertname,
                    summary=f"{alertname} on {host}",
                ))
                for target in path:
                    task = await hub.transition(task.id, target)
                out.append(task)
        return out

    return asyncio.run(go())


TO_APPROVAL = (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL)


def hub_call(url: str, name: str, *args: Any, **kwargs: Any) -> Any:
    async def go() -> Any:
        async with open_hub(url) as hub:
            return await getattr(hub, name)(*args, **kwargs)

    return asyncio.run(go())
