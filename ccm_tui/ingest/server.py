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
from ccm_tui.ingest.parsers import SOURCES, ParseResult, parsers
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
    return _answer(code, body)


def _answer(code: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> web.Response:
    return web.Response(body=_ENCODE(body).encode(), status=code, headers=headers,
                        content_type="application/json")


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _reject(request: web.Request, m: Metrics, endpoint: str, status: int, reason: str,
            message: str, *, headers: dict[str, str] | None = None,
            outcome: str = "rejected", **extra: Any) -> web.Response:
    """Count and log a refused request, and answer it.

    Every refusal has the same body: ``status`` (``rejected``, or ``retry`` for a 503),
    ``reason``, ``error`` and ``endpoint``, then any ``extra`` fields.
    """
    _rejected(request, m, status, reason, message)
    body = {"status": outcome, "reason": reason, "error": message, "endpoint": endpoint, **extra}
    return _answer(status, body, headers)


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
        return _reject(request, m, endpoint, 401, "unauthorized",
                       "missing or wrong credentials (bearer token or basic auth)",
                       headers={"WWW-Authenticate": 'Bearer realm="ccm"'})
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
            return _reject(request, m, endpoint, 401, "signature", problem)
    try:
        result = _PARSERS[endpoint](load_json(body))
    except PayloadError as exc:
        return _reject(request, m, endpoint, exc.status, exc.reason, str(exc))
    if not result.alerts:
        return _refuse_alerts(request, m, endpoint, result)
    try:
        report = await ingestor.ingest(result.alerts)
    except (HubError, OSError) as exc:  # unavailable, schema, or conflicts that kept losing
        return _reject(request, m, endpoint, 503, "hub_unavailable",
                       f"the hub could not store the alerts: {exc}", outcome="retry",
                       headers={"Retry-After": str(cfg.retry_after_seconds)})
    if result.rejected:  # counted once the others are stored: a 503 is retried with them all
        _note_refused_alerts(request, m, result)
    if result.truncated:  # counted once stored: a retried request (503) counts once
        m.inc("ccm_ingest_truncated_alerts_total", result.truncated, endpoint=endpoint)
        request.app[REJECTIONS].note(
            "truncated", 200, endpoint, request.remote,
            f"the sender left out {plural(result.truncated, 'alert')} of this group "
            "(max_alerts); CCM never saw them", what="incomplete notification")
    return _reply(
        200, status="ok", alerts=len(result.alerts), outcomes=report.counts,
        tasks=report.task_ids,
        rejected=_refused(result),
    )


def _refused(result: ParseResult) -> list[dict[str, Any]]:
    """The alerts a parser refused, as answers list them: index, reason, error."""
    return [{"index": i, "reason": e.reason, "error": str(e)} for i, e in result.rejected]


def _refuse_alerts(request: web.Request, m: Metrics, endpoint: str,
                   result: ParseResult) -> web.Response:
    """422 for a document without one valid alert: one count, for the request."""
    errors = [f"{e}" for _, e in result.rejected[:20]] or ["the payload holds no alerts"]
    reason = "invalid_alerts" if result.rejected else "no_alerts"
    return _reject(request, m, endpoint, 422, reason, errors[0], errors=errors,
                   rejected=_refused(result)[:20])


def _note_refused_alerts(request: web.Request, m: Metrics, result: ParseResult) -> None:
    """Alerts refused in a request whose others are stored (a 200): each is counted as
    ``alert_<reason>``; the request is logged under its first one's, not counted."""
    for _index, bad in result.rejected:
        m.inc("ccm_ingest_rejected_total", reason=f"alert_{bad.reason}")
    first = result.rejected[0][1]
    total = len(result.rejected) + len(result.alerts)
    _rejected(request, m, 200, f"alert_{first.reason}", f"{len(result.rejected)} of {total} "
              f"alerts refused (the others are stored): {first}", count=False)


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
    return _reject(request, request.app[INGESTOR].metrics, request.match_info["source"], 405,
                   "method", "POST alerts to /alerts/{alertmanager,grafana,kibana,generic}",
                   headers={"Allow": "POST"})


async def handle_read_only(request: web.Request) -> web.Response:
    """Any method but GET on /healthz and /metrics: refused like the others, not by
    aiohttp's plain-text 405."""
    return _reject(request, request.app[INGESTOR].metrics, request.path.strip("/"), 405,
                   "method", f"{request.path} answers GET only", headers={"Allow": "GET, HEAD"})


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
    app.router.add_route("*", "/alerts/{source}", handle_method)  # any other method
    app.router.add_get("/healthz", handle_health)
    app.router.add_route("*", "/healthz", handle_read_only)
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_route("*", "/metrics", handle_read_only)
    return app
