"""The task life cycle of ARCHITECTURE.md: every legal move works, every other raises."""

from __future__ import annotations

import itertools

import pytest

from ccm_tui.core import IllegalTransition, Task, TaskState, check_transition, new_task_id
from ccm_tui.core.states import ACTIVE_STATES, TERMINAL_STATES, TRANSITIONS

S = TaskState

HAPPY_PATH = [S.NEW, S.CLAIMED, S.DIAGNOSING, S.AWAITING_APPROVAL, S.REMEDIATING, S.VERIFYING,
              S.RESOLVED]


def test_happy_path_is_legal() -> None:
    t = Task(id=new_task_id(), host="web-01", alertname="DiskFull")
    for target in HAPPY_PATH[1:]:
        t = t.transition(target)
    assert t.state is S.RESOLVED and t.finished_at is not None and t.started_at is not None


@pytest.mark.parametrize("end", [S.ESCALATED, S.FAILED, S.CANCELLED])
def test_every_working_state_can_end(end: TaskState) -> None:
    for state in (S.CLAIMED, S.DIAGNOSING, S.AWAITING_APPROVAL, S.REMEDIATING, S.VERIFYING):
        assert check_transition(state, end) is end


def test_resolved_upstream_only_before_work_starts() -> None:
    assert check_transition(S.NEW, S.RESOLVED_UPSTREAM) is S.RESOLVED_UPSTREAM
    assert check_transition(S.CLAIMED, S.RESOLVED_UPSTREAM) is S.RESOLVED_UPSTREAM
    for state in (S.DIAGNOSING, S.REMEDIATING, S.VERIFYING):
        with pytest.raises(IllegalTransition):
            check_transition(state, S.RESOLVED_UPSTREAM)


def test_terminal_states_mostly_stay_put() -> None:
    for state in (S.RESOLVED, S.CANCELLED, S.RESOLVED_UPSTREAM):
        assert TRANSITIONS[state] == frozenset()
    assert TRANSITIONS[S.ESCALATED] == {S.RESOLVED, S.CANCELLED}
    assert TRANSITIONS[S.FAILED] == {S.ESCALATED}


def test_every_illegal_pair_raises_with_a_useful_message() -> None:
    for cur, tgt in itertools.product(S, S):
        if tgt in TRANSITIONS[cur]:
            continue
        with pytest.raises(IllegalTransition) as err:
            check_transition(cur, tgt)
        assert str(cur) in str(err.value) and "allowed" in str(err.value)


def test_fixing_needs_a_diagnosis_first() -> None:
    with pytest.raises(IllegalTransition):
        check_transition(S.NEW, S.REMEDIATING)
    with pytest.raises(IllegalTransition):
        check_transition(S.CLAIMED, S.REMEDIATING)


def test_state_sets_partition() -> None:
    assert not (ACTIVE_STATES & TERMINAL_STATES)
    assert set(S) == ACTIVE_STATES | TERMINAL_STATES | {S.NEW}
    assert all(s.is_terminal for s in TERMINAL_STATES) and all(s.is_active for s in ACTIVE_STATES)
