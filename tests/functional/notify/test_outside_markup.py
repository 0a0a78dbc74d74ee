"""Values from outside CCM (host, alert, runbook, group, summary, the agent's findings,
an operator's note) reach every channel as text, never as markup: a hostile alert goes
through the real hooks and outbox worker to the loopback fakes, and what they receive
shows each value escaped exactly once for that channel — Slack mrkdwn (``&``, ``<``,
``>`` as entities), apprise Markdown (parsed with a CommonMark parser: no emphasis,
link, code or HTML comes from a value), Grafana's HTML text; PagerDuty's JSON as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from apprise import NotifyFormat
from apprise.conversion.format import convert_between
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ccm_tui.core import Silence, parse_matcher
from ccm_tui.core.model import (
    Decision,
    DecisionKind,
    Host,
    Risk,
    Severity,
    Task,
    new_task_id,
    utcnow,
)
from ccm_tui.core.states import TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.notify.digest import maybe_queue_digest
from ccm_tui.notify.hooks import on_task_escalated, on_task_finished, on_task_suggested
from tests.fakes.fake_grafana import FakeGrafana
from tests.fakes.fake_json_webhook import FakeJsonWebhook
from tests.fakes.fake_pagerduty import FakePagerDuty
from tests.fakes.fake_slack import FakeSlack
from tests.functional.notify.conftest import FIX_PATH, add_events, notify_settings, run_worker

HOST = "web-01 <!channel> *bold*"
ALERT = "Disk`x`Full [a](http://e.example) a|b"
SUMMARY = "&amp; <b>hi</b> _it_ ~~s~~ <http://evil.example|click>"
RUNBOOK = "clean|*now* <!here>"
GROUP = "edge_ &lt; [g](http://g.example)"
CAUSE = "# heading? `rm` &amp; <@U123>"
REASONS = ("- nested <!everyone>", "1. ordered *b*", "> quote", "    indented code")
EVIDENCE = ("evidence", {"name": "*k* <x>", "summary": "<@U999> _v_"})
RESTART = ("action", {"action": "service_restart", "ok": True, "dry_run": False,
                      "summary": "restarted <b>ngx</b> & *x*",
                      "data": {"name": "<a href=http://e.example>n</a>", "restarted": True}})
#: Every value that a message shows; each must arrive whole, as text.
OUTSIDE = (HOST, ALERT, SUMMARY, RUNBOOK, GROUP, CAUSE, *REASONS, "*k* <x>", "<@U999> _v_",
           RESTART[1]["summary"])
#: The digest's report window: tasks made before this morning are in it.
MORNING = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def _task(hub: Hub, path: tuple[TaskState, ...], *, alertname: str = ALERT,
                severity: Severity = Severity.CRITICAL,
                kind: DecisionKind = DecisionKind.ESCALATE) -> Task:
    """A task of the hostile alert, created three hours before :data:`MORNING`."""
    created = MORNING - timedelta(hours=3)
    task = await hub.create_task(Task(id=new_task_id(), host=HOST, alertname=alertname,
                                      severity=severity, summary=SUMMARY, created_at=created,
                                      updated_at=created))
    task = await hub.update_task(task.id, task.version, runbook=RUNBOOK, confidence=0.5,
                                 decision=Decision(kind=kind, confidence=0.5,
                                                   evidence_match=0.5, prior=0.9,
                                                   risk=Risk.MEDIUM, risk_cap=0.9,
                                                   runbook=RUNBOOK, cause=CAUSE,
                                                   reasons=REASONS))
    for i, state in enumerate(path):
        last = {"finished_at": created + timedelta(seconds=75)} if i == len(path) - 1 else {}
        task = await hub.transition(task.id, state, **last)
    await add_events(hub, task, EVIDENCE, RESTART)
    return task


async def _incidents(hub: Hub, settings: Any) -> None:
    """An escalation, a fix and a suggestion of the hostile alert, queued and delivered."""
    await hub.upsert_hosts([Host(HOST, groups=(GROUP,))])
    escalated = await _task(hub, (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.ESCALATED))
    assert await on_task_escalated(hub, escalated, settings=settings)
    fixed = await _task(hub, FIX_PATH, alertname=ALERT + " fixed", severity=Severity.WARNING,
                        kind=DecisionKind.AUTO)
    assert await on_task_finished(hub, fixed, settings=settings)
    waiting = await _task(hub, (TaskState.CLAIMED, TaskState.DIAGNOSING,
                                TaskState.AWAITING_APPROVAL), alertname=ALERT + " waits",
                        kind=DecisionKind.SUGGEST)
    await on_task_suggested(hub, waiting, settings=settings)  # Slack only
    await maybe_queue_digest(hub, settings, MORNING + timedelta(hours=1))  # Slack, apprise
    await run_worker(hub, settings)


# Slack -------------------------------------------------------------------------------


def _mrkdwn(message: dict[str, Any]) -> Iterator[str]:
    """Every text of a Slack message that Slack parses as mrkdwn."""
    yield message["text"]
    for block in message["blocks"]:
        texts = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        yield from (t["text"] for t in texts if t and t["type"] == "mrkdwn")


def _slack_decoded(text: str) -> str:
    """What Slack shows for mrkdwn text: its three entities decoded, once."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_slack_shows_outside_values_escaped_once(nhub: Hub, fake_slack: FakeSlack) -> None:
    await _incidents(nhub, notify_settings(sl=fake_slack, quiet_timezone="UTC"))
    assert len(fake_slack.messages) == 1  # batched: escalated, resolved, suggested, digest
    [message] = fake_slack.messages
    texts = list(_mrkdwn(message))
    for text in texts:
        # no control sequence (<!channel>, <http://x|y>, <@U…>) and no bare '&'
        assert "<" not in text and ">" not in text, text
        assert "&" not in text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    shown = "\n".join(_slack_decoded(t) for t in texts)
    for value in (HOST, ALERT, SUMMARY, RUNBOOK, GROUP, CAUSE, *REASONS, "<@U999> _v_",
                  RESTART[1]["summary"], RESTART[1]["data"]["name"]):
        assert value in shown, value  # escaped once: decoding once gives the value back
    # the fallback text and the digest's notes too
    assert f"Escalated: {ALERT} on {HOST}" in _slack_decoded(message["text"])
    assert f"escalated: {HOST} {ALERT}" in shown
    # a header is plain_text, which Slack does not parse: the value as it is
    headers = [b["text"]["text"] for b in message["blocks"] if b["type"] == "header"]
    assert f"🚨 Escalated: {ALERT} on {HOST}" in headers


