"""A fake PagerDuty Events API v2 (``POST /v2/enqueue``) on 127.0.0.1.

Validates events as the real API does (routing_key of 32 characters, event_action,
dedup_key, and for ``trigger`` a payload with summary ≤ 1024 characters, source and
a severity of critical/error/warning/info), answers ``202 {"status": "success",
"message": "Event processed", "dedup_key": …}``, and ``400 {"status": "invalid event",
…}`` otherwise. Keeps incidents as PagerDuty does: a trigger whose ``dedup_key`` has
an open incident updates it (no new incident); acknowledge and resolve act on it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from aiohttp import web

from tests.fakes._server import FakeServer

SEVERITIES = {"critical", "error", "warning", "info"}
ACTIONS = {"trigger", "acknowledge", "resolve"}


def validate(event: Any) -> list[str]:
    """The errors the real API reports for an event (empty: valid)."""
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors = []
    rk = event.get("routing_key")
    if not isinstance(rk, str) or len(rk) != 32:
        errors.append("'routing_key' must be a 32 character integration key")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or len(key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not key:
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        p = event.get("payload")
        if not isinstance(p, dict):
            errors.append("'payload' is missing or not an object")
        else:
            if not isinstance(p.get("summary"), str) or not p["summary"] \
                    or len(p["summary"]) > 1024:
                errors.append("'payload.summary' is required (at most 1024 characters)")
            if not isinstance(p.get("source"), str) or not p["source"]:
                errors.append("'payload.source' is required")
            if p.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' must be critical, error, warning or info")
            if "custom_details" in p and not isinstance(p["custom_details"], dict | str):
                errors.append("'payload.custom_details' must be an object")
    return errors


class FakePagerDuty(FakeServer):
    """Records events, keeps incidents by dedup_key, answers like the Events API v2."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.incidents: dict[str, str] = {}
        self.incidents_opened: Counter[str] = Counter()
        self.accepted: Counter[tuple[str, str]] = Counter()

    @property
    def enqueue_url(self) -> str:
        return f"{self.url}/v2/enqueue"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/enqueue", self._enqueue)

    async def _enqueue(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        canned = self._take_script()
        if canned is not None:
            return canned
        event = rec.body
        errors = validate(event)
        if errors:
            return web.json_response({"status": "invalid event",
                                      "message": "Event object is invalid",
                                      "errors": errors}, status=400)
        key = event.get("dedup_key") or uuid.uuid4().hex
        action = event["event_action"]
        self.events.append(event)
        self.accepted[(key, action)] += 1
        state = self.incidents.get(key)
        if action == "trigger" and state in (None, "resolved"):
            self.incidents[key] = "triggered"
            self.incidents_opened[key] += 1
        elif action == "acknowledge" and state == "triggered":
            self.incidents[key] = "acknowledged"
        elif action == "resolve" and state in ("triggered", "acknowledged"):
            self.incidents[key] = "resolved"
        await self._maybe_hold()
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": key}, status=202)
