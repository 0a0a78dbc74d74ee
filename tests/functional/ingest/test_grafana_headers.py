"""Grafana's HMAC header names come from the contact point, so they come from CCM's config.

Grafana's webhook contact point has a signature ``Header`` (default
``X-Grafana-Alerting-Signature``) and an optional ``Timestamp Header`` with no
default: whatever name the user typed. ``ccm webhook`` (a subprocess, config file
in its XDG folder) must check the names configured there, and a signature that
fails because the timestamp came under another name must say so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp

from ccm_tui.ingest.auth import GrafanaSigner
from tests.functional.ingest.conftest import sample
from tests.functional.ingest.test_alertmanager_e2e import (
    START_TIMEOUT,
    child_env,
    eventually,
    http_get,
    processes,
)


async def test_configured_header_names_are_the_ones_checked(tmp_path: Path,
                                                           sqlite_url: str) -> None:
    import re
    import sys

    secret = tmp_path / "grafana.secret"
    secret.write_text("s3cret\n")
    config = tmp_path / "config" / "ccm" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[webhook]\ngrafana_signature_header = "X-Sig"\n'
                      'grafana_timestamp_header = "X-Sig-Time"\n'
                      f'grafana_secret_file = "{secret}"\n')
    signer = GrafanaSigner(b"s3cret")
    body = json.dumps(sample("grafana-unified-firing.json")).encode()
    ts = str(int(time.time()))
    with processes() as procs:
        proc = procs.start("ccm-webhook", [sys.executable, "-m", "ccm_tui", "--hub", sqlite_url,
                                           "webhook", "--listen", "127.0.0.1:0"],
                           tmp_path, env=child_env(tmp_path))

        async def bound() -> str | None:
            m = re.search(r"receiving on (http://127\.0\.0\.1:\d+)/alerts/", proc.output(10_000))
            return m.group(1) if m else None

        async with aiohttp.ClientSession() as session:
            base = await eventually(bound, "ccm webhook to listen", procs, START_TIMEOUT)
            assert await http_get(session, f"{base}/healthz") is not None
            url, json_type = f"{base}/alerts/grafana", {"Content-Type": "application/json"}

            async def post(headers: dict[str, str]) -> tuple[int, dict[str, object]]:
                async with session.post(url, data=body, headers={**json_type, **headers}) as r:
                    return r.status, await r.json()

            default_names = await post({
                "X-Grafana-Alerting-Signature": signer.sign(body, ts),
                "X-Grafana-Alerting-Signature-Timestamp": ts})
            other_time_name = await post({"X-Sig": signer.sign(body, ts), "X-Time": ts})
            configured = await post({"X-Sig": signer.sign(body, ts), "X-Sig-Time": ts})

    assert default_names == (401, {"status": "rejected", "reason": "signature",
                                   "error": "missing X-Sig header",
                                   "endpoint": "grafana"})
    assert other_time_name[0] == 401
    assert other_time_name[1]["error"] == (
        "signature does not match the body; the request carries X-Time: if that is the "
        "contact point's Timestamp Header, set webhook.grafana_timestamp_header to it")
    assert configured[0] == 200 and configured[1]["outcomes"] == {"created": 1}
