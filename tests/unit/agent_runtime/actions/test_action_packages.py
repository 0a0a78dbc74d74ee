"""package_update against a stand-in apt-get / dnf on PATH that records its argv."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agent_runtime.actions import ActionContext, ActionError, run_action

FAKE = r'''
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as fh:
    fh.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + "\n")
if os.path.basename(sys.argv[0]) == "apt-get":
    print("Inst openssl [3.0.1] (3.0.2 Ubuntu)")
    print("1 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
else:
    print("Upgrade  1 Package")
    sys.exit(1 if "--assumeno" in sys.argv else 0)
'''


def _ctx(tmp_path: Path, managers: tuple[str, ...], dry_run: bool = False) -> ActionContext:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name in managers:
        script = bindir / name
        script.write_text(f"#!{sys.executable}\n{FAKE}")
        script.chmod(0o755)
    return ActionContext(env={"PATH": str(bindir), "FAKE_LOG": str(tmp_path / "log")}, dry_run=dry_run)


def _calls(tmp_path: Path) -> list[list[str]]:
    return [list(json.loads(line)) for line in (tmp_path / "log").read_text().splitlines()]


def test_apt_dry_run_simulates(tmp_path: Path) -> None:
    res = run_action("package_update", {"packages": ["openssl"]}, _ctx(tmp_path, ("apt-get",), True))
    assert res.ok and res.dry_run and not res.changed
    assert res.data["manager"] == "apt-get" and res.data["upgraded"] == 1
    assert _calls(tmp_path) == [["apt-get", "-s", "install", "--only-upgrade", "openssl"]]


def test_apt_real_run(tmp_path: Path) -> None:
    res = run_action("package_update", {"packages": ["openssl"]}, _ctx(tmp_path, ("apt-get",)))
    assert res.ok and res.changed
    assert _calls(tmp_path) == [["apt-get", "update", "-q"],
                                ["apt-get", "install", "-y", "-q", "--only-upgrade", "openssl"]]


def test_dnf_assumeno_exit_1_is_a_successful_simulation(tmp_path: Path) -> None:
    res = run_action("package_update", {}, _ctx(tmp_path, ("dnf",), True))
    assert res.ok and res.data["manager"] == "dnf" and res.data["upgraded"] == 1
    assert _calls(tmp_path) == [["dnf", "--assumeno", "upgrade"]]


def test_no_manager_and_bad_names(tmp_path: Path) -> None:
    res = run_action("package_update", {}, _ctx(tmp_path, ()))
    assert not res.ok and "no package manager" in res.error
    with pytest.raises(ActionError, match="not a package name"):
        run_action("package_update", {"packages": ["-o APT::x=1"]}, _ctx(tmp_path, ("apt-get",)))
