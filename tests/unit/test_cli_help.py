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




def _verbatim(cmd: Any) -> list[tuple[str, str]]:
    """The help paragraphs of ``cmd`` that typer prints with their line breaks kept, as
    (where, paragraph) pairs.

    typer (0.29, rich markup mode) joins the lines of a command's first paragraph and of
    an option's help, but prints the later paragraphs of a command's help and its
    epilog as written, and so does any paragraph starting with ``\\b``. A docstring
    hard-wrapped at 90 characters then breaks mid-sentence on an 80-column terminal
    ("...once the hub has stored" / "it; while..."). In Markdown mode a single line
    break is a soft break, and joined.
    """
    import inspect

    if getattr(cmd, "rich_markup_mode", None) == "markdown":
        return []
    found: list[tuple[str, str]] = []
    text = inspect.cleandoc(cmd.help or "").partition("\f")[0]
    first, *rest = text.split("\n\n")
    if first.startswith("\b"):
        found.append(("summary", first))
    found += [("help", p) for p in rest]
    found += [("epilog", p) for p in (cmd.epilog or "").split("\n\n") if p]
    for param in cmd.params:
        for p in (getattr(param, "help", None) or "").split("\n\n"):
            if p.startswith("\b"):
                found.append((f"{param.name} help", p))
    return found


def _help_line_breaks() -> dict[str, list[str]]:
    """Every command and group: the paragraphs typer prints as written that hold a line
    break (so a sentence breaks where the source was wrapped, not where the terminal is)."""
    import typer.main

    broken: dict[str, list[str]] = {}

    def walk(cmd: Any, path: str) -> None:
        bad = [f"{where}: {p!r}" for where, p in _verbatim(cmd) if "\n" in p.strip("\b\n")]
        if bad:
            broken[path] = bad
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                sub = cmd.get_command(None, name)
                assert sub is not None
                walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "ccm")
    return broken


def test_no_help_text_breaks_a_sentence_where_the_source_was_wrapped() -> None:
    """Every command's full help, epilog and option help: a paragraph typer prints as
    written is one line in the source, and the terminal wraps it."""
    assert _help_line_breaks() == {}


def test_the_walk_catches_a_hard_wrapped_paragraph() -> None:
    import typer.main

    demo = typer.Typer()

    @demo.command()
    def one(flag: bool = typer.Option(False, help="\b\nkept\nas written")) -> None:
        """Summary.

        A second paragraph wrapped
        in the source.
        """

    cmd = typer.main.get_command(demo)
    assert [w for w, p in _verbatim(cmd) if "\n" in p.strip("\b\n")] == ["help", "flag help"]


@pytest.mark.parametrize("command", [("webhook",), ("report",), ("init",)])
def test_each_help_paragraph_is_one_line_on_a_wide_terminal(command: tuple[str, ...]) -> None:
    """What the reviewer saw: `ccm webhook --help` printed "...once the hub has stored" and
    "it; ..." on two lines however wide the terminal."""
    import inspect

    import typer.main

    cmd = typer.main.get_command(app)
    for name in command:
        cmd = cmd.get_command(None, name)  # type: ignore[attr-defined]
    paragraphs = inspect.cleandoc(cmd.help or "").split("\n\n")[1:]
    assert paragraphs
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "400"})
    lines = [line.strip() for line in result.stdout.splitlines()]
    for p in paragraphs:
        assert " ".join(p.split()) in lines, p
