"""Notifications: PagerDuty pages, Slack summaries, Grafana annotations, apprise, reports.

Everything goes through the hub's **outbox**: the hooks (:mod:`ccm_tui.notify.hooks`)
only enqueue, and the delivery worker (:mod:`ccm_tui.notify.outbox`) sends with
retries. :mod:`ccm_tui.notify.report` computes the morning summary that ``ccm report``
and the TUI's summary screen render. Network libraries (aiohttp, apprise) are imported
only where a message is actually sent.
"""

from __future__ import annotations
