"""A refused request is counted once, under the reason its answer gives, and every
refusal is answered in one shape; the generic schema refuses a severity it does not
document instead of reading it as warning."""

from __future__ import annotations

import json
import re
from typing import Any

from multidict import CIMultiDictProxy

from ccm_tui.core import Severity
from ccm_tui.hub import Hub
from ccm_tui.ingest.auth import GrafanaSigner
from ccm_tui.ingest.server import ReceiverConfig
from tests.functional.ingest.conftest import Client, am, make_client, sample, tasks

TOKEN = {"Authorization": "Bearer s3cret-token"}
JSON = {"Content-Type": "application/json"}
Answer = tuple[int, bytes, "CIMultiDictProxy[str]"]


async def _send(client: Client, endpoint: str, data: bytes = b"",
                headers: dict[str, str] | None = None, method: str = "POST") -> Answer:
    """One request as sent, and the answer as it came: status, raw body, headers."""
    url = f"{client.receiver.url}/alerts/{endpoint}"
    async with client.session.request(method, url, data=data, headers=headers) as resp:
        return resp.status, await resp.read(), resp.headers


def _refusal(answer: Answer, code: int, reason: str, endpoint: str,
             outcome: str = "rejected") -> dict[str, Any]:
    """The answer is a refusal in the one shape: status, reason, error, endpoint, then
    extras, as compact JSON."""
    status, raw, headers = answer
    body: dict[str, Any] = json.loads(raw)
    assert status == code, body
    assert list(body)[:4] == ["status", "reason", "error", "endpoint"], body
    assert (body["status"], body["reason"], body["endpoint"]) == (outcome, reason, endpoint)
    assert isinstance(body["error"], str) and body["error"], body
    assert raw == json.dumps(body, separators=(",", ":")).encode(), raw
    assert headers["Content-Type"].startswith("application/json")
    return body


def _rejected_counts(metrics: str) -> dict[str, float]:
    """``ccm_ingest_rejected_total`` by reason, as /metrics shows it."""
    found = re.findall(r'^ccm_ingest_rejected_total\{reason="([^"]*)"\} (\S+)$', metrics, re.M)
    return {reason: float(value) for reason, value in found}


async def test_a_refused_request_is_counted_once_under_the_reason_it_was_given(
        client: Client) -> None:
    """A notification of which every alert is invalid is one 422 ``invalid_alerts`` and
    one count of it (not also ``alert_schema``); an alert refused inside an accepted one
    is counted as ``alert_<reason>`` (the reason its ``rejected[]`` entry gives), and the
    request is not counted."""
    status, body = await client.post("alertmanager", {"alerts": [{"labels": {}}]})
    assert (status, body["reason"]) == (422, "invalid_alerts"), body
    _, metrics = await client.get("/metrics")
    assert _rejected_counts(metrics) == {"invalid_alerts": 1}
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(0, "schema")]
    assert body["errors"] == [body["error"]] == [body["rejected"][0]["error"]]

    partial = am(fp="fp-partial")
    partial["alerts"].append({"labels": {"instance": "web-02:9100"}, "status": "firing"})
    status, body = await client.post("alertmanager", partial)
    assert status == 200 and [r["reason"] for r in body["rejected"]] == ["schema"], body
    status, body = await client.post("alertmanager", {"version": "4", "alerts": []})
    assert (status, body["reason"]) == (422, "no_alerts"), body
    _, metrics = await client.get("/metrics")
    assert _rejected_counts(metrics) == {"invalid_alerts": 1, "alert_schema": 1, "no_alerts": 1}


async def test_generic_severity_is_one_the_schema_documents(client: Client, hub: Hub) -> None:
    """``severity: bananas`` is refused, naming the field and the accepted values (it was
    stored as warning); the documented words, in any case, and their synonyms are read.
    An Alertmanager ``severity`` label is free text: an unknown one is still warning."""
    status, body = await client.post("generic", {"name": "A5", "host": "web-03",
                                                 "severity": "bananas"})
    assert (status, body["reason"]) == (422, "schema"), body
    assert body["error"] == ("body.severity: 'bananas' is not a severity; "
                             "use critical, warning or info")
    assert await hub.list_alerts() == []

    status, body = await client.post("generic", {"alerts": [
        {"name": "A6", "host": "web-03", "severity": "Critical"},
        {"name": "A7", "host": "web-03", "severity": "urgent-ish"}]})
    assert status == 200 and body["alerts"] == 1, body
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(1, "schema")]
    assert body["rejected"][0]["error"].startswith("alerts[1].severity: 'urgent-ish'")

    for name, word in (("B1", "P1"), ("B2", "info"), ("B3", "warning"), ("B4", "")):
        status, body = await client.post("generic", {"name": name, "host": "web-01",
                                                     "severity": word})
        assert status == 200, (word, body)
    assert (await client.post("alertmanager", am(alertname="C1", fp="fp-c1",
                                                 severity="bananas")))[0] == 200
    severities = {t.alertname: t.severity for t in await tasks(hub)}
    assert severities == {"A6": Severity.CRITICAL, "B1": Severity.CRITICAL,
                          "B2": Severity.INFO, "B3": Severity.WARNING,
                          "B4": Severity.WARNING, "C1": Severity.WARNING}


