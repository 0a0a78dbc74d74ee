"""A fake Slack incoming webhook (``POST /services/T…/B…/…``) on 127.0.0.1.

Checks what Slack checks: a JSON object with ``text`` or ``blocks``; at most 50
blocks of known types; section/header text objects. Answers ``200 ok``, or
``400 invalid_blocks`` / ``400 no_text`` / ``400 invalid_payload`` like Slack.
Records every message and the ``ccm:<key>`` lines CCM puts in each one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from tests.fakes._server import FakeServer

PATH = "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
BLOCK_TYPES = {"section", "header", "context", "divider", "actions", "image", "rich_text"}


def validate(body: Any) -> str | None:
    """Slack's error code for an invalid message, or ``None``."""
    if not isinstance(body, dict):
        return "invalid_payload"
    blocks = body.get("blocks")
    if not body.get("text") and not blocks:
        return "no_text"
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for b in blocks:
        if not isinstance(b, dict) or b.get("type") not in BLOCK_TYPES:
            return "invalid_blocks"
        if b["type"] == "header":
            t = b.get("text") or {}
            if t.get("type") != "plain_text" or not 0 < len(t.get("text", "")) <= 150:
                return "invalid_blocks"
        if b["type"] == "section":
            t = b.get("text")
            if t is None and not b.get("fields"):
                return "invalid_blocks"
            if t is not None and (t.get("type") not in ("mrkdwn", "plain_text")
                                  or not 0 < len(t.get("text", "")) <= 3000):
                return "invalid_blocks"
            if len(b.get("fields") or []) > 10:
                return "invalid_blocks"
        if b["type"] == "context" and not 0 < len(b.get("elements") or []) <= 10:
            return "invalid_blocks"
    return None


def ccm_keys(body: dict[str, Any]) -> list[str]:
    """The outbox keys in a message's ``ccm:<key>`` context lines."""
    out = []
    for b in body.get("blocks") or []:
        if b.get("type") == "context":
            for e in b.get("elements", []):
                text = e.get("text", "")
                if text.startswith("ccm:"):
                    out.append(text[4:])
    return out


class FakeSlack(FakeServer):
    """Records accepted messages; scriptable 429/500."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.delivered: Counter[str] = Counter()

    @property
    def webhook_url(self) -> str:
        return self.url + PATH

    def routes(self, app: web.Application) -> None:
        app.router.add_post(PATH, self._post)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        canned = self._take_script()
        if canned is not None:
            return canned
        error = validate(rec.body)
        if error:
            return web.Response(status=400, text=error)
        self.messages.append(rec.body)
        for key in ccm_keys(rec.body):
            self.delivered[key] += 1
        await self._maybe_hold()
        return web.Response(status=200, text="ok")
