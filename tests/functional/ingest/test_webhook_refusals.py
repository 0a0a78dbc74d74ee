"""What the receiver refuses, and how: credentials, malformed, oversized, compressed and
partly invalid bodies — a 4xx with the reason (never a 5xx), nothing stored, and a log
that a flood of them cannot drown."""

from __future__ import annotations

import base64
import gzip
import json
import logging

import pytest

from ccm_tui.hub import Hub
from tests.functional.ingest.conftest import Client, am, tasks


async def test_auth(client: Client) -> None:
    doc = am()
    assert (await client.post("alertmanager", doc, auth=False))[0] == 401
    assert (await client.post("alertmanager", doc, headers={"Authorization": "Bearer nope"}))[0] == 401
    basic = base64.b64encode(b"am:pw").decode()
    assert (await client.post("alertmanager", doc, headers={"Authorization": f"Basic {basic}"}))[0] == 200
    wrong = base64.b64encode(b"am:nope").decode()
    assert (await client.post("alertmanager", doc, headers={"Authorization": f"Basic {wrong}"}))[0] == 401
    assert (await client.post("alertmanager", doc, headers={"Authorization": "Basic !!"}))[0] == 401


async def test_rejections_are_logged_once_a_minute_per_reason(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """A sender with a wrong token is seen in CCM's log (with what to check), but a
    flood of them costs one line; a partly invalid notification is logged too."""
    with caplog.at_level(logging.WARNING, logger="ccm.webhook"):
        for _ in range(20):
            assert (await client.post("alertmanager", am(), auth=False))[0] == 401
        doc = am(fp="fp-partial")
        doc["alerts"].append({"labels": {"instance": "web-02:9100"}, "status": "firing"})
        status, body = await client.post("alertmanager", doc)
        assert status == 200 and body["rejected"]
        assert (await client.post("alerts%0Aforged line", raw=b"{}"))[0] == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "ccm.webhook"]
    auth = [line for line in lines if "rejected unauthorized" in line]
    assert len(auth) == 1, lines
    assert "from 127.0.0.1 on /alerts/alertmanager: 401" in auth[0]
    assert "--token-file" in auth[0]
    partial = [line for line in lines if "rejected alert_schema" in line]
    assert len(partial) == 1 and "1 of 2 alerts refused (the others are stored)" in partial[0]
    unknown = [line for line in lines if "rejected unknown_endpoint" in line]
    assert len(unknown) == 1 and "\n" not in unknown[0], lines
    _, metrics = await client.get("/metrics")
    assert 'ccm_ingest_rejected_total{reason="unauthorized"} 20' in metrics


