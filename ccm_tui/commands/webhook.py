"""``ccm webhook``: the alert receiver as a long-running service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ccm_tui.commands._common import (
    connect_or_wait,
    redact_url,
    service_logging,
    settings,
)
from ccm_tui.commands._webhook_hosts import (
    hosts_note,
    inventory_for_ingest,
    sync_when_connected,
)
from ccm_tui.core.errors import ConfigError

if TYPE_CHECKING:
    from ccm_tui.ingest.server import ReceiverConfig

ListenOpt = Annotated[str | None, typer.Option(
    "--listen", metavar="HOST:PORT",
    help="Address to listen on (default: webhook.listen from the config, 127.0.0.1:9797).")]
TokenFileOpt = Annotated[Path | None, typer.Option(
    "--token-file", metavar="FILE",
    help="File of bearer tokens senders must present, one per line (default: webhook.token_file).")]
BasicFileOpt = Annotated[Path | None, typer.Option(
    "--basic-auth-file", metavar="FILE",
    help="File of user:password lines accepted as HTTP basic auth.")]
GrafanaOpt = Annotated[Path | None, typer.Option(
    "--grafana-secret-file", metavar="FILE",
    help="File holding the secret Grafana signs bodies with (X-Grafana-Alerting-Signature).")]
InsecureOpt = Annotated[bool, typer.Option(
    "--insecure-no-auth",
    help="Allow listening on a non-loopback address without any authentication.")]


def receiver_config(ctx: typer.Context, token_file: Path | None, basic_file: Path | None,
                    grafana_file: Path | None, listen: str, insecure: bool) -> ReceiverConfig:
    """Credentials and limits from flags and settings; refuses an open public listener."""
    from ccm_tui.ingest.auth import Credentials, GrafanaSigner
    from ccm_tui.ingest.server import ReceiverConfig
    from ccm_tui.ingest.service import is_loopback, parse_listen

    cfg = settings(ctx).webhook
    creds = Credentials.from_files(token_file or cfg.token_file, basic_file or cfg.basic_auth_file)
    host, _port = parse_listen(listen)
    if not creds.required and not is_loopback(host) and not insecure:
        raise ConfigError(
            f"refusing to receive alerts on {host} without authentication",
            hint="give --token-file (what Alertmanager's http_config.authorization sends), "
                 "or --insecure-no-auth if a proxy in front authenticates")
    grafana = None
    secret_file = grafana_file or cfg.grafana_secret_file
    if secret_file is not None:
        try:
            secret = secret_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {secret_file}: {exc.strerror}",
                              hint="check the path of --grafana-secret-file") from None
        if not secret:
            raise ConfigError(f"{secret_file} is empty", hint="write Grafana's HMAC secret in it")
        grafana = GrafanaSigner(secret, signature_header=cfg.grafana_signature_header,
                                timestamp_header=cfg.grafana_timestamp_header)
    return ReceiverConfig(credentials=creds, grafana=grafana, max_body=cfg.max_body_bytes)


def webhook(
    ctx: typer.Context,
    listen: ListenOpt = None,
    token_file: TokenFileOpt = None,
    basic_auth_file: BasicFileOpt = None,
    grafana_secret_file: GrafanaOpt = None,
    insecure_no_auth: InsecureOpt = False,
) -> None:
    """Receive alerts from Alertmanager, Grafana, Kibana or any JSON sender.

    POST /alerts/alertmanager, /alerts/grafana, /alerts/kibana and /alerts/generic; GET /healthz and /metrics. An alert is acknowledged only once the hub has stored it; while the hub is down senders get 503 and retry.
    """
    from datetime import timedelta

    from ccm_tui.hub import open_hub
    from ccm_tui.ingest.pipeline import IngestSettings
    from ccm_tui.ingest.service import RunningReceiver, serve_until_stopped, start_receiver

    s = settings(ctx)
    where = listen or s.webhook.listen
    config = receiver_config(ctx, token_file, basic_auth_file, grafana_secret_file, where,
                             insecure_no_auth)
    ingest = IngestSettings(flap_threshold=s.webhook.flap_threshold,
                            flap_window=timedelta(minutes=s.webhook.flap_window_minutes))
    inventory = inventory_for_ingest(s)
    service_logging("webhook")
    hub = open_hub(s.hub)

    def ready(r: RunningReceiver) -> None:
        auth = ("bearer" if config.credentials.tokens else "") + \
            (" basic" if config.credentials.basic else "")
        typer.echo(
            f"ccm webhook: receiving on {r.url}/alerts/{{alertmanager,grafana,kibana,generic}}"
            f" · hub {redact_url(s.hub)} · auth {auth.strip() or 'none'}"
            f"{' · grafana signatures checked' if config.grafana else ''}"
            f" · {hosts_note(s, inventory)}", err=True)

    async def main() -> None:
        # A hub that is not up yet (PostgreSQL still booting) is waited for in the
        # background; meanwhile every alert gets a 503, which Alertmanager retries.
        connecting = await connect_or_wait(hub, s.hub, logging.getLogger("ccm.webhook"))
        syncing = None
        if inventory is not None and connecting is None:
            await sync_when_connected(hub, inventory, None)
        elif inventory is not None:
            syncing = asyncio.create_task(sync_when_connected(hub, inventory, connecting))
        try:
            await serve_until_stopped(
                lambda: start_receiver(hub, where, config, settings=ingest), ready)
        finally:
            for pending in (syncing, connecting):
                if pending is not None:
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pending
            await hub.close()

    asyncio.run(main())