async def test_slack_escapes_a_silence_reason_once(nhub: Hub, fake_slack: FakeSlack,
                                                   fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd, sl=fake_slack)
    now = utcnow()
    reason = "<!channel> & *migration* &amp;"
    await nhub.add_silence(Silence((parse_matcher("alertname=PostgresDiskFull"),),
                                   now - timedelta(minutes=1), now + timedelta(hours=1),
                                   reason, "jordan"))
    task = await nhub.create_task(Task(id=new_task_id(), host="db-01",
                                       alertname="PostgresDiskFull",
                                       severity=Severity.CRITICAL))
    for state in (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.ESCALATED):
        task = await nhub.transition(task.id, state)
    await on_task_escalated(nhub, task, settings=s, now=now)
    await run_worker(nhub, s, clock=now)
    [message] = fake_slack.messages
    [held] = [t for t in _mrkdwn(message) if "page held" in t]
    assert "(&lt;!channel&gt; &amp; *migration* &amp;amp;)" in held


class _Html(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.data: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


# apprise (Markdown) ------------------------------------------------------------------

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
#: Markup no outside value may open; CCM's own messages use only lists, bold and breaks.
FORBIDDEN = {"em_open", "s_open", "link_open", "code_inline", "html_inline", "html_block",
             "heading_open", "blockquote_open", "code_block", "fence", "hr", "ordered_list_open",
             "table_open", "image"}


def _tokens(tokens: list[Token]) -> Iterator[Token]:
    for t in tokens:
        yield t
        yield from _tokens(t.children or [])


def _shown(markdown: str) -> tuple[set[str], str, int, int]:
    """Token types, the text shown (lines), list depth and bold spans of ``markdown``."""
    tokens = list(_tokens(PARSER.parse(markdown)))
    text = "".join(t.content if t.type == "text" else "\n" if t.type in (
        "softbreak", "hardbreak", "paragraph_close") else "" for t in tokens)
    depth = max((t.level for t in tokens if t.type == "bullet_list_open"), default=-1)
    return {t.type for t in tokens}, text, depth, sum(t.type == "strong_open" for t in tokens)


async def test_apprise_markdown_shows_outside_values_as_text(
        nhub: Hub, fake_json: FakeJsonWebhook) -> None:
    settings = notify_settings(apprise_urls=[fake_json.apprise_url], quiet_timezone="UTC")
    await _incidents(nhub, settings)
    posts = {p["title"].split(":")[0]: p for p in (r.body for r in fake_json.requests) if p}
    assert set(posts) == {"Escalated", "Fixed", "CCM morning summary — 2026-11-27"}
    for post in posts.values():
        for markdown in (post["title"], post["message"]):
            types, _, depth, _ = _shown(markdown)
            assert not types & FORBIDDEN, (markdown, types & FORBIDDEN)
            assert depth <= 0, markdown  # no list nested by a '- ' in a value
            # and as apprise itself makes HTML of it (Python-Markdown) for email, Teams…
            html = _Html(convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML, markdown))
            assert set(html.tags) <= {"p", "ul", "li", "strong", "br"}, html.tags

    html = _Html(convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML,
                                 posts["Escalated"]["message"]))
    assert all(value.strip() in "".join(html.data) for value in (SUMMARY, *REASONS))

    _, title, _, _ = _shown(posts["Escalated"]["title"])
    assert title.strip() == f"Escalated: {ALERT} on {HOST}"
    _, body, _, _ = _shown(posts["Escalated"]["message"])
    assert body.split("\n")[:5] == [SUMMARY, *(r.strip() for r in REASONS)]

    _, title, _, _ = _shown(posts["Fixed"]["title"])
    assert title.strip() == f"Fixed: {ALERT} fixed on {HOST}"
    _, body, _, _ = _shown(posts["Fixed"]["message"])
    assert body.startswith(f"restarted {RESTART[1]['data']['name']} in 1m15s ({RUNBOOK}). ")

    types, body, _, bold = _shown(posts["CCM morning summary — 2026-11-27"]["message"])
    assert bold == 8  # the figures' names: CCM's own bold, nothing more
    assert f"escalated: {HOST} {ALERT} (" in body and f"waiting: {HOST} {ALERT} waits (" in body


# Grafana (HTML) and PagerDuty (plain JSON) -------------------------------------------


async def test_grafana_text_is_escaped_html_and_pagerduty_plain(
        nhub: Hub, fake_grafana: FakeGrafana, fake_pd: FakePagerDuty) -> None:
    settings = notify_settings(fake_pd, gf=fake_grafana)
    await _incidents(nhub, settings)
    [annotation] = fake_grafana.annotations
    shown = _Html(annotation["text"])
    assert shown.tags == []  # no <b>, no <a href>
    assert "".join(shown.data).startswith(
        f"CCM fixed {ALERT} fixed on {HOST}: restarted {RESTART[1]['data']['name']} in 1m15s")
    assert f"host:{HOST}" in annotation["tags"]  # tags are plain text

    [event] = [e for e in fake_pd.events if e["event_action"] == "trigger"]
    payload = event["payload"]
    assert (payload["source"], payload["component"], payload["group"]) == (HOST, ALERT, GROUP)
    assert payload["summary"] == f"[CRITICAL] {ALERT} on {HOST}: {CAUSE}"
    assert payload["custom_details"]["reasons"] == list(REASONS)
