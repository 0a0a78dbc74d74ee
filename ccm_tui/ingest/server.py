"""The alert receiver: ``POST /alerts/{source}``, ``GET /healthz``, ``GET /metrics``.

Answers, as Alertmanager's retry rules need them:

- **2xx** only after every alert of the request is stored in the hub;
- **503** with ``Retry-After`` when the hub is down (Alertmanager retries only 5xx);
- **400/413/415/422** with a JSON reason for a body that cannot be read (never a 5xx);
- **401** without valid credentials.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ccm_tui.core.errors import HubError, PayloadError
from ccm_tui.core.text import plural
from ccm_tui.ingest.auth import Credentials, GrafanaSigner
from ccm_tui.ingest.metrics import Metrics
from ccm_tui.ingest.parsers import SOURCES, parsers
from ccm_tui.ingest.parsers.common import load_json
from ccm_tui.ingest.pipeline import Ingestor
from ccm_tui.ingest.rejections import RejectionLog

log = logging.getLogger("ccm.webhook")

DEFAULT_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class ReceiverConfig:
    """How the receiver authenticates and limits requests."""

    credentials: Credentials = field(default_factory=Credentials)
    grafana: GrafanaSigner | None = None
    max_body: int = DEFAULT_MAX_BODY
    retry_after_seconds: int = 10


_PARSERS = parsers()  # endpoint → parser, built once rather than per request

INGESTOR: web.AppKey[Ingestor] = web.AppKey("ingestor", Ingestor)
CONFIG: web.AppKey[ReceiverConfig] = web.AppKey("config", ReceiverConfig)
REJECTIONS: web.AppKey[RejectionLog] = web.AppKey("rejections", RejectionLog)


def _reply(code: int, /, **body: Any) -> web.Response:
    return web.Response(body=_ENCODE(body).encode(), status=code, content_type="application/json")


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _reject(request: web.Request, m: Metrics, endpoint: str, status: int, reason: str,
            message: str) -> web.Response:
    _rejected(request, m, status, reason, message)
    return _reply(status, status="rejected", reason=reason, error=message, endpoint=endpoint)


def _rejected(request: web.Request, m: Metrics, status: int, reason: str, message: str,
              *, count: bool = True) -> None:
    """Count a rejection in /metrics and note it in the (rate-limited) log."""
    if count:
        m.inc("ccm_ingest_rejected_total", reason=reason)
    request.app[REJECTIONS].note(reason, status, request.match_info.get("source", ""),
                                 request.remote, message)


async def handle_alerts(request: web.Request) -> web.Response:
    started = time.perf_counter()
    ingestor = request.app[INGESTOR]
    cfg = request.app[CONFIG]
    m = ingestor.metrics
    endpoint = request.match_info["source"]
    try:
        response = await _handle(request, ingestor, cfg, endpoint)
    finally:
        m.observe(time.perf_counter() - started)
    m.inc("ccm_ingest_requests_total", endpoint=endpoint, code=str(response.status))
    return response


async def _handle(request: web.Request, ingestor: Ingestor, cfg: ReceiverConfig,
                  endpoint: str) -> web.Response:
    m = ingestor.metrics
    if endpoint not in SOURCES:
        return _reject(request, m, endpoint, 404, "unknown_endpoint",
                       f"no /alerts/{endpoint[:40]}; use one of {', '.join(SOURCES)}")
    if not cfg.credentials.check(request.headers.get("Authorization")):
        _rejected(request, m, 401, "unauthorized", "missing or wrong credentials")
        return web.json_response(
            {"status": "rejected", "reason": "unauthorized",
             "error": "missing or wrong credentials (bearer token or basic auth)"},
            status=401, headers={"WWW-Authenticate": 'Bearer realm="ccm"'})
    ctype = request.content_type
    if ctype not in ("application/json", "text/plain", "application/octet-stream", ""):
        return _reject(request, m, endpoint, 415, "content_type",
                       f"Content-Type {ctype[:60]!r} is not JSON; send application/json")
    if request.content_length is not None and request.content_length > cfg.max_body:
        return _reject(request, m, endpoint, 413, "too_large",
                       f"body of {request.content_length} bytes exceeds {cfg.max_body}")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _reject(request, m, endpoint, 413, "too_large",
                       f"body exceeds {cfg.max_body} bytes")
    except web.RequestPayloadError:  # e.g. Content-Encoding: gzip over bytes that are not
        encoding = request.headers.get("Content-Encoding", "")[:40]
        refused = _reject(request, m, endpoint, 400, "encoding",
                          f"the body cannot be decoded as its Content-Encoding {encoding!r} says")
        refused.force_close()  # the rest of the body cannot be read past: a new connection
        return refused
    if endpoint == "grafana" and cfg.grafana is not None:
        problem = cfg.grafana.verify(body, request.headers)
        if problem:
            _rejected(request, m, 401, "signature", problem)
            return _reply(401, status="rejected", reason="signature", error=problem)
    try:
        result = _PARSERS[endpoint](load_json(body))
    except PayloadError as exc:
        return _reject(request, m, endpoint, exc.status, exc.reason, str(exc))
    for _index, bad in result.rejected:
        m.inc("ccm_ingest_rejected_total", reason=f"alert_{bad.reason}")
    if result.rejected and result.alerts:  # the rest are stored: logged, not refused
        first = result.rejected[0][1]
        _rejected(request, m, 200, f"alert_{first.reason}", f"{len(result.rejected)} of "
                  f"{len(result.rejected) + len(result.alerts)} alerts refused "
                  f"(the others are stored): {first}", count=False)
    if not result.alerts:
        errors = [f"{e}" for _, e in result.rejected[:20]] or ["the payload holds no alerts"]
        reason = "no_alerts" if not result.rejected else "invalid_alerts"
        _rejected(request, m, 422, reason, errors[0])
        return _reply(422, status="rejected", reason=reason, error=errors[0], errors=errors)
    try:
        report = await ingestor.ingest(result.alerts)
    except (HubError, OSError) as exc:  # unavailable, schema, or conflicts that kept losing
        _rejected(request, m, 503, "hub_unavailable", f"the hub could not store the alerts: {exc}")
        return web.json_response(
            {"status": "retry", "reason": "hub_unavailable",
             "error": f"the hub could not store the alerts: {exc}"},
            status=503, headers={"Retry-After": str(cfg.retry_after_seconds)})
    if result.truncated:  # counted once stored: a retried request (503) counts once
        m.inc("ccm_ingest_truncated_alerts_total", result.truncated, endpoint=endpoint)
        request.app[REJECTIONS].note(
            "truncated", 200, endpoint, request.remote,
            f"the sender left out {plural(result.truncated, 'alert')} of this group "
            "(max_alerts); CCM never saw them", what="incomplete notification")
    return _reply(
        200, status="ok", alerts=len(result.alerts), outcomes=report.counts,
        tasks=report.task_ids,
        rejected=[{"index": i, "reason": e.reason, "error": str(e)} for i, e in result.rejected],
    )


async def handle_health(request: web.Request) -> web.Response:
    ingestor = request.app[INGESTOR]
    try:
        control = await ingestor.hub.get_control()
    except (HubError, OSError) as exc:
        return _reply(503, status="unhealthy", hub="unreachable", error=str(exc))
    return _reply(200, status="ok", hub="reachable", paused=control.paused)


async def handle_metrics(request: web.Request) -> web.Response:
    text = request.app[INGESTOR].metrics.render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def handle_method(request: web.Request) -> web.Response:
    return _reply(405, status="rejected", reason="method",
                  error="POST alerts to /alerts/{alertmanager,grafana,kibana,generic}")


class HttpErrorLog:
    """The logger aiohttp's request handler writes to, for one receiver.

    A malformed request that aiohttp refuses before any handler runs (a bad request
    line or header, a Content-Encoding it cannot decode) gets its 400 from aiohttp and,
    by default, a traceback at ERROR level for each one: a sender in a loop would fill
    the log. Here those client errors are rejections like the others — counted in
    /metrics as ``bad_http`` and logged one line at a time, rate-limited. Everything
    else (a fault of the receiver itself) reaches ``base`` unchanged, traceback and all.
    """

    def __init__(self, base: logging.Logger, rejections: RejectionLog, metrics: Metrics) -> None:
        self._base = base
        self._rejections = rejections
        self._metrics = metrics

    def exception(self, msg: str, *args: Any, exc_info: Any = True, **kw: Any) -> None:
        if isinstance(exc_info, web.RequestPayloadError):
            # aiohttp draining a body it cannot decode, after the handler has already
            # answered 400 (reason "encoding") and logged it
            self._base.debug("%s: %s", msg, exc_info)
            return
        if isinstance(exc_info, HttpProcessingError) and 400 <= (exc_info.code or 0) < 500:
            peer = args[0] if args and isinstance(args[0], str) else None
            self._metrics.inc("ccm_ingest_rejected_total", reason="bad_http")
            self._rejections.note("bad_http", exc_info.code, "", peer, str(exc_info.message))
            return
        self._base.exception(msg, *args, exc_info=exc_info, **kw)

    def __getattr__(self, name: str) -> Any:  # debug, warning, isEnabledFor, …
        return getattr(self._base, name)


def make_app(ingestor: Ingestor, config: ReceiverConfig | None = None) -> web.Application:
    """The receiver as an aiohttp application (also used inside ``ccm up``)."""
    cfg = config or ReceiverConfig()
    app = web.Application(client_max_size=cfg.max_body)
    app[INGESTOR] = ingestor
    app[CONFIG] = cfg
    app[REJECTIONS] = RejectionLog(log)
    app.router.add_post("/alerts/{source}", handle_alerts)
    app.router.add_get("/alerts/{source}", handle_method)
    app.router.add_get("/healthz", handle_health)
    app.router.add_get("/metrics", handle_metrics)
    return app
