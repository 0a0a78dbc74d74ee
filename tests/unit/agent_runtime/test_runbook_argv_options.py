"""A label value that starts with '-' placed where a user runbook's program reads options.

The real agent runs a user runbook whose ``shell`` step passes an alert label to a
small recorder program (it writes the argv it got to a file).  A value like ``--help``
or ``-rf`` must never reach the program as an option: the step escalates with the
reason and nothing runs, unless the runbook's own template put ``--`` before it or the
label fills the value part of an ``--opt={label}`` element.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from runtime_helpers import events, finished, of_type, run_agent, sandbox, spec

from agent_runtime.actions import ActionContext, ActionError, run_action
from agent_runtime.runbook import check, validate
from agent_runtime.runbook_safety import option_slots, option_warnings


def _recorder(tmp_path: Path) -> tuple[str, Path]:
    log = tmp_path / "argv.log"
    prog = tmp_path / "recorder"
    prog.write_text(f"#!{sys.executable}\nimport sys\n"
                    f"open({str(log)!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n")
    prog.chmod(0o755)
    return str(prog), log


def _runbook(params: dict[str, Any]) -> dict[str, Any]:
    return {"id": "custom", "title": "custom", "risk": "low", "mode": "auto",
            "match": {"labels": ['alertname="Custom"']},
            "diagnose": [{"id": "d", "action": "disk_usage", "params": {"path": "/"}}],
            "classify": [{"cause": "c", "when": ["evidence.d.used_pct >= 0"], "weight": 0.99,
                          "remediate": ["fix"]}],
            "remediate": [{"id": "fix", "action": "shell", "params": params}]}


def _run(tmp_path: Path, params: dict[str, Any], value: str) -> list[dict[str, Any]]:
    s = spec("t-argv", sandbox(tmp_path / "host"), [_runbook(params)],
             {"alertname": "Custom", "service": value}, tmp_path / "journal")
    res = run_agent(s, tmp_path)
    assert res.returncode == 0, res.stderr
    return events(res.stdout)


@pytest.mark.parametrize("value", ["--help", "-rf", "-"])
def test_an_option_looking_label_in_argv_escalates_and_runs_nothing(
        tmp_path: Path, value: str) -> None:
    prog, log = _recorder(tmp_path)
    evts = _run(tmp_path, {"argv": [prog, "restart", "{{ alert.labels.service }}"]}, value)
    assert evts[0]["data"]["rejected"] == []
    [decision] = of_type(evts, "decision")
    assert decision["data"]["verdict"] == "escalate"
    assert any("argv[2]" in r and "read it as an option" in r
               for r in decision["data"]["reasons"]), decision["data"]["reasons"]
    assert finished(evts)["outcome"] == "escalated"
    assert not log.exists()


def test_an_option_looking_label_in_a_command_slot_escalates(tmp_path: Path) -> None:
    prog, log = _recorder(tmp_path)
    evts = _run(tmp_path, {"command": prog + " restart {}",
                           "args": ["{{ alert.labels.service }}"]}, "--force")
    reasons = of_type(evts, "decision")[0]["data"]["reasons"]
    assert any("args[0]" in r and "starts with '-'" in r for r in reasons), reasons
    assert finished(evts)["outcome"] == "escalated" and not log.exists()


def test_a_plain_label_still_runs(tmp_path: Path) -> None:
    prog, log = _recorder(tmp_path)
    evts = _run(tmp_path, {"argv": [prog, "restart", "{{ alert.labels.service }}"]}, "nginx")
    assert finished(evts)["outcome"] == "resolved"
    assert log.read_text() == "['restart', 'nginx']\n"


@pytest.mark.parametrize("params, argv", [
    ({"argv": ["PROG", "restart", "--", "{{ alert.labels.service }}"]},
     ["restart", "--", "--help"]),
    ({"argv": ["PROG", "--unit={{ alert.labels.service }}"]}, ["--unit=--help"]),
    ({"command": "PROG restart -- {}", "args": ["{{ alert.labels.service }}"]},
     ["restart", "--", "--help"]),
    ({"command": "PROG --unit={}", "args": ["{{ alert.labels.service }}"]}, ["--unit=--help"]),
])
def test_a_dash_value_after_the_authors_double_dash_or_in_an_opt_value_is_data(
        tmp_path: Path, params: dict[str, Any], argv: list[str]) -> None:
    prog, log = _recorder(tmp_path)
    if "argv" in params:
        params["argv"][0] = prog
    else:
        params["command"] = params["command"].replace("PROG", prog)
    evts = _run(tmp_path, params, "--help")
    assert finished(evts)["outcome"] == "resolved"
    assert log.read_text() == repr(argv) + "\n"


def test_an_authors_own_option_is_not_refused(tmp_path: Path) -> None:
    prog, log = _recorder(tmp_path)
    evts = _run(tmp_path, {"argv": [prog, "-v", "{{ alert.labels.service }}"]}, "nginx")
    assert finished(evts)["outcome"] == "resolved"
    assert log.read_text() == "['-v', 'nginx']\n"


def test_a_label_choosing_the_program_is_refused(tmp_path: Path) -> None:
    prog, log = _recorder(tmp_path)
    evts = _run(tmp_path, {"argv": ["{{ alert.labels.service }}", "x"]}, prog)
    [rejected] = evts[0]["data"]["rejected"]
    assert "must not choose which program runs" in rejected["issues"][0]
    assert finished(evts)["outcome"] == "escalated" and not log.exists()


def test_a_runbook_cannot_set_value_slots_itself() -> None:
    rb = _runbook({"argv": ["/bin/echo", "{{ alert.labels.service }}"], "value_slots": []})
    assert any("value_slots" in str(i) and "remove it" in str(i) for i in validate(rb))


def test_check_records_the_slots_and_leaves_the_input_alone() -> None:
    rb = _runbook({"argv": ["/bin/echo", "-n", "{{ alert.labels.service }}", "--",
                            "{{ alert.labels.other }}"]})
    out = check(rb)
    assert out["remediate"][0]["params"]["value_slots"] == [2]
    assert "value_slots" not in rb["remediate"][0]["params"]


def test_option_slots_and_lint_warnings() -> None:
    assert option_slots("shell", {"argv": ["p", "{{ a.b }}", "x{{ a.b }}", "-o{{ a.b }}"]}) \
        == [("argv", 1)]
    assert option_slots("shell", {"command": "p {} --x={} -- {}",
                                  "args": ["{{ a.b }}", "{{ a.b }}", "{{ a.b }}"]}) \
        == [("args", 0)]
    assert option_slots("shell", {"command": "p -- a; q {}", "args": ["{{ a.b }}"]}) \
        == [("args", 0)]
    assert option_slots("shell", {"command": "p {}", "args": ["fixed"]}) == []
    assert option_slots("service_restart", {"name": "{{ alert.labels.service }}"}) == []
    rb = _runbook({"argv": ["/bin/echo", "{{ alert.labels.service }}"]})
    [(path, message)] = option_warnings(rb)
    assert path == ("remediate", 0, "params", "argv", 1)
    assert "would be read as an option" in message and "'--'" in message


def test_the_shell_action_itself_refuses_a_marked_dash_value(tmp_path: Path) -> None:
    prog, log = _recorder(tmp_path)
    with pytest.raises(ActionError, match="starts with '-'"):
        run_action("shell", {"argv": [prog, "-rf"], "value_slots": [1]}, ActionContext())
    assert not log.exists()


def test_an_inline_fix_under_a_cause_is_guarded_too(tmp_path: Path) -> None:
    prog, log = _recorder(tmp_path)
    rb = _runbook({})
    del rb["remediate"]
    rb["classify"][0]["remediate"] = [{"id": "fix", "action": "shell", "params": {
        "argv": [prog, "{{ alert.labels.service }}"]}}]
    s = spec("t-inline", sandbox(tmp_path / "host"), [rb],
             {"alertname": "Custom", "service": "-rf"}, tmp_path / "journal")
    res = run_agent(s, tmp_path)
    assert res.returncode == 0, res.stderr
    evts = events(res.stdout)
    assert evts[0]["data"]["rejected"] == []
    assert finished(evts)["outcome"] == "escalated" and not log.exists()


def test_the_accepted_params_of_shell_do_not_offer_value_slots() -> None:
    [issue] = validate(_runbook({"argv": ["/bin/echo"], "nope": 1}))
    assert "has no param 'nope'" in str(issue) and "value_slots" not in str(issue)
