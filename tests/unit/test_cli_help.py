"""``--help`` reads right: a flag is listed without a value type, since it takes none."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", [(), ("run",), ("fleet",), ("fleet", "list"),
                                     ("ingest", "replay"), ("silence", "add"), ("webhook",)])
def test_no_flag_is_shown_as_taking_a_value(command: tuple[str, ...]) -> None:
    text = _help(*command)
    assert "--help" in text
    assert "<bool>" not in text


def test_options_that_take_a_value_still_show_what_they_take() -> None:
    text = _help("run")
    assert "PATTERN" in text and "N [x>=1]" in text  # a count reads N, not <int range>
    assert "<int range>" not in text


def test_a_flag_given_a_value_is_a_usage_error_that_says_so() -> None:
    result = CliRunner().invoke(app, ["run", "uptime", "--hosts", "all", "--json=yes"])
    assert result.exit_code == 2
    assert "does not take a value" in result.output


def test_every_command_summary_is_one_line_of_prose() -> None:
    """``--help`` lists each command by its first paragraph; a hard line break inside it
    shows as a break in the middle of the listing."""
    import typer.main

    broken: list[str] = []

    def walk(cmd: Any, path: str) -> None:
        summary = (cmd.help or "").strip().split("\n\n")[0]
        if not summary or "\n" in summary:
            broken.append(f"{path}: {summary!r}")
        if hasattr(cmd, "list_commands"):  # a group (of typer's own click, not click's)
            for name in cmd.list_commands(None):
                sub = cmd.get_command(None, name)
                assert sub is not None
                walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "ccm")
    assert broken == []
