"""``ccm status``, ``ccm pause`` and ``ccm resume`` show a hostile pause reason, pauser
and silence (matchers, reason) literally: control characters as escapes, square
brackets as they are, never as rich markup; ``--json`` keeps the stored values."""

from __future__ import annotations

import json

import pytest

from tests.functional.test_terminal_safety import EVIL, SHOWN, assert_safe
from tests.unit.cli_support import ccm

pytestmark = pytest.mark.usefixtures("isolated_env")

E = "\x1b"


def test_status_shows_a_hostile_pause_reason_and_pauser_literally(url: str) -> None:
    paused = ccm("--hub", url, "pause", "--reason", EVIL, "--as", f"eve{E}[8m[b]x[/b]")
    assert paused.exit_code == 0, paused.output
    assert_safe(paused.stdout)
    assert "eve\\x1b[8m[b]x[/b]" in paused.stdout, paused.stdout
    out = ccm("--hub", url, "status")
    assert out.exit_code == 0, out.output
    assert_safe(out.stdout)
    assert "PAUSED by eve\\x1b[8m[b]x[/b]" in out.stdout, out.stdout
    data = json.loads(ccm("--hub", url, "status", "--json").stdout)
    assert data["control"]["reason"] == EVIL  # stored as sent: nothing lost


def test_pausing_again_names_the_pauser_literally(url: str) -> None:
    assert ccm("--hub", url, "pause", "--as", f"mallory{E}]52;c;eA==\x07").exit_code == 0
    again = ccm("--hub", url, "pause", "--as", "bob")
    assert again.exit_code == 0, again.output
    assert "mallory\\x1b]52;c;eA==\\x07's" in again.stderr, again.stderr
    assert E not in again.stderr and "\x07" not in again.stderr


def test_status_shows_a_hostile_silence_literally(url: str) -> None:
    made = ccm("--hub", url, "silence", "add", "alertname=[red]X[/red]", "--for", "1h",
               "--reason", EVIL)
    assert made.exit_code == 0, made.output
    out = ccm("--hub", url, "status")
    assert out.exit_code == 0, out.output
    assert_safe(out.stdout, shown=SHOWN)
    assert "[red]X[/red]" in out.stdout, out.stdout


def test_resume_after_a_hostile_pause_reads_running(url: str) -> None:
    assert ccm("--hub", url, "pause", "--reason", "[/]").exit_code == 0  # stray close tag
    out = ccm("--hub", url, "status")
    assert out.exit_code == 0, out.output
    assert ": [/] —" in out.stdout, out.stdout
    resumed = ccm("--hub", url, "resume")
    assert resumed.exit_code == 0 and "running" in resumed.stdout, resumed.output


def test_a_silence_of_days_shows_the_day_it_ends(url: str) -> None:
    """``until 11:27`` for a silence of three days would read as ending today."""
    from datetime import datetime, timedelta

    assert ccm("--hub", url, "silence", "add", "host=db-01", "--for", "3d").exit_code == 0
    out = ccm("--hub", url, "status").stdout
    ends = (datetime.now().astimezone() + timedelta(days=3)).strftime("%Y-%m-%d")
    assert f"host=db-01 until {ends} " in out, out
