"""The wire protocol: events and control messages round-trip; output is bounded."""

from __future__ import annotations

import json

import pytest

from agent_runtime import protocol
from agent_runtime.protocol import (
    CONTROL_TYPES,
    EVENT_TYPES,
    MAX_OUTPUT_CHUNK,
    AgentEvent,
    ControlMessage,
    OutputBudget,
    ProtocolError,
    chunk_output,
    make_event,
    parse_control,
    parse_event,
)


def test_public_names_and_wire_format_are_stable() -> None:
    assert EVENT_TYPES == ("started", "step", "output", "evidence", "classified", "decision",
                           "approval_requested", "action", "verified", "finished")
    assert CONTROL_TYPES == ("approve", "reject", "escalate", "cancel", "hold")
    event = make_event("step", "t-1", 3, {"phase": "diagnose"}, ts=12.5)
    assert json.loads(event.to_json()) == {"v": 1, "type": "step", "task": "t-1", "seq": 3,
                                           "ts": 12.5, "data": {"phase": "diagnose"}}
    assert protocol.PROTOCOL_VERSION == 1


def test_event_round_trip() -> None:
    event = make_event("finished", "t-9", 42, {"outcome": "resolved", "note": "é"})
    again = parse_event(event.to_json())
    assert isinstance(again, AgentEvent)
    assert again == event


@pytest.mark.parametrize("line, why", [
    ("nope", "not JSON"),
    ("[1]", "JSON object"),
    ('{"v": 2, "type": "step", "task": "t", "seq": 1, "ts": 1, "data": {}}', "version"),
    ('{"v": 1, "type": "bogus", "task": "t", "seq": 1, "ts": 1, "data": {}}', "unknown event"),
    ('{"v": 1, "type": "step", "task": "t", "seq": 0, "ts": 1, "data": {}}', "seq"),
    ('{"v": 1, "type": "step", "task": "t", "seq": 1, "ts": 1, "data": []}', "data"),
    ('{"v": 1, "type": "step", "task": "", "seq": 1, "ts": 1, "data": {}}', "task"),
])
def test_bad_events_are_rejected(line: str, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        parse_event(line)


def test_control_messages() -> None:
    msg = ControlMessage("approve", "t-1", actor="jordan", note="go")
    assert parse_control(msg.to_json()) == msg
    with pytest.raises(ProtocolError, match="unknown control"):
        parse_control('{"v": 1, "type": "rm", "task": "t-1"}')
    with pytest.raises(ProtocolError, match="task"):
        parse_control('{"v": 1, "type": "approve"}')


def test_output_is_chunked_and_bounded_per_step() -> None:
    budget = OutputBudget("s1", limit=10_000)
    first = budget.chunks("stdout", "a" * 9_000)
    assert [len(c["text"]) for c in first] == [MAX_OUTPUT_CHUNK, MAX_OUTPUT_CHUNK, 808]
    assert all(c["step"] == "s1" and c["stream"] == "stdout" for c in first)
    assert not any(c.get("truncated") for c in first)
    second = budget.chunks("stderr", "b" * 3_000)
    assert sum(len(c["text"]) for c in second) == 1_000
    assert second[-1]["truncated"] is True and second[-1]["dropped_chars"] == 2_000
    assert budget.chunks("stdout", "more") == []  # dropped silently after the marker
    assert budget.dropped == 2_004
    total = sum(len(c["text"]) for c in first + second)
    assert total == 10_000


def test_marker_when_budget_already_spent() -> None:
    budget = OutputBudget("s", limit=4)
    assert budget.chunks("stdout", "abcd") == [{"step": "s", "stream": "stdout", "text": "abcd"}]
    marker = budget.chunks("stdout", "ef")
    assert marker == [{"step": "s", "stream": "stdout", "text": "", "truncated": True,
                       "dropped_chars": 2}]
    assert chunk_output("x", "stdout", "") == []
