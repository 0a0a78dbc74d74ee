"""shell: argv and quoted templates; hostile values arrive as one literal argument."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agent_runtime.actions import ActionContext, ActionError, run_action

HOSTILE = '"; rm -rf / #'


@pytest.fixture()
def echo_argv(tmp_path: Path) -> Path:
    """A script that prints its argv (without argv[0]) as JSON."""
    script = tmp_path / "echo-argv"
    script.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    script.chmod(0o755)
    return script


def test_template_argument_is_one_literal_argv_element(echo_argv: Path, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("still here")
    res = run_action("shell", {"command": f"{echo_argv} --label {{}} --other {{}}",
                               "args": [HOSTILE, f"$(touch {canary}.pwned) `id` {canary}"]},
                     ActionContext())
    assert res.ok, res.error
    assert res.data["exit_code"] == 0
    assert json.loads(res.data["stdout"]) == [
        "--label", HOSTILE, "--other", f"$(touch {canary}.pwned) `id` {canary}"]
    assert canary.read_text() == "still here"
    assert not Path(f"{canary}.pwned").exists()


def test_argv_form_passes_values_verbatim(echo_argv: Path) -> None:
    res = run_action("shell", {"argv": [str(echo_argv), HOSTILE, "a b", ""]}, ActionContext())
    assert res.ok and json.loads(res.data["stdout"]) == [HOSTILE, "a b", ""]


def test_exit_code_output_bound_and_dry_run(tmp_path: Path) -> None:
    res = run_action("shell", {"argv": ["/bin/sh", "-c", "echo oops >&2; exit 3"]}, ActionContext())
    assert not res.ok and res.data["exit_code"] == 3 and res.data["stderr"].strip() == "oops"
    assert res.error == "exit code 3"
    big = run_action("shell", {"argv": [sys.executable, "-c", "print('x' * 300000)"]}, ActionContext())
    assert big.ok and big.data["truncated"] and len(big.data["stdout"]) < 70_000
    marker = tmp_path / "m"
    dry = run_action("shell", {"command": "touch {}", "args": [str(marker)]}, ActionContext(dry_run=True))
    assert dry.ok and dry.dry_run and not dry.changed and dry.data["exit_code"] is None
    assert dry.data["argv"] == ["/bin/sh", "-c", f"touch {marker}"]
    assert not marker.exists()


def test_timeout_and_streaming(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    ctx = ActionContext(timeout=0.5, on_output=lambda stream, text: seen.append((stream, text)))
    res = run_action("shell", {"argv": ["/bin/sh", "-c", "echo started; sleep 10"]}, ctx)
    assert not res.ok and res.data["timed_out"] and res.data["exit_code"] is None
    assert ("stdout", "started\n") in seen


def test_env_is_merged(tmp_path: Path) -> None:
    res = run_action("shell", {"argv": ["/bin/sh", "-c", "echo $CCM_TEST_VAR"]},
                     ActionContext(env={"CCM_TEST_VAR": "hello"}))
    assert res.data["stdout"].strip() == "hello"


def test_bad_shell_params() -> None:
    with pytest.raises(ActionError, match="exactly one"):
        run_action("shell", {"argv": ["true"], "command": "true"}, ActionContext())
    with pytest.raises(ActionError, match="1 '\\{\\}' slot"):
        run_action("shell", {"command": "echo {}", "args": ["a", "b"]}, ActionContext())
    missing = run_action("shell", {"argv": ["/nonexistent/prog"]}, ActionContext())
    assert not missing.ok and "cannot run" in missing.error
