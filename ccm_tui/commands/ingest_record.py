"""``ccm ingest record OUT``: write the webhook requests senders make to a trace file,
for ``ccm ingest replay`` (the trace format is in :mod:`ccm_tui.ingest.trace`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ccm_tui.commands._common import settings

if TYPE_CHECKING:
    from aiohttp import web

    from ccm_tui.ingest.trace import TraceWriter


#: Request headers a recording keeps; others may hold credentials (custom API-key headers).
KEPT_HEADERS = ("User-Agent", "Content-Type")
#: The largest request a recording accepts (the receiver's default is 1 MiB).
RECORD_MAX_BODY = 16 * 1024 * 1024


def _recorder(writer: TraceWriter, recorded: list[int]) -> web.Application:
    """POST /alerts/<source> → one trace line, answered 200 (counted in ``recorded[0]``)."""
    import json
    from datetime import UTC, datetime

    from aiohttp import web

    from ccm_tui.ingest.parsers import SOURCES

    last = [datetime.now(UTC)]

    async def record(request: web.Request) -> web.Response:
        endpoint = request.match_info["endpoint"]
        if endpoint not in SOURCES:
            return web.json_response(
                {"status": "rejected", "reason": "unknown_endpoint", "endpoint": endpoint,
                 "error": f"POST to /alerts/{'|'.join(SOURCES)}"}, status=404)
        try:
            data = await request.read()
        except web.RequestPayloadError:
            return web.json_response({"status": "rejected", "reason": "encoding",
                                      "error": "the body does not decode"}, status=400)
        headers = {k: request.headers[k] for k in KEPT_HEADERS if k in request.headers}
        raw: str | None = None
        try:
            body = json.loads(data)
            # an escaped lone surrogate ("\\ud800") decodes, but cannot be written as UTF-8
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            body, raw = None, data.decode("utf-8", "replace")
        # a clock stepped back by NTP must not make a trace that replay refuses
        last[0] = max(datetime.now(UTC), last[0])
        try:
            writer.write(last[0], endpoint, body=body, raw=raw, headers=headers)
            writer.out.flush()
        except OSError as exc:  # e.g. the disk is full: the sender retries later
            typer.echo(f"cannot write the trace: {exc.strerror or exc}; answered 503", err=True)
            return web.json_response({"status": "retry", "reason": "trace_unwritable",
                                      "error": str(exc.strerror or exc)}, status=503,
                                     headers={"Retry-After": "60"})
        recorded[0] += 1
        return web.json_response({"status": "recorded"})

    app = web.Application(client_max_size=RECORD_MAX_BODY)
    app.router.add_post("/alerts/{endpoint}", record)
    return app


def record(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(
        metavar="OUT", help="The trace file to write (JSON lines).")],
    listen: Annotated[str, typer.Option(
        "--listen", metavar="HOST:PORT",
        help="Address to listen on (port 0: any free port, printed).")] = "127.0.0.1:9798",
    append: Annotated[bool, typer.Option(
        "--append", help="Add to an existing trace (after a restart) instead of refusing "
        "to overwrite it.")] = False,
) -> None:
    """Record the webhook requests your senders make to a trace, for `ccm ingest replay`.

    Answers POST /alerts/<alertmanager|grafana|kibana|generic> like `ccm
    webhook`, but stores nothing: each request becomes one trace line, with
    the time it arrived. Add this URL as a second webhook of your
    Alertmanager receiver (docs/ingest.md, "Recording a trace"), leave it a
    night, stop it with Ctrl-C, then replay the file. The trace starts
    with the configured inventory (--inventory), so the replay knows which
    hosts are managed. Credentials are not checked and headers other than
    User-Agent and Content-Type are not written.
    """
    import asyncio
    import contextlib
    import signal
    from datetime import UTC, datetime

    from aiohttp import web

    from ccm_tui.commands._webhook_hosts import inventory_for_ingest
    from ccm_tui.core.errors import CCMError
    from ccm_tui.ingest.service import is_loopback, parse_listen
    from ccm_tui.ingest.trace import TraceWriter

    host, port = parse_listen(listen)
    if out.is_dir():
        raise CCMError(f"{out} is a folder", hint="give the path of the trace file to write")
    if out.exists() and out.stat().st_size and not append:
        raise CCMError(f"{out} exists", hint="pass --append to add to it, or pick a new name")
    inventory = inventory_for_ingest(settings(ctx))
    err = typer.echo

    async def serve(writer: TraceWriter) -> None:
        runner = web.AppRunner(_recorder(writer, recorded), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                raise CCMError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                               hint="pick another address with --listen HOST:PORT") from None
            bound = runner.addresses[0][1] if port == 0 else port
            shown = f"[{host}]" if ":" in host else host
            err(f"recording to {out}: POST http://{shown}:{bound}/alerts/<source> "
                "(alertmanager, grafana, kibana, generic); Ctrl-C stops", err=True)
            if not is_loopback(host):
                err("no credentials are checked: anyone who can reach this address can add "
                    "requests to the trace", err=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()

    created = not out.exists()
    try:
        f = out.open("a", encoding="utf-8")
    except OSError as exc:
        raise CCMError(f"cannot write {out}: {exc.strerror or exc}",
                       hint="check the folder exists and is writable") from None
    writer = TraceWriter(f)
    recorded = [0]
    try:
        if inventory is None:
            err(f"no inventory at {settings(ctx).inventory}: the trace has no inventory line, "
                "so its replay counts every host as unmanaged (--inventory FILE)", err=True)
        try:
            if inventory is not None:
                writer.inventory(datetime.now(UTC), inventory.to_hosts())
                f.flush()
        except OSError as exc:
            raise CCMError(f"cannot write {out}: {exc.strerror or exc}",
                           hint="free some space, or record somewhere else") from None
        try:
            asyncio.run(serve(writer))
        except CCMError:
            if created:  # nothing was recorded: leave no file behind
                out.unlink(missing_ok=True)
            raise
    finally:
        with contextlib.suppress(OSError):  # a line that could not be written was reported
            f.close()
    requests = recorded[0]
    err(f"recorded {requests} request{'' if requests == 1 else 's'} to {out}; "
        f"replay it: ccm ingest replay {out}", err=True)
