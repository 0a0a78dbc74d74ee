"""``ccm pause`` twice and ``ccm resume`` when nothing is paused. A second pause used to
overwrite who paused, since when and why, so on-call could no longer find the person
whose deploy was the reason; now the first pause stands and the second is audited."""

from __future__ import annotations

import json

import pytest

from tests.unit.cli_support import ccm, hub_call

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_a_second_pause_keeps_the_first_and_is_audited(url: str) -> None:
    first = ccm("--hub", url, "pause", "--reason", "deploy 4.2", "--as", "alice")
    assert first.exit_code == 0 and first.stderr == ""
    started = hub_call(url, "get_control")

    second = ccm("--hub", url, "pause", "--reason", "db failover", "--as", "bob")
    assert second.exit_code == 0
    assert second.stderr == ("ccm: fixes were already paused; the pause stays alice's "
                             "(yours is noted in the audit log; --take-over makes it yours)\n")
    assert "PAUSED by alice" in second.stdout and "deploy 4.2" in second.stdout
    assert hub_call(url, "get_control") == started  # who, since when and why: unchanged

    again = json.loads(ccm("--hub", url, "pause", "--json", "--as", "carol").stdout)
    assert again["already_paused"] is True and again["actor"] == "alice"
    assert again["reason"] == "deploy 4.2"

    audit = hub_call(url, "list_audit")
    repeats = [e for e in audit if e.action == "pause.repeated"]
    assert sorted(e.actor for e in repeats) == ["bob", "carol"]
    bob = next(e for e in repeats if e.actor == "bob")
    assert bob.detail["reason"] == "db failover" and bob.detail["paused_by"] == "alice"
    assert bob.detail["paused_reason"] == "deploy 4.2"
    assert bob.detail["paused_since"] == started.updated_at.isoformat()
    assert [e.actor for e in audit if e.action == "pause"] == ["alice"]


def test_resume_then_pause_again_is_a_new_pause(url: str) -> None:
    ccm("--hub", url, "pause", "--reason", "deploy", "--as", "alice")
    resumed = json.loads(ccm("--hub", url, "resume", "--json", "--as", "bob").stdout)
    assert resumed["paused"] is False and resumed["was_paused"] is True
    paused = json.loads(ccm("--hub", url, "pause", "-r", "incident", "--as", "dave",
                            "--json").stdout)
    assert paused["already_paused"] is False
    assert (paused["actor"], paused["reason"]) == ("dave", "incident")


def test_resume_when_nothing_is_paused_changes_nothing_and_says_so(url: str) -> None:
    before = hub_call(url, "get_control")
    result = ccm("--hub", url, "resume", "--as", "erin")
    assert result.exit_code == 0
    assert result.stderr == "ccm: fixes were not paused; nothing to resume\n"
    assert "running" in result.stdout
    assert hub_call(url, "get_control") == before
    assert json.loads(ccm("--hub", url, "resume", "--json").stdout)["was_paused"] is False
    assert not [e for e in hub_call(url, "list_audit") if e.action == "resume"]


def test_take_over_makes_the_pause_yours_without_resuming(url: str) -> None:
    ccm("--hub", url, "pause", "--reason", "deploy", "--as", "alice")
    taken = ccm("--hub", url, "pause", "--take-over", "-r", "db failover", "--as", "bob",
                "--json")
    assert taken.exit_code == 0 and taken.stderr == ""
    doc = json.loads(taken.stdout)
    assert (doc["paused"], doc["actor"], doc["reason"], doc["already_paused"]) == (
        True, "bob", "db failover", False)
    audit = hub_call(url, "list_audit")
    assert [e.action for e in audit if e.action.startswith(("pause", "resume"))] \
        .count("resume") == 0  # no moment with automatic fixes on
    (handover,) = [e for e in audit if e.action == "pause.taken_over"]
    assert (handover.actor, handover.detail["paused_by"]) == ("bob", "alice")
    assert handover.detail["paused_reason"] == "deploy"

    fresh = json.loads(ccm("--hub", url, "resume", "--json").stdout)
    assert fresh["paused"] is False
    mine = json.loads(ccm("--hub", url, "pause", "--take-over", "--as", "cy", "--json").stdout)
    assert mine["actor"] == "cy" and mine["already_paused"] is False  # not paused: a pause
