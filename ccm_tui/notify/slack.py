"""Slack incoming-webhook messages in Block Kit: fixed incidents, escalations, the digest.

Each message is ``{"text": <fallback>, "blocks": [...]}`` as the incoming-webhook API
documents (https://api.slack.com/messaging/webhooks). The sender posts at most one
message per ``slack_min_interval`` seconds (1 s by default, Slack's own limit for a
webhook); messages claimed together are **batched** into as few posts as fit Slack's
50-block limit, separated by dividers, so a burst becomes one post instead of a queue.

Every message ends with a context line naming its outbox key (``ccm:…``): Slack has
no idempotency key, so a crash between Slack's ``ok`` and the hub's ``sent`` may post
a message twice (at-least-once); the key lets a reader tell a repeat at a glance.

**Outside text.** Slack reads ``&``, ``<`` and ``>`` in mrkdwn (and in the fallback
``text``) as control characters: ``<!channel>`` in an alert label would ping the whole
channel and ``<http://x|click>`` make a link. Every value from outside CCM (host, alert,
runbook, group, summary, the agent's findings, an operator's name or note) goes through
:func:`escape` exactly once, where the message is composed (:func:`with_text` for the
incident's facts); :func:`section` and :func:`context` take mrkdwn as it is. A header is
``plain_text``, which Slack does not parse, so it gets the values unescaped. Slack has
no escape for ``*``, ``_``, ``~`` or a backtick: those may still format (never ping or
link).
"""

from __future__ import annotations

import re
from typing import Any

from ccm_tui.core.records import OutboxMessage
from ccm_tui.core.text import duration
from ccm_tui.notify.delivery import Dead, Outcome, RateLimiter, post_json
from ccm_tui.notify.facts import IncidentFacts, with_text

CHANNEL = "slack"
MAX_BLOCKS = 50
MAX_TEXT = 2900
_PARTIAL = re.compile(r"&[a-z]{0,3}$")


def escape(value: object) -> str:
    """``value`` as mrkdwn text that Slack shows as it is: ``&``, ``<``, ``>`` as the
    entities Slack decodes (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, never inside an entity (``&am``)."""
    return text if len(text) <= limit else _PARTIAL.sub("", text[:limit])


def _text(kind: str, text: str) -> dict[str, Any]:
    return {"type": kind, "text": _cut(text, MAX_TEXT)}


