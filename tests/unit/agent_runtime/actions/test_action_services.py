"""service_status / service_restart / journal_* against stand-in commands on PATH.

The stand-ins keep each unit's state in files under the sandbox, so the test
sees a real subprocess round trip without touching the machine's services.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agent_runtime.actions import ActionContext, run_action

SYSTEMCTL = r'''
import os, sys
state_dir = os.environ["FAKE_UNITS"]
args = [a for a in sys.argv[1:] if not a.startswith("--")]
with open(os.path.join(state_dir, "calls"), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
verb, unit = args[0], args[1] if len(args) > 1 else ""
path = os.path.join(state_dir, unit)
if verb == "show":
    if not os.path.exists(path):
        print("ActiveState=inactive\nSubState=dead\nLoadState=not-found")
    else:
        state = open(path).read().strip()
        sub = {"active": "running", "failed": "failed"}.get(state, "dead")
        print(f"ActiveState={state}\nSubState={sub}\nLoadState=loaded\nMainPID=4242\nNRestarts=0")
elif verb == "restart":
    if os.path.exists(path + ".broken"):
        open(path, "w").write("failed")
        print(f"Job for {unit} failed.", file=sys.stderr)
        sys.exit(1)
    open(path, "w").write("active")
else:
    sys.exit(2)
'''

SERVICE = r'''
import os, sys
state_dir = os.environ["FAKE_UNITS"]
unit, verb = sys.argv[1], sys.argv[2]
path = os.path.join(state_dir, unit)
if verb == "status":
    active = os.path.exists(path) and open(path).read().strip() == "active"
    print(f" * {unit} is {'running' if active else 'not running'}")
    sys.exit(0 if active else 3)
if verb == "restart":
    open(path, "w").write("active")
'''

JOURNALCTL = r'''
import os, sys
argv = sys.argv[1:]
unit = argv[argv.index("-u") + 1]
n = int(argv[argv.index("-n") + 1])
path = os.path.join(os.environ["FAKE_UNITS"], unit + ".journal")
lines = open(path).read().splitlines() if os.path.exists(path) else []
print("-- Logs begin --")
print("\n".join(lines[-n:]))
'''


def _install(bindir: Path, name: str, body: str) -> None:
    bindir.mkdir(exist_ok=True)
    script = bindir / name
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(0o755)


@pytest.fixture()
def units(tmp_path: Path) -> Path:
    d = tmp_path / "units"
    d.mkdir()
    return d


def _ctx(tmp_path: Path, units: Path, dry_run: bool = False) -> ActionContext:
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return ActionContext(env={"PATH": path, "FAKE_UNITS": str(units)}, dry_run=dry_run)


def test_status_and_restart_via_systemctl(tmp_path: Path, units: Path) -> None:
    _install(tmp_path / "bin", "systemctl", SYSTEMCTL)
    (units / "nginx.service").write_text("failed")
    ctx = _ctx(tmp_path, units)
    st = run_action("service_status", {"name": "nginx.service"}, ctx)
    assert st.ok
    assert {k: st.data[k] for k in ("name", "active", "state", "sub", "via")} == {
        "name": "nginx.service", "active": False, "state": "failed", "sub": "failed", "via": "systemctl"}

    dry = run_action("service_restart", {"name": "nginx.service"}, _ctx(tmp_path, units, dry_run=True))
    assert dry.ok and dry.dry_run and not dry.changed
    assert dry.data["restarted"] is False and dry.data["command"] == ["systemctl", "restart", "nginx.service"]
    assert (units / "nginx.service").read_text() == "failed"

    res = run_action("service_restart", {"name": "nginx.service"}, ctx)
    assert res.ok and res.changed
    assert res.data["restarted"] is True and res.data["active_after"] is True
    assert "restart nginx.service" in (units / "calls").read_text()
    assert run_action("service_status", {"name": "nginx.service"}, ctx).data["active"] is True


def test_restart_that_fails(tmp_path: Path, units: Path) -> None:
    _install(tmp_path / "bin", "systemctl", SYSTEMCTL)
    (units / "db.service").write_text("failed")
    (units / "db.service.broken").touch()
    res = run_action("service_restart", {"name": "db.service", "settle_seconds": 0},
                     _ctx(tmp_path, units))
    assert not res.ok
    assert res.data["restarted"] is False and res.data["active_after"] is False
    assert "exited 1" in res.error and "failed." in res.data["output"]


def test_service_fallback_without_systemctl(tmp_path: Path, units: Path) -> None:
    _install(tmp_path / "bin", "service", SERVICE)
    ctx = ActionContext(env={"PATH": str(tmp_path / "bin"), "FAKE_UNITS": str(units)})
    st = run_action("service_status", {"name": "cron"}, ctx)
    assert st.ok and st.data["via"] == "service" and st.data["active"] is False
    res = run_action("service_restart", {"name": "cron"}, ctx)
    assert res.ok and res.data["command"] == ["service", "cron", "restart"] and res.data["active_after"]


def test_no_service_manager_at_all(tmp_path: Path, units: Path) -> None:
    (tmp_path / "empty").mkdir()
    ctx = ActionContext(env={"PATH": str(tmp_path / "empty")})
    st = run_action("service_status", {"name": "cron"}, ctx)
    assert not st.ok and "neither systemctl nor service" in st.error


def test_journal_tail_and_grep(tmp_path: Path, units: Path) -> None:
    _install(tmp_path / "bin", "journalctl", JOURNALCTL)
    (units / "app.service.journal").write_text(
        "\n".join(f"2026-01-01T00:00:{i:02d} host app[1]: {'ERROR oom' if i % 10 == 0 else 'ok'} {i}"
                  for i in range(60)) + "\n")
    ctx = _ctx(tmp_path, units)
    tail = run_action("journal_tail", {"unit": "app.service", "lines": 5}, ctx)
    assert tail.ok and tail.data["count"] == 5 and tail.data["lines"][-1].endswith("ok 59")
    grep = run_action("journal_grep", {"unit": "app.service", "pattern": r"ERROR \w+", "max_matches": 2}, ctx)
    assert grep.ok and grep.data["total_matches"] == 6 and grep.data["count"] == 2
    assert grep.data["truncated"] and grep.data["lines"][-1].endswith("ERROR oom 50")
