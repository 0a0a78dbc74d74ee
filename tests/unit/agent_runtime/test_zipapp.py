"""The agent ships as one zipapp that runs on Python 3.9 with nothing but the stdlib."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from runtime_helpers import REPO, builtin, events, finished, put, sandbox, spec

from agent_runtime.zipapp_build import build


def python39() -> str | None:
    found = shutil.which("python3.9")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    for cand in sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.9*/bin/python3.9"))):
        return cand
    return None


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("dist") / "agent.pyz")


def test_archive_holds_only_the_agent_package(pyz: Path) -> None:
    names = zipfile.ZipFile(pyz).namelist()
    assert "__main__.py" in names
    assert "agent_runtime/loop.py" in names and "agent_runtime/actions/__init__.py" in names
    assert all(n == "__main__.py" or n.startswith("agent_runtime/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_version_runs_isolated(pyz: Path) -> None:
    res = subprocess.run([sys.executable, "-I", "-S", str(pyz), "--version"],
                         capture_output=True, text=True, timeout=30, cwd="/")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ccm-agent 0.1.0"


@pytest.mark.parametrize("interpreter", ["current", "3.9"])
def test_zipapp_runs_a_task_without_site_packages(pyz: Path, tmp_path: Path,
                                                  interpreter: str) -> None:
    """`-I -S`: no site-packages, no cwd on the path: any non-stdlib import would fail."""
    exe = sys.executable if interpreter == "current" else python39()
    if exe is None:
        pytest.skip("no python3.9 on this machine")
    root = sandbox(tmp_path / "host", total_bytes=10_000_000)
    for i in range(4):
        put(root, f"/var/log/old.log.{i}", size=2_300_000, age_days=30)
    s = spec("t-zip", root, [builtin("disk-full")], {"alertname": "DiskFull"}, tmp_path / "j")
    (tmp_path / "spec.json").write_text(json.dumps(s))
    res = subprocess.run([exe, "-I", "-S", str(pyz), "run", "--spec", str(tmp_path / "spec.json")],
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert res.returncode == 0, res.stderr
    assert finished(events(res.stdout))["outcome"] == "resolved"


def test_importing_agent_runtime_loads_only_the_stdlib() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import pkgutil, importlib, agent_runtime\n"
        "for m in pkgutil.walk_packages(agent_runtime.__path__, 'agent_runtime.'):\n"
        "    if m.name not in ('agent_runtime.__main__',):\n"
        "        importlib.import_module(m.name)\n"
        "new = {n.split('.')[0] for n in set(sys.modules) - before}\n"
        "bad = sorted(new - set(sys.stdlib_module_names) - {'agent_runtime'})\n"
        "print(bad)\n"
    )
    res = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         timeout=30, cwd=str(REPO))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
