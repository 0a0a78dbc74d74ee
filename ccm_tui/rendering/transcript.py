"""One transcript event as lines of rich text (pure: no widget, no clock).

Every event type of the agent protocol has a rendering: steps, commands and their
output, evidence, the classification, the decision with its inputs (why 0.72 and
not 0.95), the approval request, the actions, the verification and the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.text import Text

from agent_runtime.runbook_safety import SLOTS_PARAM
from ccm_tui.core.model import Event
from ccm_tui.core.text import printable

MAX_OUTPUT_LINES = 40


#: Params the agent adds to a planned step for itself, never written in a runbook: where
#: a ``shell`` template put a value (so it can refuse one looking like an option). Not
#: shown to the engineer deciding on the step; ``--json`` keeps them.
AGENT_PARAMS = frozenset({SLOTS_PARAM})


def _params(params: Any) -> str:
    if isinstance(params, Mapping):
        return " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                        for k, v in params.items() if k not in AGENT_PARAMS)
    return str(params or "")


def _num(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else str(value if value is not None else "?")


def decision_inputs(d: Mapping[str, Any]) -> str:
    """Why this confidence: ``match 0.80 × prior 0.95 × cap 0.95 = 0.72``."""
    parts = [f"match {_num(d.get('evidence_match'))}", f"prior {_num(d.get('prior'))}",
             f"cap {_num(d.get('risk_cap'))}"]
    return " × ".join(parts) + f" = {_num(d.get('confidence'))}"


def action_line(step: Mapping[str, Any]) -> str:
    """``clean_files root=/var/log older_than_days=7`` for a planned or run step."""
    return f"{step.get('action', '?')} {_params(step.get('params'))}".strip()


def _safe(value: Any, *, block: bool = False) -> Any:
    """``value`` with every string in it (keys too) made :func:`printable`: events come
    from an agent on a server, and their text from commands and alerts run there."""
    if isinstance(value, str):
        return printable(value, block=block)
    if isinstance(value, Mapping):
        return {printable(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    return value


def render_event(event: Event) -> list[Text]:
    """The lines showing ``event`` in the transcript (control characters shown as escapes;
    only command output keeps its new lines and tabs)."""
    d = _safe(event.data)
    if isinstance(event.data, Mapping) and isinstance(event.data.get("text"), str):
        d["text"] = printable(event.data["text"], block=True)
    head = Text(f"{event.seq:>4} {event.ts:%H:%M:%S} ", style="dim")
    kind = printable(event.type)

    def line(label: str, body: str, style: str = "") -> Text:
        t = head.copy()
        t.append(f"{label:<9}", style=f"bold {style}".strip())
        t.append(body, style=style)
        return t

    if kind == "started":
        return [line("started", f"agent on {d.get('host', '?')} · runbook {d.get('runbook') or '-'}")]
    if kind == "step" and d.get("phase") == "held":  # pause, or a silence: why, and by whom
        why = " · ".join(str(x) for x in (d.get("note"), d.get("reason")) if x)
        who = f" by {d['actor']}" if d.get("actor") else ""
        return [line("step", f"held{who}{f' · {why}' if why else ''}", "yellow")]
    if kind == "step":
        what = d.get("step") or d.get("cause") or d.get("runbook") or ""
        extra = f" $ {action_line(d)}" if d.get("action") else ""
        dry = " (dry run)" if d.get("dry_run") else ""
        who = f" by {d['actor']}" if d.get("actor") else ""
        return [line("step", f"{d.get('phase', '?')} {what}{extra}{dry}{who}".strip(), "cyan")]
    if kind == "output":
        text = str(d.get("text", ""))
        style = "red" if d.get("stream") == "stderr" else ""
        lines = text.splitlines()
        out = [Text("          │ " + ln, style=style) for ln in lines[:MAX_OUTPUT_LINES]]
        if len(lines) > MAX_OUTPUT_LINES or d.get("truncated"):
            out.append(Text("          │ … (truncated)", style="dim"))
        return out
    if kind == "evidence":
        ok = "✓" if d.get("ok") else "✗"
        said = d.get("summary") or ""
        if not d.get("ok") and d.get("error") and d.get("error") != said:
            said = f"{said}: {d['error']}" if said else str(d["error"])
        body = f"{ok} {d.get('step', '?')}: {said}"
        return [line("evidence", body, "" if d.get("ok") else "red")]
    if kind == "classified":
        cands = d.get("candidates") or []
        body = ", ".join(f"{c.get('cause')} {_num(c.get('score', c.get('weight')))}"
                         + ("" if c.get("matched", True) else " (no)")
                         for c in cands if isinstance(c, Mapping))
        return [line("classify", body or "no candidate causes")]
    if kind == "decision":
        out = [line("decision", f"{str(d.get('verdict', '?')).upper()} · confidence "
                    f"{_num(d.get('confidence'))} ({decision_inputs(d)}) · risk {d.get('risk', '?')}",
                    "bold magenta")]
        out += [Text(f"          · {r}", style="magenta") for r in d.get("reasons") or ()]
        return out
    if kind == "approval_requested":
        out = [line("approval", f"waiting for a human: {d.get('title') or d.get('runbook', '')}",
                    "bold yellow")]
        for plan in d.get("actions") or ():
            for step in plan.get("steps", ()) if isinstance(plan, Mapping) else ():
                out.append(Text(f"          $ {action_line(step)}", style="yellow"))
        return out
    if kind == "action":
        mark = "✓" if d.get("ok") else "✗"
        dry = " (dry run)" if d.get("dry_run") else ""
        body = f"{mark} {action_line(d)}{dry}: {d.get('summary') or d.get('error') or ''}"
        return [line("action", body, "green" if d.get("ok") else "red")]
    if kind == "verified":
        passed = bool(d.get("passed"))
        body = f"{'passed' if passed else 'FAILED'} · {d.get('detail', '')}"
        return [line("verified", body, "green" if passed else "red")]
    if kind == "finished":
        outcome = str(d.get("outcome", "?"))
        style = "bold green" if outcome in {"resolved", "noop"} else "bold red"
        reasons = "; ".join(str(r) for r in d.get("reasons") or ())
        return [line("finished", f"{outcome.upper()}" + (f" · {reasons}" if reasons else ""), style)]
    return [line(kind, json.dumps(d)[:200])]
