"""Grafana annotations for each fix CCM applied, so dashboards show what it did and when.

``POST <grafana_url>/api/annotations`` with ``Authorization: Bearer <token>``
(https://grafana.com/docs/grafana/latest/developers/http_api/annotations/)::

    {"time": <ms>, "timeEnd": <ms>, "tags": ["ccm", "auto-fix", "<runbook>", "host:<host>",
     "ccm:<outbox key>"], "text": "CCM fixed DiskFull on web-01: freed 1.2 GiB (4m)"}

An organisation-wide annotation (no dashboard) shows on every dashboard that lists
annotations tagged ``ccm``. Grafana shows an annotation's ``text`` as (sanitised) HTML,
so the text is HTML-escaped: a ``<a href>`` or ``<b>`` in a host or alert name shows
as it is, never as a link; tags show as plain text.

**Idempotent across crashes**: before posting, the sender asks
``GET /api/annotations?tags=ccm:<key>`` and skips the post when that annotation exists
already — so a worker killed after Grafana stored it but before the hub noted it adds
no second annotation.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ccm_tui.core.records import OutboxMessage
from ccm_tui.core.text import duration
from ccm_tui.notify.delivery import Dead, Delivered, Outcome, Retry, classify, post_json
from ccm_tui.notify.facts import IncidentFacts

CHANNEL = "grafana"


def annotation(f: IncidentFacts, key: str) -> dict[str, Any]:
    """The annotation body for a fixed task (``time``/``timeEnd`` in epoch milliseconds)."""
    end = f.findings.get("finished_ms")
    start = f.findings.get("created_ms")
    how = "approved fix" if f.approved_by else "auto-fix"
    ttf = f" in {duration(f.time_to_fix, fine=True)}" if f.time_to_fix is not None else ""
    body: dict[str, Any] = {
        "tags": ["ccm", how, f"runbook:{f.runbook or 'none'}", f"host:{f.host}",
                 f"alert:{f.alertname}", f"ccm:{key}"],
        "text": escape(f"CCM fixed {f.alertname} on {f.host}: {f.result_line()}{ttf} "
                       f"(task {f.task_id}; {f.transcript})", quote=False),
    }
    if isinstance(start, int):
        body["time"] = start
    if isinstance(end, int):
        body["timeEnd"] = end
    return body


class GrafanaSender:
    """Posts ``grafana`` outbox messages as annotations (check first, then post)."""

    def __init__(self, session: Any, *, url: str | None, token: str | None,
                 timeout: float = 15.0) -> None:
        self.session = session
        self.url = url.rstrip("/") if url else None
        self.token = token
        self.timeout = timeout

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def _exists(self, key: str) -> bool | Outcome:
        import aiohttp

        try:
            async with self.session.get(
                f"{self.url}/api/annotations", params={"tags": f"ccm:{key}", "limit": "1"},
                headers=self._headers(), timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                text = await resp.text()
                if resp.status != 200:
                    return classify(resp.status, text, resp.headers)
                found = await resp.json(content_type=None)
                return bool(found)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            return Retry(f"{type(exc).__name__}: {exc}"[:300])

    async def deliver(self, messages: list[OutboxMessage]) -> dict[int, Outcome]:
        """One annotation per message, skipped when it is already in Grafana."""
        out: dict[int, Outcome] = {}
        for m in messages:
            if not self.url:
                out[m.id] = Dead("grafana is not configured (notify.grafana_url)")
                continue
            exists = await self._exists(m.dedup_key)
            if exists is True:
                out[m.id] = Delivered("already annotated")
            elif exists is False:
                out[m.id] = await post_json(self.session, f"{self.url}/api/annotations",
                                            m.payload["body"], headers=self._headers(),
                                            timeout=self.timeout)
            else:
                assert not isinstance(exists, bool)
                out[m.id] = exists if not isinstance(exists, Delivered) else Retry("odd answer")
        return out


__all__ = ["CHANNEL", "GrafanaSender", "annotation"]