def header(text: str) -> dict[str, Any]:
    """A header block (plain text, at most 150 characters)."""
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def section(text: str, fields: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """A section of mrkdwn text, with up to 10 two-column fields (``(label, value)``,
    both mrkdwn: outside values go through :func:`escape` first)."""
    block: dict[str, Any] = {"type": "section", "text": _text("mrkdwn", text)}
    if fields:
        block["fields"] = [_text("mrkdwn", _cut(f"*{k}*\n{v}", 2000)) for k, v in fields[:10]]
    return block


def context(*items: str) -> dict[str, Any]:
    """A context block: small grey mrkdwn text (outside values through :func:`escape`)."""
    return {"type": "context", "elements": [_text("mrkdwn", i) for i in items[:10] if i]}


def resolved_message(f: IncidentFacts) -> dict[str, Any]:
    """A fixed incident: what fired, what was done, the result, time to fix."""
    raw, f = f, with_text(f, escape)
    how = f"approved by {f.approved_by}" if f.approved_by else "automatically"
    done = "\n".join(f"• {a}" for a in f.actions) or "nothing needed changing"
    ttf = duration(f.time_to_fix, fine=True) if f.time_to_fix is not None else "-"
    fields = [("What fired", f"{f.alertname} on `{f.host}` ({f.severity})"),
              ("Result", f.result_line()), ("Time to fix", ttf),
              ("Runbook", f"{f.runbook or '-'} ({how})")]
    return {
        "text": f"Fixed {how}: {f.alertname} on {f.host} — {f.result_line()} in {ttf}",
        "blocks": [header(f"✅ Fixed: {raw.alertname} on {raw.host}"),
                   section(f.summary or f.alertname, fields),
                   section(f"*What was done*\n{done}"),
                   context(f"task `{f.task_id}`", f.transcript)],
    }


def cleared_message(f: IncidentFacts) -> dict[str, Any]:
    """An escalated incident whose alert resolved on its own: nobody fixed it here."""
    raw, f = f, with_text(f, escape)
    ttc = duration(f.time_to_fix, fine=True) if f.time_to_fix is not None else "-"
    fields = [("What fired", f"{f.alertname} on `{f.host}` ({f.severity})"),
              ("Cleared after", ttc), ("Runbook", f.runbook or "none matched")]
    return {
        "text": f"Cleared upstream after escalation: {f.alertname} on {f.host} "
                f"(CCM changed nothing) after {ttc}",
        "blocks": [header(f"☑️ Cleared upstream: {raw.alertname} on {raw.host}"),
                   section("The alert resolved after the escalation; CCM changed nothing "
                           "on the host. Worth a look if it keeps coming back.", fields),
                   context(f"task `{f.task_id}`", f.transcript)],
    }


def escalation_message(f: IncidentFacts, *, paged: bool, held: str = "") -> dict[str, Any]:
    """An escalation with the agent's findings (``held``: why its page waits, plain text)."""
    raw, f = f, with_text(f, escape)
    lines = [f"*Cause*: {f.cause}"] if f.cause else []
    lines += [f"• {r}" for r in f.reasons[:8]]
    lines += [f"• _{k}_: {v}" for k, v in f.evidence]
    findings = "\n".join(lines) or "_no findings: the agent could not diagnose it_"
    conf = f"{f.confidence:.2f}" if f.confidence is not None else "-"
    fields = [("Alert", f"{f.alertname} ({f.severity})"), ("Host", f"`{f.host}` ({f.host_group})"),
              ("Runbook", f.runbook or "none matched"), ("Confidence", conf)]
    who = "paged on-call" if paged else escape(held) or "not paged (routing)"
    return {
        "text": f"Escalated: {f.alertname} on {f.host} — {f.cause or f.outcome or 'needs a human'}",
        "blocks": [header(f"🚨 Escalated: {raw.alertname} on {raw.host}"),
                   section(f.outcome or f.summary or "needs a human", fields),
                   section(f"*Findings*\n{findings}"),
                   context(f"task `{f.task_id}` · {who}", f.transcript)],
    }


def suggestion_message(f: IncidentFacts) -> dict[str, Any]:
    """A fix waiting for one-key approval."""
    raw, f = f, with_text(f, escape)
    conf = f"{f.confidence:.2f}" if f.confidence is not None else "-"
    return {
        "text": f"Approval wanted: {f.runbook or 'a fix'} for {f.alertname} on {f.host}",
        "blocks": [header(f"🟡 Approval wanted: {raw.alertname} on {raw.host}"),
                   section(f"Runbook *{f.runbook or '-'}* suggests a fix (confidence {conf}): "
                           f"{f.cause or f.summary}"),
                   context(f"`ccm approve {f.task_id}` · `ccm reject {f.task_id}`",
                           f.transcript)],
    }


def digest_message(title: str, lines: list[tuple[str, str]], notes: list[str]) -> dict[str, Any]:
    """The morning digest: a header, figures as fields, and a few notable lines (all
    plain text: notes name hosts, alerts and silences, escaped here)."""
    lines = [(escape(k), escape(v)) for k, v in lines]
    blocks = [header(title), section("Overnight, CCM:", lines)]
    if notes:
        blocks.append(section("\n".join(f"• {escape(n)}" for n in notes[:15])))
    text = escape(title) + ": " + ", ".join(f"{k} {v}" for k, v in lines)
    return {"text": text, "blocks": blocks}


def batch(bodies: list[tuple[str, dict[str, Any]]]) -> list[tuple[list[int], dict[str, Any]]]:
    """Merge ``(key, body)`` pairs into posts of at most 50 blocks, tagged with their keys.

    Returns ``(indexes, body)`` per post; ``indexes`` are positions in ``bodies``.
    """
    posts: list[tuple[list[int], dict[str, Any]]] = []
    cur_idx: list[int] = []
    cur_blocks: list[dict[str, Any]] = []
    cur_text: list[str] = []
    for i, (key, body) in enumerate(bodies):
        blocks = [*body.get("blocks", []), context(f"ccm:{escape(key)}")]
        if cur_blocks and len(cur_blocks) + 1 + len(blocks) > MAX_BLOCKS:
            posts.append((cur_idx, {"text": _cut("\n".join(cur_text), MAX_TEXT),
                                    "blocks": cur_blocks}))
            cur_idx, cur_blocks, cur_text = [], [], []
        if cur_blocks:
            cur_blocks.append({"type": "divider"})
        cur_blocks.extend(blocks[:MAX_BLOCKS])
        cur_idx.append(i)
        cur_text.append(str(body.get("text", "")))
    if cur_idx:
        posts.append((cur_idx, {"text": _cut("\n".join(cur_text), MAX_TEXT),
                                "blocks": cur_blocks}))
    return posts


class SlackSender:
    """Posts ``slack`` outbox messages to the incoming webhook, rate-limited and batched."""

    #: The worker hands this sender every due Slack message at once, to batch them.
    batches = True

    def __init__(self, session: Any, *, webhook_url: str | None,
                 limiter: RateLimiter | None = None, timeout: float = 15.0) -> None:
        self.session = session
        self.url = webhook_url
        self.limiter = limiter or RateLimiter(1.0)
        self.timeout = timeout

    async def deliver(self, messages: list[OutboxMessage]) -> dict[int, Outcome]:
        """Batch the messages into posts; each message gets its post's outcome."""
        if not self.url:
            return {m.id: Dead("slack is not configured (notify.slack_webhook_url)")
                    for m in messages}
        out: dict[int, Outcome] = {}
        for indexes, body in batch([(m.dedup_key, m.payload["body"]) for m in messages]):
            await self.limiter.wait()
            outcome = await post_json(self.session, self.url, body, timeout=self.timeout)
            for i in indexes:
                out[messages[i].id] = outcome
        return out


__all__ = ["CHANNEL", "SlackSender", "batch", "digest_message", "escalation_message", "escape",
           "resolved_message", "suggestion_message"]
