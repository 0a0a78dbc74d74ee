"""logrotate_check on a simulated root, logrotate_force with a stand-in logrotate."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from agent_runtime.actions import ActionContext, ActionError, run_action
from agent_runtime.hostroot import HostRoot

FAKE = r'''
import os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n" + open(sys.argv[-1]).read())
print("rotating pattern: /x  forced from command line")
print("rotating log " + os.environ["FAKE_ROTATED"] + ", log->rotateCount is 7")
'''


def _root(tmp_path: Path, big: int = 0, state_age_days: float = 0.5) -> Path:
    root = tmp_path / "root"
    (root / "etc" / "logrotate.d").mkdir(parents=True)
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "lib" / "logrotate").mkdir(parents=True)
    (root / "etc" / "logrotate.conf").write_text("weekly\nrotate 4\ninclude /etc/logrotate.d\n")
    (root / "etc" / "logrotate.d" / "app").write_text(
        "/var/log/app.log /var/log/other.log {\n  daily\n  missingok\n  postrotate\n"
        "    kill -HUP 1 } \n  endscript\n}\n/var/log/needed.log {\n  weekly\n}\n")
    with open(root / "var" / "log" / "app.log", "wb") as fh:
        fh.truncate(big)
    (root / "var" / "log" / "needed.log").write_text("x\n")
    state = root / "var" / "lib" / "logrotate" / "status"
    state.write_text('logrotate state -- version 2\n"/var/log/needed.log" 2026-1-1-0:0:0\n')
    t = time.time() - state_age_days * 86400
    os.utime(state, (t, t))
    return root


def test_healthy_rotation(tmp_path: Path) -> None:
    res = run_action("logrotate_check", {}, ActionContext(root=HostRoot(str(_root(tmp_path)))))
    assert res.ok and res.data["ok"], res.data["issues"]
    assert res.data["issues"] == [] and res.data["logs"] == 2
    assert 0.4 < res.data["state_age_days"] < 0.6


def test_broken_rotation_is_flagged(tmp_path: Path) -> None:
    root = _root(tmp_path, big=3 * 1024 * 1024, state_age_days=9)
    (root / "var" / "log" / "needed.log").unlink()
    res = run_action("logrotate_check", {"max_mb": 1}, ActionContext(root=HostRoot(str(root))))
    assert res.ok and not res.data["ok"]
    text = "\n".join(res.data["issues"])
    assert "is 9.0 days old" in text
    assert "/var/log/app.log is 3 MB and was last rotated never" in text
    assert "/var/log/needed.log: no such log" in text
    assert res.data["oversized"][0]["path"] == "/var/log/app.log"


def test_missing_state_and_config(tmp_path: Path) -> None:
    res = run_action("logrotate_check", {}, ActionContext(root=HostRoot(str(tmp_path))))
    assert not res.data["ok"] and len(res.data["issues"]) == 2


def test_force_maps_host_paths_under_a_simulated_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    inside = root / "var" / "log" / "app.log"
    (root / "etc" / "lr.conf").write_text(
        "weekly\n/var/log/app.log {\n  rotate 2\n  olddir /var/log/old\n  postrotate\n"
        "    systemctl reload app\n  endscript\n}\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "logrotate").write_text(f"#!{sys.executable}\n{FAKE}")
    (bindir / "logrotate").chmod(0o755)
    env = {"PATH": str(bindir), "FAKE_LOG": str(tmp_path / "log"), "FAKE_ROTATED": str(inside)}
    dry = run_action("logrotate_force", {"config": "/etc/lr.conf"},
                     ActionContext(root=HostRoot(str(root)), env=env, dry_run=True))
    assert dry.ok and dry.dry_run and dry.data["argv"][:3] == ["logrotate", "-d", "-f"]
    res = run_action("logrotate_force", {"config": "/etc/lr.conf"},
                     ActionContext(root=HostRoot(str(root)), env=env))
    assert res.ok and res.changed and res.data["rotated"] == [str(inside)]
    argv = res.data["argv"]
    assert argv[:5] == ["logrotate", "-v", "-f", "-s", f"{root}/var/lib/logrotate/status"]
    assert not Path(argv[-1]).exists()  # the mapped config is temporary
    seen = (tmp_path / "log").read_text()
    assert f"{inside} {{" in seen and f"olddir {root}/var/log/old" in seen
    assert "systemctl" not in seen and "weekly" not in seen  # scripts and globals dropped


def test_check_and_force_accept_a_config_with_sandbox_paths(tmp_path: Path) -> None:
    root = _root(tmp_path, big=2 * 1024 * 1024)
    (root / "etc" / "logrotate.conf").write_text(f"{root}/var/log/app.log {{\n  daily\n}}\n")
    res = run_action("logrotate_check", {"max_mb": 1}, ActionContext(root=HostRoot(str(root))))
    assert res.data["logs"] == 1 and res.data["oversized"][0]["path"] == "/var/log/app.log"


def test_force_refuses_a_config_escaping_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var" / "out").symlink_to(tmp_path)
    (root / "etc" / "lr.conf").write_text("/var/out/x.log {\n rotate 2\n}\n")
    with pytest.raises(ActionError, match="escapes the host root"):
        run_action("logrotate_force", {"config": "/etc/lr.conf"}, ActionContext(root=HostRoot(str(root))))