async def test_every_refusal_has_the_same_shape(client: Client) -> None:
    """401, 404, 405, 415, 400 and the 422s: one compact JSON shape with the endpoint
    (the 401 was pretty JSON without it, the alert-list 422s lacked it); the 401 keeps
    its WWW-Authenticate challenge and the 405 says what is allowed."""
    doc = json.dumps(am()).encode()
    answer = await _send(client, "alertmanager", doc, JSON)
    _refusal(answer, 401, "unauthorized", "alertmanager")
    assert answer[2]["WWW-Authenticate"] == 'Bearer realm="ccm"'
    _refusal(await _send(client, "nagios", doc, {**JSON, **TOKEN}),
             404, "unknown_endpoint", "nagios")
    answer = await _send(client, "alertmanager", method="GET")
    _refusal(answer, 405, "method", "alertmanager")
    assert answer[2]["Allow"] == "POST"
    _refusal(await _send(client, "generic", doc, {**JSON, **TOKEN}, method="PUT"),
             405, "method", "generic")
    base = client.receiver.url
    for path in ("healthz", "metrics"):  # read-only: not aiohttp's plain-text 405
        async with client.session.post(f"{base}/{path}", data=b"x") as resp:
            answer = resp.status, await resp.read(), resp.headers
        _refusal(answer, 405, "method", path)
        assert answer[2]["Allow"] == "GET, HEAD"
    _refusal(await _send(client, "kibana", doc, {"Content-Type": "text/xml", **TOKEN}),
             415, "content_type", "kibana")
    _refusal(await _send(client, "grafana", b"{not json", {**JSON, **TOKEN}),
             400, "json", "grafana")
    body = _refusal(await _send(client, "alertmanager", b'{"version":"4","alerts":[]}',
                                {**JSON, **TOKEN}), 422, "no_alerts", "alertmanager")
    assert body["errors"] == [body["error"]] and body["rejected"] == []
    body = _refusal(await _send(client, "generic", b'{"alerts":[{"host":"web-01"}]}',
                                {**JSON, **TOKEN}), 422, "invalid_alerts", "generic")
    assert body["rejected"][0]["reason"] == "schema"
    _refusal(await _send(client, "generic", b'{"name":"A5","severity":"bananas"}',
                         {**JSON, **TOKEN}), 422, "schema", "generic")
    _, metrics = await client.get("/metrics")
    assert _rejected_counts(metrics) == {
        "unauthorized": 1, "unknown_endpoint": 1, "method": 4, "content_type": 1, "json": 1,
        "no_alerts": 1, "invalid_alerts": 1, "schema": 1}


async def test_signature_and_outage_refusals_have_the_same_shape(hub: Hub) -> None:
    """Grafana's signature 401 and the hub-down 503 (``retry``, with Retry-After) are
    answered like every other refusal; a partly invalid notification answered 503 counts
    only the outage — its refused alert is counted once the retry is stored."""
    signer = GrafanaSigner(b"grafana-secret")
    receiver, session = await make_client(hub, ReceiverConfig(grafana=signer,
                                                              retry_after_seconds=7))
    client = Client(receiver, session, token=None)
    try:
        grafana = json.dumps(sample("grafana-unified-firing.json")).encode()
        _refusal(await _send(client, "grafana", grafana, JSON), 401, "signature", "grafana")
        await hub.close()
        partial = am()
        partial["alerts"].append({"labels": {"instance": "web-02:9100"}, "status": "firing"})
        answer = await _send(client, "alertmanager", json.dumps(partial).encode(), JSON)
        body = _refusal(answer, 503, "hub_unavailable", "alertmanager", outcome="retry")
        assert answer[2]["Retry-After"] == "7" and "could not store" in body["error"]
        _, metrics = await client.get("/metrics")
        assert _rejected_counts(metrics) == {"signature": 1, "hub_unavailable": 1}
    finally:
        await session.close()
        await receiver.stop()
