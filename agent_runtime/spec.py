"""The task spec the daemon hands an agent: what fired, which runbooks, which policy.

::

    {"task": "t-8f3a", "host": "web-1",
     "alert": {"labels": {...}, "annotations": {...}, "severity": "critical"},
     "runbooks": [<runbook JSON>, ...], "runbook": "disk-full" (optional: force one),
     "policy": {"auto_threshold": 0.9, "suggest_threshold": 0.5, "max_auto_risk": "medium",
                "risk_caps": {...}, "dry_run": false},
     "priors": {"disk-full": 0.98}, "root": "/", "env": {}, "journal_dir": null}
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, Optional

from agent_runtime.decide import Policy, PolicyError

#: What a task id looks like: it becomes a file name in the journal directory.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

SPEC_KEYS = {"task", "host", "alert", "runbooks", "runbook", "policy", "priors", "root",
             "env", "journal_dir", "timeout"}


class SpecError(ValueError):
    """A task spec that cannot be run."""


@dataclass
class TaskSpec:
    """A parsed, checked task spec."""

    task: str
    host: str
    alert: Dict[str, Any]
    runbooks: List[Dict[str, Any]]
    policy: Policy
    priors: Dict[str, float] = field(default_factory=dict)
    root: str = "/"
    env: Dict[str, str] = field(default_factory=dict)
    journal_dir: Optional[str] = None
    runbook: Optional[str] = None
    timeout: float = 30.0

    @classmethod
    def from_dict(cls, raw: Any) -> "TaskSpec":
        """Check and build; raises :class:`SpecError` naming the bad field."""
        if not isinstance(raw, dict):
            raise SpecError("the task spec is a JSON object")
        unknown = set(raw) - SPEC_KEYS
        if unknown:
            raise SpecError("unknown task spec keys: %s" % ", ".join(sorted(unknown)))
        task = raw.get("task")
        if not isinstance(task, str) or not task:
            raise SpecError("task spec needs a 'task' id")
        if not _TASK_ID.fullmatch(task):
            raise SpecError("task id %r is not a plain name (letters, digits, '-', '_', '.'; "
                            "it names the journal and control files)" % (task[:80],))
        alert = raw.get("alert") or {}
        if not isinstance(alert, dict):
            raise SpecError("alert must be an object")
        alert = dict(alert)
        for key in ("labels", "annotations"):
            value = alert.setdefault(key, {})
            if not isinstance(value, dict):
                raise SpecError("alert.%s must be an object" % key)
            alert[key] = {str(k): "" if v is None else str(v) for k, v in value.items()}
        alert.setdefault("severity", alert["labels"].get("severity", ""))
        runbooks = raw.get("runbooks") or []
        if not isinstance(runbooks, list) or not all(isinstance(r, dict) for r in runbooks):
            raise SpecError("runbooks must be a list of runbook objects")
        priors = raw.get("priors") or {}
        if not isinstance(priors, dict) or not all(
                isinstance(v, (int, float)) and 0 <= v <= 1 for v in priors.values()):
            raise SpecError("priors maps runbook ids to success rates from 0 to 1")
        env = raw.get("env") or {}
        if not isinstance(env, dict):
            raise SpecError("env must be an object of strings")
        try:
            policy = Policy.from_dict(raw.get("policy"))
        except (PolicyError, TypeError) as exc:
            raise SpecError(str(exc)) from None
        timeout = raw.get("timeout", 30.0)
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise SpecError("timeout must be a positive number of seconds")
        return cls(
            task=task, host=str(raw.get("host") or socket.gethostname()), alert=alert,
            runbooks=list(runbooks), policy=policy,
            priors={str(k): float(v) for k, v in priors.items()},
            root=str(raw.get("root") or "/"), env={str(k): str(v) for k, v in env.items()},
            journal_dir=raw.get("journal_dir"), runbook=raw.get("runbook"),
            timeout=float(timeout),
        )


def read_spec(stream: IO[str]) -> Dict[str, Any]:
    """Read one JSON object from ``stream``, line by line, stopping right after it,
    so the rest of the stream stays for control messages."""
    buf = ""
    decoder = json.JSONDecoder()
    while True:
        line = stream.readline()
        if not line:
            break
        buf += line
        try:
            obj, _ = decoder.raw_decode(buf.strip())
        except ValueError:
            continue
        if not isinstance(obj, dict):
            raise SpecError("the task spec is a JSON object")
        return obj
    if not buf.strip():
        raise SpecError("no task spec on standard input")
    try:
        obj = json.loads(buf)
    except ValueError as exc:
        raise SpecError("task spec is not JSON: %s" % exc) from None
    if not isinstance(obj, dict):
        raise SpecError("the task spec is a JSON object")
    return obj
