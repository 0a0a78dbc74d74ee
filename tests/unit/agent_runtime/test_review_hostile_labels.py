"""Hostile alert labels against the built-in runbooks, run by the real agent process.

Anyone who can post an alert (or set a label in Prometheus) controls its labels. These
tests feed such labels to the agent on a sandboxed root with stand-in ``systemctl`` and
``logrotate`` scripts that log every call, and check that nothing is run, restarted or
read outside what the runbook means to touch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from runtime_helpers import (
    agent_cmd,
    agent_env,
    builtin,
    events,
    finished,
    of_type,
    put,
    run_agent,
    sandbox,
    spec,
)
from test_builtin_runbooks import FAKE_LOGROTATE, FAKE_SYSTEMCTL, fake_systemctl

from agent_runtime.actions import ActionContext, ActionError, HostRoot, run_action
from agent_runtime.actions.processes import unit_from_cgroup, unit_of

INJECTIONS = ["$(touch {canary})", "`touch {canary}`", "x; touch {canary}",
              "x\ntouch {canary}", "x\x00y"]


def run(tmp_path: Path, rid: str, root: Path, labels: dict[str, str], **extra: Any) -> list[dict[str, Any]]:
    s = spec("t-" + rid, root, [builtin(rid)], labels, tmp_path / "journal", **extra)
    res = run_agent(s, tmp_path)
    assert res.returncode == 0, res.stderr
    return events(res.stdout)


def systemctl_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "units" / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("unit", [
    "poweroff.target", "reboot.target", "Halt.Target", "rescue.target", "emergency.target",
    "local-fs.mount", "sshd.socket", "systemd-reboot.service", "systemd-poweroff",
    "systemd-kexec.service", "systemd-journald", "debug-shell.service", "dbus",
    "kexec.target", "nginx\n", ".hidden", "--force", "ngin\u0445", "nginx\u200b",
    "a" * 300, "../../usr/lib/systemd/system/poweroff.target",
])
def test_service_down_never_restarts_a_unit_that_is_not_a_plain_service(
        tmp_path: Path, unit: str) -> None:
    env = fake_systemctl(tmp_path)
    evts = run(tmp_path, "service-down", sandbox(tmp_path / "host"),
               {"alertname": "ServiceDown", "service": unit}, env=env)
    done = finished(evts)
    assert done["outcome"] == "escalated", done
    assert not [c for c in systemctl_calls(tmp_path) if c.startswith("restart")]
    assert not of_type(evts, "action")  # nothing was even tried
    assert not any(e["data"].get("phase") == "remediate" for e in of_type(evts, "step"))


def test_service_down_refusal_says_why(tmp_path: Path) -> None:
    env = fake_systemctl(tmp_path)
    evts = run(tmp_path, "service-down", sandbox(tmp_path / "host"),
               {"alertname": "ServiceDown", "service": "poweroff.target"}, env=env)
    reasons = " ".join(finished(evts)["reasons"])
    assert "'poweroff.target' is not a service; only .service units are restarted" in reasons


@pytest.mark.parametrize("unit", ["nginx", "nginx.service", "sshd", "php7.4-fpm",
                                  "getty@tty1.service", "queue-worker.service"])
def test_service_down_still_restarts_a_real_service(tmp_path: Path, unit: str) -> None:
    env = fake_systemctl(tmp_path, **{unit: {"active": False, "restarts": 0}})
    evts = run(tmp_path, "service-down", sandbox(tmp_path / "host"),
               {"alertname": "ServiceDown", "service": unit}, env=env)
    assert finished(evts)["outcome"] == "resolved"
    assert f"restart {unit}" in systemctl_calls(tmp_path)


@pytest.mark.parametrize("template", INJECTIONS)
def test_shell_syntax_in_a_service_label_runs_nothing(tmp_path: Path, template: str) -> None:
    canary = tmp_path / "pwned"
    env = fake_systemctl(tmp_path)
    evts = run(tmp_path, "service-down", sandbox(tmp_path / "host"),
               {"alertname": "ServiceDown", "service": template.format(canary=canary)}, env=env)
    assert finished(evts)["outcome"] == "escalated"
    assert not canary.exists()
    assert systemctl_calls(tmp_path) == []


def test_direct_restart_refuses_what_a_plan_would(tmp_path: Path) -> None:
    """The action refuses on its own too (a user runbook could call it any way)."""
    ctx = ActionContext(root=HostRoot(str(sandbox(tmp_path / "host"))),
                        env=fake_systemctl(tmp_path))
    with pytest.raises(ActionError, match=r"refusing to restart 'systemd-halt\.service'"):
        run_action("service_restart", {"name": "systemd-halt.service"}, ctx)
    assert systemctl_calls(tmp_path) == []


# -- disk full: a mountpoint label is only ever read, never a place to delete ---------------
@pytest.mark.parametrize("mountpoint", ["/etc", "../../..", "/../../etc", "$(touch {canary})",
                                        "/var/log\x00/etc", "/" + "a" * 5000])
def test_disk_full_mountpoint_label_cannot_widen_the_clean_up(
        tmp_path: Path, mountpoint: str) -> None:
    canary = tmp_path / "pwned"
    outside = tmp_path / "outside.log"
    outside.write_bytes(b"x" * 10)
    root = sandbox(tmp_path / "host", total_bytes=10_000_000)
    keep = [put(root, "/etc/app.log.1", size=1_200_000, age_days=30),
            put(root, "/home/me/old.log", size=1_200_000, age_days=30)]
    for i in range(6):
        put(root, f"/var/log/app.log.{i}", size=1_200_000, age_days=10)
    evts = run(tmp_path, "disk-full", root,
               {"alertname": "DiskFull", "mountpoint": mountpoint.format(canary=canary)})
    finished(evts)
    deleted = [d["path"] for a in of_type(evts, "action") if a["data"]["action"] == "clean_files"
               for d in a["data"]["data"].get("deleted", [])]
    assert all(p.startswith(("/var/log/", "/tmp/", "/var/tmp/")) for p in deleted), deleted
    assert all(p.exists() for p in keep) and outside.exists() and not canary.exists()


# -- log rotation: the config label names a file logrotate runs as root -------------------
def _logrotate_host(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = sandbox(tmp_path / "host", total_bytes=100_000_000)
    put(root, "/var/log/app.log", size=2 * 1024 * 1024)
    put(root, "/etc/logrotate.conf",
        content=b"%s/var/log/app.log {\n  daily\n  missingok\n}\n" % str(root).encode())
    put(root, "/var/lib/logrotate/status", content=b"logrotate state -- version 2\n", age_days=9)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "logrotate-calls.log"
    (bindir / "logrotate").write_text(FAKE_LOGROTATE.replace(
        "config = sys.argv[-1]",
        f"config = sys.argv[-1]\nopen({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')"))
    (bindir / "logrotate").chmod(0o755)
    return root, {"PATH": f"{bindir}:{os.environ['PATH']}", "SANDBOX_ROOT": str(root)}


@pytest.mark.parametrize("config", ["/tmp/evil.conf", "/var/log/evil.conf",
                                    "/etc/../tmp/evil.conf", "/etc/link.conf"])
def test_logrotate_config_label_outside_etc_is_refused(tmp_path: Path, config: str) -> None:
    root, env = _logrotate_host(tmp_path)
    evil = b"%s/var/log/app.log {\n  postrotate\n    touch /tmp/pwned\n  endscript\n}\n" % (
        str(root).encode())
    put(root, "/tmp/evil.conf", content=evil)
    put(root, "/var/log/evil.conf", content=evil)
    (root / "etc" / "link.conf").symlink_to(root / "tmp" / "evil.conf")
    evts = run(tmp_path, "logrotate-broken", root,
               {"alertname": "LogrotateStale", "config": config}, env=env)
    assert finished(evts)["outcome"] == "escalated"
    assert not (tmp_path / "logrotate-calls.log").exists()
    check = next(e for e in of_type(evts, "evidence") if e["data"]["step"] == "check")
    assert "is not a logrotate config under /etc" in check["data"]["error"]


def test_logrotate_config_label_naming_a_private_file_leaks_nothing(tmp_path: Path) -> None:
    root, env = _logrotate_host(tmp_path)
    shadow = put(root, "/etc/shadow", content=b"root:$6$SECRETHASH:19000:0:99999:7:::\n")
    shadow.chmod(0o640)
    evts = run(tmp_path, "logrotate-broken", root,
               {"alertname": "LogrotateStale", "config": "/etc/shadow"}, env=env)
    assert finished(evts)["outcome"] == "escalated"
    assert not any("SECRETHASH" in str(e) for e in evts)
    assert not (tmp_path / "logrotate-calls.log").exists()


def test_logrotate_default_config_still_rotates(tmp_path: Path) -> None:
    root, env = _logrotate_host(tmp_path)
    evts = run(tmp_path, "logrotate-broken", root, {"alertname": "LogrotateStale"}, env=env)
    assert finished(evts)["outcome"] == "resolved"
    assert (root / "var/log/app.log.1").exists()


# -- high memory: the unit to restart comes from /proc/PID/cgroup ---------------------------
@pytest.mark.parametrize(("cgroup", "unit"), [
    ("0::/system.slice/nginx.service\n", "nginx.service"),
    ("0::/system.slice/docker.service/inner.service\n", "docker.service"),
    # a user's own systemd names its units at will: not the system's postgresql
    ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/postgresql.service\n", ""),
    ("0::/user.slice/user-1000.slice/session-3.scope\n", ""),
    ("12:memory:/\n1:name=systemd:/system.slice/cron.service\n0::/\n", "cron.service"),
    ("0::/init.scope\n", ""),
])
def test_memory_hog_unit_is_the_system_service_it_runs_in(cgroup: str, unit: str) -> None:
    assert unit_from_cgroup(cgroup) == unit


def test_memory_hog_unit_of_this_process_is_read_from_proc() -> None:
    text = Path(f"/proc/{os.getpid()}/cgroup").read_text()
    assert unit_of(os.getpid()) == unit_from_cgroup(text)


# -- the shell action in a user's runbook -----------------------------------------------------
def _shell_runbook(params: dict[str, Any]) -> dict[str, Any]:
    return {"id": "custom", "title": "custom", "risk": "low", "mode": "auto",
            "match": {"labels": ['alertname="Custom"']},
            "diagnose": [{"id": "d", "action": "disk_usage", "params": {"path": "/"}}],
            "classify": [{"cause": "c", "when": ["evidence.d.used_pct >= 0"], "weight": 0.99,
                          "remediate": ["fix"]}],
            "remediate": [{"id": "fix", "action": "shell", "params": params}],
            "verify": {"action": "disk_usage", "params": {"path": "/"},
                       "expect": ["result.used_pct >= 0"]}}


def _run_custom(tmp_path: Path, params: dict[str, Any], value: str) -> list[dict[str, Any]]:
    s = spec("t-custom", sandbox(tmp_path / "host"), [_shell_runbook(params)],
             {"alertname": "Custom", "x": value}, tmp_path / "journal")
    res = run_agent(s, tmp_path)
    assert res.returncode == 0, res.stderr
    return events(res.stdout)


@pytest.mark.parametrize("argv0", ["/bin/sh", "bash", "/usr/bin/env", "sudo"])
def test_a_label_templated_into_a_shell_script_argv_is_refused(
        tmp_path: Path, argv0: str) -> None:
    canary = tmp_path / "pwned"
    evts = _run_custom(tmp_path, {"argv": [argv0, "-c", "echo {{ alert.labels.x }}"]},
                       f"hi; touch {canary}")
    [rejected] = evts[0]["data"]["rejected"]
    assert "argv runs a shell" in rejected["issues"][0]
    assert finished(evts)["outcome"] == "escalated" and not canary.exists()


def test_a_label_in_a_command_slot_is_one_quoted_word(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    value = f"hi'; touch {canary}; echo '$(id)`id`"
    evts = _run_custom(tmp_path, {"command": "printf '%s\\n' {}",
                                  "args": ["{{ alert.labels.x }}"]}, value)
    assert finished(evts)["outcome"] == "resolved" and not canary.exists()
    [ran] = [a for a in of_type(evts, "action") if a["data"]["action"] == "shell"]
    assert ran["data"]["data"]["stdout"] == value + "\n"


def test_a_label_as_a_plain_program_argument_is_data(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    value = f"$(touch {canary})"
    evts = _run_custom(tmp_path, {"argv": ["printf", "%s", "{{ alert.labels.x }}"]}, value)
    assert finished(evts)["outcome"] == "resolved" and not canary.exists()
    [ran] = [a for a in of_type(evts, "action") if a["data"]["action"] == "shell"]
    assert ran["data"]["data"]["stdout"] == value


# -- the task id names files on the host ------------------------------------------------------
@pytest.mark.parametrize("task", ["../../evil", "/tmp/evil", ".hidden", "a b", "t-1\n", "x" * 200])
def test_agent_refuses_a_task_id_that_is_not_a_plain_name(tmp_path: Path, task: str) -> None:
    journal = tmp_path / "journal" / "deeper"
    journal.mkdir(parents=True)
    s = spec("t-ok", sandbox(tmp_path / "host"), [builtin("disk-full")],
             {"alertname": "DiskFull"}, journal)
    s["task"] = task
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(s))
    res = subprocess.run(agent_cmd("run", "--spec", str(spec_file)), capture_output=True,
                         text=True, timeout=60, env=agent_env())
    assert res.returncode == 2 and "is not a plain name" in res.stderr, res.stderr
    assert res.stdout == "" and list(journal.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["host", "journal", "spec.json"]


# -- clean_files / compress_files whose path comes from a label ---------------------------------
def _clean_runbook(action: str, params: dict[str, Any]) -> dict[str, Any]:
    rb = _shell_runbook({})
    rb["remediate"] = [{"id": "fix", "action": action, "params": params}]
    return rb


def _run_clean(tmp_path: Path, rb: dict[str, Any], directory: str
               ) -> tuple[Path, list[dict[str, Any]]]:
    root = sandbox(tmp_path / "host")
    for d in ("/etc", "/var/log/app"):
        put(root, f"{d}/old.log", size=100, age_days=30)
    s = spec("t-clean", root, [rb], {"alertname": "Custom", "dir": directory},
             tmp_path / "journal")
    res = run_agent(s, tmp_path)
    assert res.returncode == 0, res.stderr
    return root, events(res.stdout)


@pytest.mark.parametrize("action", ["clean_files", "compress_files"])
def test_a_label_chosen_path_without_fixed_allowed_roots_is_refused(
        tmp_path: Path, action: str) -> None:
    rb = _clean_runbook(action, {"path": "{{ alert.labels.dir }}", "patterns": ["*.log"],
                                 "older_than_days": 1})
    root, evts = _run_clean(tmp_path, rb, "/etc")
    [rejected] = evts[0]["data"]["rejected"]
    assert "needs fixed 'allowed_roots'" in rejected["issues"][0]
    assert (root / "etc/old.log").exists()


@pytest.mark.parametrize("action", ["clean_files", "compress_files"])
@pytest.mark.parametrize("directory", ["/etc", "/var/log/../../etc", "/var/log/../.."])
def test_a_label_chosen_path_outside_allowed_roots_touches_nothing(
        tmp_path: Path, action: str, directory: str) -> None:
    rb = _clean_runbook(action, {"path": "{{ alert.labels.dir }}", "patterns": ["*.log"],
                                 "older_than_days": 1, "allowed_roots": ["/var/log"]})
    root, evts = _run_clean(tmp_path, rb, directory)
    assert evts[0]["data"]["rejected"] == []
    assert finished(evts)["outcome"] != "resolved"
    assert "outside allowed_roots" in str(of_type(evts, "action"))
    assert (root / "etc/old.log").exists() and (root / "var/log/app/old.log").exists()


def test_a_label_chosen_path_inside_allowed_roots_is_cleaned(tmp_path: Path) -> None:
    rb = _clean_runbook("clean_files", {"path": "{{ alert.labels.dir }}", "patterns": ["*.log"],
                                        "older_than_days": 1, "allowed_roots": ["/var/log"]})
    root, evts = _run_clean(tmp_path, rb, "/var/log/app")
    assert finished(evts)["outcome"] == "resolved"
    assert (root / "etc/old.log").exists() and not (root / "var/log/app/old.log").exists()


@pytest.mark.parametrize("command", [
    "printf '%s' '{}'", 'printf "%s" "{}"', "printf %s \\{}", "printf %s `{}`", "echo $({})",
    "{} --help", "true | {}", "true; {}", "eval {}", "/bin/sh -c {}",
])
def test_a_command_slot_inside_quotes_is_refused(tmp_path: Path, command: str) -> None:
    """``echo '{}'`` with ``$(id)`` would become ``echo ''$(id)''``: the value runs; so
    would a value put where a command name, a substitution or a script goes."""
    canary = tmp_path / "pwned"
    evts = _run_custom(tmp_path, {"command": command, "args": ["{{ alert.labels.x }}"]},
                       f"$(touch {canary})")
    [rejected] = evts[0]["data"]["rejected"]
    assert "would read a value as shell code" in rejected["issues"][0]
    assert finished(evts)["outcome"] == "escalated" and not canary.exists()


def test_the_shell_action_itself_refuses_a_quoted_slot(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    with pytest.raises(ActionError, match="would read a value as shell code"):
        run_action("shell", {"command": "echo '{}'", "args": [f"$(touch {canary})"]},
                   ActionContext())
    assert not canary.exists()


# -- a unit switched off on purpose stays off -------------------------------------------------
def systemctl_with_unit_files(tmp_path: Path, **units: dict[str, Any]) -> dict[str, str]:
    """The stand-in systemctl, also reporting LoadState and UnitFileState from the unit's
    ``load`` and ``file`` (default loaded, enabled)."""
    env = fake_systemctl(tmp_path, **units)
    script = tmp_path / "bin" / "systemctl"
    script.write_text(FAKE_SYSTEMCTL.replace(
        '    print("LoadState=loaded")\n',
        '    print("LoadState=" + state.get("load", "loaded"))\n'
        '    print("UnitFileState=" + state.get("file", "enabled"))\n'))
    return env


@pytest.mark.parametrize(("state", "why"), [
    ({"file": "disabled"}, "disabled or masked"), ({"file": "masked"}, "disabled or masked"),
    ({"load": "masked", "file": "masked"}, "disabled or masked"),
    ({"load": "not-found", "file": ""}, "no such unit"),
])
def test_service_down_does_not_start_a_unit_turned_off_on_purpose(
        tmp_path: Path, state: dict[str, Any], why: str) -> None:
    env = systemctl_with_unit_files(tmp_path, **{"rpcbind.service": {"active": False, **state}})
    evts = run(tmp_path, "service-down", sandbox(tmp_path / "host"),
               {"alertname": "ServiceDown", "service": "rpcbind.service"}, env=env)
    done = finished(evts)
    assert done["outcome"] == "escalated" and why in " ".join(done["reasons"]), done
    assert restarts_of(tmp_path) == []


def test_restart_action_refuses_a_disabled_unit_itself(tmp_path: Path) -> None:
    env = systemctl_with_unit_files(tmp_path, **{"telnet.service": {"active": False,
                                                                    "file": "disabled"}})
    ctx = ActionContext(root=HostRoot(str(sandbox(tmp_path / "host"))), env=env)
    res = run_action("service_restart", {"name": "telnet.service"}, ctx)
    assert not res.ok and "it is disabled" in res.error
    assert restarts_of(tmp_path) == []


@pytest.mark.parametrize("file_state", ["enabled", "static", "indirect", ""])
def test_service_down_restarts_an_enabled_or_static_unit(tmp_path: Path, file_state: str) -> None:
    env = systemctl_with_unit_files(tmp_path, **{"nginx.service": {"active": False,
                                                                   "file": file_state}})
    evts = run(tmp_path, "service-down", sandbox(tmp_path / "host"),
               {"alertname": "ServiceDown", "service": "nginx.service"}, env=env)
    assert finished(evts)["outcome"] == "resolved"
    assert restarts_of(tmp_path) == ["restart nginx.service"]


def restarts_of(tmp_path: Path) -> list[str]:
    return [c for c in systemctl_calls(tmp_path) if c.startswith("restart")]


def test_logrotate_config_made_under_umask_002_still_rotates_on_a_simulated_root(
        tmp_path: Path) -> None:
    root, env = _logrotate_host(tmp_path)
    (root / "etc" / "logrotate.conf").chmod(0o664)
    evts = run(tmp_path, "logrotate-broken", root, {"alertname": "LogrotateStale"}, env=env)
    assert finished(evts)["outcome"] == "resolved"


def test_restart_of_a_running_disabled_unit_is_allowed(tmp_path: Path) -> None:
    """A disabled unit someone started by hand and that now leaks memory: restarting it
    switches nothing back on, so a fix (a human approved) may."""
    env = systemctl_with_unit_files(tmp_path, **{"worker.service": {"active": True,
                                                                    "file": "disabled"}})
    ctx = ActionContext(root=HostRoot(str(sandbox(tmp_path / "host"))), env=env)
    res = run_action("service_restart", {"name": "worker.service", "settle_seconds": 0}, ctx)
    assert res.ok, res.error
    assert restarts_of(tmp_path) == ["restart worker.service"]
