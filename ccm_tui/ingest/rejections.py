"""Rejected requests in the receiver's log, without letting a flood drown it.

A sender with a wrong token, a Grafana contact point posting to the wrong path or a
payload the parser refuses is invisible on CCM's side unless it is logged: the
sender retries or gives up, and the alerts never become tasks. Each refused request is
counted once in ``/metrics`` (and each alert refused inside an accepted one); here the
first of each reason is logged at once, then at most one line per reason per
:attr:`RejectionLog.interval` seconds, saying how many like it were held back, so a
misconfigured sender firing 50 requests a second costs one line a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

#: What to check, by rejection reason (the sender's side, usually).
HINTS = {
    "unauthorized": "check the sender's token (Alertmanager: http_config.authorization; "
                    "Grafana: the contact point's Authorization header) against --token-file",
    "signature": "check that Grafana's contact point and CCM share the same signing secret",
    "unknown_endpoint": "point the sender at /alerts/{alertmanager,grafana,kibana,generic}",
    "method": "alerts are sent with POST; check the sender's webhook method",
    "too_large": "split the notification (Alertmanager: max_alerts) or raise the body limit",
    "content_type": "send Content-Type: application/json",
    "encoding": "send the body uncompressed, or gzip/deflate that matches its Content-Encoding",
    "bad_http": "the sender's HTTP request was malformed (aiohttp answered 400); check "
                "what it sends, or whether something else posts to this port",
    "hub_unavailable": "the sender retries; check the hub with `ccm db status`",
    "truncated": "raise max_alerts in the sender's webhook config (0: no limit), or the "
                 "alerts left out reach CCM only once others of their group resolve",
}


@dataclass
class _Held:
    logged_at: float
    held: int = 0


class RejectionLog:
    """Logs rejections: the first of each reason, then one line per reason per interval."""

    def __init__(self, logger: logging.Logger, *, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._seen: dict[str, _Held] = {}

    def note(self, reason: str, status: int, endpoint: str, peer: str | None,
             error: str, *, what: str = "") -> bool:
        """Record one rejection; returns whether it was logged (rather than held back).

        ``what`` replaces ``rejected <reason>`` at the start of the line (for a request
        that was accepted but is worth a look, such as a truncated notification).
        """
        now = self._clock()
        held = self._seen.get(reason)
        if held is not None and now - held.logged_at < self.interval:
            held.held += 1
            return False
        more = f" ({held.held} more like it in the last {now - held.logged_at:.0f} s)" \
            if held is not None and held.held else ""
        self._seen[reason] = _Held(now)
        hint = HINTS.get(reason)
        where = f"/alerts/{_printable(endpoint, 40)}" if endpoint else "the receiver's port"
        self.logger.warning("%s from %s on %s: %s %s%s%s",
                            what or f"rejected {_printable(reason, 40)}",
                            _printable(peer or "an unknown peer", 60), where,
                            status, _printable(error, 300), more,
                            f" · {hint}" if hint else "")
        return True


def _printable(text: str, limit: int) -> str:
    """One line of at most ``limit`` printable characters: a path or a payload comes
    from the sender, and a newline or an escape sequence in it must not forge log lines."""
    flat = " ".join(text.split())[:limit]
    return "".join(c if c.isprintable() else "?" for c in flat)


__all__ = ["HINTS", "RejectionLog"]
