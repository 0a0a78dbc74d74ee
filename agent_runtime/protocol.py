"""The agent session protocol: JSON lines between an agent and the daemon.

Every line the agent prints (and journals) is one *event*::

    {"v": 1, "type": "step", "task": "t-8f3a", "seq": 7, "ts": 1764240000.123, "data": {...}}

``seq`` starts at 1 and increases by exactly one per event of a task, so a reader
that stored events up to ``seq`` N resumes with ``--from N+1`` and sees no gap and
no duplicate.

Lines the daemon sends to the agent's standard input are *control messages*::

    {"v": 1, "type": "approve", "task": "t-8f3a", "actor": "jordan", "note": ""}

This module is the single definition both sides parse: the daemon, the hub and the
TUI import it; the agent writes it. Standard library only, Python >= 3.9.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

PROTOCOL_VERSION = 1

#: Event types an agent emits, in the order a typical session emits them.
EVENT_TYPES = (
    "started",  # the agent began: host, pid, agent version, runbook candidates
    "step",  # a named phase or step begins (diagnose/classify/decide/remediate/verify)
    "output",  # a chunk of a command's output (bounded; ``stream`` stdout/stderr)
    "evidence",  # a fact collected by a diagnose step (name, value)
    "classified",  # candidate causes with their scores
    "decision",  # auto / suggest / escalate, with every input that led to it
    "approval_requested",  # the exact action, risk, confidence and dry-run output
    "action",  # a typed action ran (or was dry-run): its exact result
    "verified",  # the verification check: passed or not, with its detail
    "finished",  # the outcome: resolved / failed / escalated / cancelled / rejected
)

#: Control messages the daemon sends to an agent.
CONTROL_TYPES = ("approve", "reject", "escalate", "cancel", "hold")
# ``hold`` (sent on ``ccm pause``): an automatic fix not yet started waits for approval.

#: Outcomes a ``finished`` event may carry.
OUTCOMES = ("resolved", "failed", "escalated", "cancelled", "rejected", "noop")

#: Largest ``output`` chunk, in characters; longer output is split into chunks.
MAX_OUTPUT_CHUNK = 4096


class ProtocolError(ValueError):
    """A line that is not a valid event or control message."""


@dataclass(frozen=True)
class AgentEvent:
    """One event of an agent session."""

    type: str
    task: str
    seq: int
    ts: float
    data: Dict[str, Any] = field(default_factory=dict)
    v: int = PROTOCOL_VERSION

    def to_json(self) -> str:
        """The event as one compact JSON line (no trailing newline)."""
        return json.dumps(
            {"v": self.v, "type": self.type, "task": self.task, "seq": self.seq,
             "ts": self.ts, "data": self.data},
            separators=(",", ":"), sort_keys=False, ensure_ascii=False,
        )


@dataclass(frozen=True)
class ControlMessage:
    """One control message from the daemon to an agent."""

    type: str
    task: str
    actor: str = ""
    note: str = ""
    v: int = PROTOCOL_VERSION

    def to_json(self) -> str:
        """The message as one compact JSON line (no trailing newline)."""
        return json.dumps(
            {"v": self.v, "type": self.type, "task": self.task, "actor": self.actor,
             "note": self.note},
            separators=(",", ":"), ensure_ascii=False,
        )


def make_event(type_: str, task: str, seq: int, data: Optional[Dict[str, Any]] = None,
               ts: Optional[float] = None) -> AgentEvent:
    """Build a validated event; raises :class:`ProtocolError` on a bad type or seq."""
    if type_ not in EVENT_TYPES:
        raise ProtocolError("unknown event type %r" % (type_,))
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ProtocolError("seq must be an integer >= 1, got %r" % (seq,))
    if not task:
        raise ProtocolError("event without a task id")
    return AgentEvent(type_, task, seq, time.time() if ts is None else float(ts), dict(data or {}))


def _load_object(line: str) -> Dict[str, Any]:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("not JSON: %s" % (exc,)) from None
    if not isinstance(obj, dict):
        raise ProtocolError("a protocol line must be a JSON object")
    version = obj.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError("unsupported protocol version %r (this side speaks %d)"
                            % (version, PROTOCOL_VERSION))
    return obj


def parse_event(line: str) -> AgentEvent:
    """Parse one JSON line into an :class:`AgentEvent`, validating every field."""
    obj = _load_object(line)
    data = obj.get("data", {})
    if not isinstance(data, dict):
        raise ProtocolError("event data must be an object")
    task = obj.get("task")
    if not isinstance(task, str):
        raise ProtocolError("event task must be a string")
    ts = obj.get("ts")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        raise ProtocolError("event ts must be a number")
    seq = obj.get("seq")
    return make_event(str(obj.get("type")), task, seq, data, ts)  # type: ignore[arg-type]


def parse_control(line: str) -> ControlMessage:
    """Parse one JSON line into a :class:`ControlMessage`."""
    obj = _load_object(line)
    type_ = obj.get("type")
    if type_ not in CONTROL_TYPES:
        raise ProtocolError("unknown control message %r" % (type_,))
    task = obj.get("task")
    if not isinstance(task, str) or not task:
        raise ProtocolError("control message without a task id")
    actor = obj.get("actor", "")
    note = obj.get("note", "")
    if not isinstance(actor, str) or not isinstance(note, str):
        raise ProtocolError("control actor and note must be strings")
    return ControlMessage(str(type_), task, actor, note)


#: Most ``output`` characters one step may emit; the rest is dropped and marked.
MAX_OUTPUT_PER_STEP = 64 * 1024


class OutputBudget:
    """Split a step's output into bounded ``output`` event payloads.

    Each call to :meth:`chunks` returns the ``data`` dicts of the ``output`` events
    to emit for one piece of text: at most :data:`MAX_OUTPUT_CHUNK` characters each,
    and at most ``limit`` characters for the whole step.  The first payload that
    hits the limit carries ``"truncated": true`` and the count of dropped
    characters; later text is dropped silently (counted in :attr:`dropped`).
    """

    def __init__(self, step: str, limit: int = MAX_OUTPUT_PER_STEP,
                 chunk: int = MAX_OUTPUT_CHUNK) -> None:
        self.step = step
        self.limit = limit
        self.chunk = max(1, chunk)
        self.used = 0
        self.dropped = 0
        self.truncated = False

    def chunks(self, stream: str, text: str) -> List[Dict[str, Any]]:
        """The ``output`` payloads for ``text`` written to ``stream``."""
        if not text:
            return []
        if self.truncated:
            self.dropped += len(text)
            return []
        room = self.limit - self.used
        keep, rest = text[:room], text[room:]
        out: List[Dict[str, Any]] = []
        for start in range(0, len(keep), self.chunk):
            piece = keep[start:start + self.chunk]
            out.append({"step": self.step, "stream": stream, "text": piece})
        self.used += len(keep)
        if rest:
            self.truncated = True
            self.dropped += len(rest)
            marker = {"step": self.step, "stream": stream, "text": "",
                      "truncated": True, "dropped_chars": len(rest)}
            if out:
                out[-1]["truncated"] = True
                out[-1]["dropped_chars"] = len(rest)
            else:
                out.append(marker)
        return out


def chunk_output(step: str, stream: str, text: str,
                 limit: int = MAX_OUTPUT_PER_STEP) -> List[Dict[str, Any]]:
    """One-shot helper: the bounded ``output`` payloads for a single text."""
    return OutputBudget(step, limit).chunks(stream, text)