async def test_compressed_bodies_and_encodings_it_cannot_read(
        client: Client, hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    """gzip that matches its Content-Encoding is read; bytes that only claim to be gzip,
    or an encoding aiohttp cannot decode, get a 400 with the reason — never a 500 — and
    a flood of them costs one log line each, no traceback."""
    gz = {"Content-Encoding": "gzip"}
    status, body = await client.post("alertmanager", raw=gzip.compress(json.dumps(am()).encode()),
                                     headers=gz)
    assert status == 200, body
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            status, body = await client.post("alertmanager", raw=b"not gzip at all", headers=gz)
            assert (status, body["reason"]) == (400, "encoding"), body
            assert "Content-Encoding 'gzip'" in body["error"]
            async with client.session.post(
                    f"{client.receiver.url}/alerts/alertmanager", data=b"{}",
                    headers={"Content-Encoding": "br", "Authorization": "Bearer s3cret-token",
                             "Content-Type": "application/json"}) as resp:
                assert resp.status == 400
    assert len(await hub.list_alerts()) == 1
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    lines = [r.getMessage() for r in caplog.records if r.name == "ccm.webhook"]
    encoding = [line for line in lines if "rejected encoding" in line]
    assert len(encoding) == 1 and "uncompressed" in encoding[0], lines
    bad_http = [line for line in lines if "rejected bad_http" in line]
    assert len(bad_http) == 1 and "on the receiver's port: 400" in bad_http[0], lines
    assert "brotli" in bad_http[0]
    _, metrics = await client.get("/metrics")
    assert 'ccm_ingest_rejected_total{reason="encoding"} 3' in metrics
    assert 'ccm_ingest_rejected_total{reason="bad_http"} 3' in metrics


async def test_a_truncated_notification_is_counted_and_logged(
        client: Client, hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    """Alertmanager's max_alerts leaves alerts out of a notification: CCM cannot store
    what it never saw, but it says so (metric, log line with the remedy)."""
    doc = am(fp="fp-trunc")
    doc["truncatedAlerts"] = 12
    with caplog.at_level(logging.WARNING, logger="ccm.webhook"):
        status, body = await client.post("alertmanager", doc)
    assert status == 200 and body["alerts"] == 1
    assert len(await hub.list_alerts()) == 1
    (line,) = [r.getMessage() for r in caplog.records if "incomplete" in r.getMessage()]
    assert line.startswith("incomplete notification from 127.0.0.1 on /alerts/alertmanager: "
                           "200 the sender left out 12 alerts")
    assert "max_alerts" in line
    _, metrics = await client.get("/metrics")
    assert 'ccm_ingest_truncated_alerts_total{endpoint="alertmanager"} 12' in metrics
    for bad in ("lots", -1, True, 1.5, None):  # informational: never refuses the alerts
        doc["truncatedAlerts"] = bad
        assert (await client.post("alertmanager", doc))[0] == 200
    _, metrics = await client.get("/metrics")
    assert 'ccm_ingest_truncated_alerts_total{endpoint="alertmanager"} 12' in metrics


@pytest.mark.parametrize("raw,code,reason", [
    (b"", 400, "empty"),
    (b"{not json", 400, "json"),
    (b"\xff\xfe{}", 400, "encoding"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "too_deep"),
    (b"[]", 422, "schema"),
    (b'{"version": "4"}', 422, "schema"),
    (b'{"version": "3", "alerts": []}', 422, "version"),
    (b'{"version": "4", "alerts": []}', 422, "no_alerts"),
    (b'{"version": "4", "alerts": [{"labels": {}}]}', 422, "invalid_alerts"),
    (b'{"version": "4", "alerts": "lots"}', 422, "schema"),
], ids=["empty", "json", "utf8", "deep", "list", "no-alerts", "version", "zero-alerts",
        "no-alertname", "alerts-not-list"])
async def test_malformed_bodies_get_4xx_and_store_nothing(
        client: Client, hub: Hub, raw: bytes, code: int, reason: str) -> None:
    status, body = await client.post("alertmanager", raw=raw)
    assert (status, body["reason"]) == (code, reason), body
    assert body["error"]
    assert await hub.list_alerts() == [] and await tasks(hub) == []


async def test_limits_and_content_type(client: Client, hub: Hub) -> None:
    big = json.dumps({"version": "4", "alerts": [], "pad": "x" * (2 * 1024 * 1024)}).encode()
    status, body = await client.post("alertmanager", raw=big)
    assert status == 413 and body["reason"] == "too_large"
    status, body = await client.post("alertmanager", am(), headers={"Content-Type": "text/xml"})
    assert status == 415
    status, body = await client.post("nagios", am())
    assert status == 404 and "alertmanager" in body["error"]
    assert await hub.list_alerts() == []


async def test_one_bad_alert_does_not_lose_its_neighbours(client: Client, hub: Hub) -> None:
    doc = am()
    doc["alerts"].append({"status": "firing", "labels": {"instance": "web-02"}})
    doc["alerts"].append({"status": "exploded", "labels": {"alertname": "X"}})
    status, body = await client.post("alertmanager", doc)
    assert status == 200 and body["outcomes"] == {"created": 1}
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert "alertname" in body["rejected"][0]["error"]
