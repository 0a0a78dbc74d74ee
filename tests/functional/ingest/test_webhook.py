"""The receiver over real HTTP on loopback, in front of a real hub (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ccm_tui.core import Silence, TaskState, parse_matcher, utcnow
from ccm_tui.hub import Hub
from ccm_tui.ingest.auth import GrafanaSigner
from ccm_tui.ingest.pipeline import IngestSettings
from ccm_tui.ingest.server import ReceiverConfig
from tests.functional.ingest.conftest import Client, am, make_client, sample, tasks


async def test_alertmanager_sample_makes_one_task_and_dedupes(client: Client, hub: Hub) -> None:
    status, body = await client.post("alertmanager", sample("alertmanager-0.25-firing-annotated.json"))
    assert status == 200 and body["outcomes"] == {"created": 1}
    [t] = await tasks(hub)
    assert (t.host, t.alertname, t.state, t.managed) == ("web-01", "DiskFull", TaskState.NEW, True)
    assert t.summary == "Disk / is 97% full" and t.severity.value == "critical"
    assert t.spec["alert"]["labels"]["instance"] == "web-01"
    status, body = await client.post("alertmanager", sample("alertmanager-0.25-firing-annotated.json"))
    assert status == 200 and body["outcomes"] == {"duplicate": 1}
    assert len(await tasks(hub)) == 1
    # The resolved notification (same startsAt) closes the task that never started.
    status, body = await client.post("alertmanager", sample("alertmanager-0.25-resolved.json"))
    assert body["outcomes"] == {"resolved_upstream": 1}
    assert (await hub.get_task(t.id)).state is TaskState.RESOLVED_UPSTREAM
    # A new firing episode (another startsAt) is a new task.
    status, body = await client.post("alertmanager", sample("alertmanager-0.25-firing.json"))
    assert body["outcomes"] == {"created": 1} and len(await tasks(hub)) == 2


async def test_repeats_attach_to_the_open_task(client: Client, hub: Hub) -> None:
    await client.post("alertmanager", am(fp="fp-root", mountpoint="/"))
    _, body = await client.post("alertmanager", am(fp="fp-var", mountpoint="/var"))
    assert body["outcomes"] == {"attached": 1}
    [t] = await tasks(hub)
    assert t.repeat_count == 1
    # One of two alerts resolving leaves the task open; the second closes it.
    _, body = await client.post("alertmanager", am(fp="fp-root", status="resolved"))
    assert body["outcomes"] == {"noted": 1}
    assert (await hub.get_task(t.id)).state is TaskState.NEW
    _, body = await client.post("alertmanager", am(fp="fp-var", status="resolved"))
    assert body["outcomes"] == {"resolved_upstream": 1}


async def test_resolved_on_started_task_is_noted(client: Client, hub: Hub) -> None:
    await client.post("alertmanager", am())
    [t] = await tasks(hub)
    await hub.transition(t.id, TaskState.CLAIMED)
    await hub.transition(t.id, TaskState.DIAGNOSING)
    _, body = await client.post("alertmanager", am(status="resolved"))
    assert body["outcomes"] == {"noted": 1}
    t = await hub.get_task(t.id)
    assert t.state is TaskState.DIAGNOSING and "upstream_resolved_at" in t.result


async def test_unknown_host_still_makes_an_unmanaged_task(client: Client, hub: Hub) -> None:
    _, body = await client.post("alertmanager", am(instance="mystery-9.example.com:9100"))
    assert body["outcomes"] == {"created": 1}
    [t] = await tasks(hub)
    assert (t.host, t.managed) == ("mystery-9.example.com", False)
    # An FQDN or address of an inventory host resolves to it.
    await client.post("alertmanager", am(alertname="Load", instance="web-02.prod.example:9100", fp="fp-load"))
    await client.post("alertmanager", am(alertname="Load", instance="10.0.0.3:9100", fp="fp-2"))
    hosts = {(t.host, t.managed) for t in await tasks(hub)}
    assert {("web-02", True), ("web-03", True)} <= hosts


async def test_a_probe_url_instance_names_the_probed_host(client: Client, hub: Hub) -> None:
    """A blackbox-exporter alert's instance is the URL it probed: the service runs there."""
    await client.post("alertmanager", am(alertname="ProbeFailed", fp="fp-probe",
                                         instance="https://WEB-01:8443/health"))
    await client.post("alertmanager", am(alertname="ProbeFailed", fp="fp-shop",
                                         instance="https://shop.example.com/health"))
    await client.post("alertmanager", am(alertname="ProbeFailed", fp="fp-bad",
                                         instance="http://[not-an-address/x"))
    hosts = {(t.host, t.managed) for t in await tasks(hub)}
    assert hosts == {("web-01", True), ("shop.example.com", False),
                     ("http://[not-an-address/x", False)}


async def test_hub_outage_answers_503_so_the_source_retries(hub: Hub, tmp_path: Any) -> None:
    receiver, session = await make_client(hub)
    try:
        await hub.close()
        url = f"{receiver.url}/alerts/alertmanager"
        async with session.post(url, json=am()) as resp:
            assert resp.status == 503 and resp.headers["Retry-After"]
            assert (await resp.json())["reason"] == "hub_unavailable"
        async with session.get(f"{receiver.url}/healthz") as resp:
            assert resp.status == 503
    finally:
        await session.close()
        await receiver.stop()


async def test_grafana_signature(hub: Hub) -> None:
    signer = GrafanaSigner(b"grafana-secret")
    receiver, session = await make_client(hub, ReceiverConfig(grafana=signer))
    body = json.dumps(sample("grafana-unified-firing.json")).encode()
    url = f"{receiver.url}/alerts/grafana"
    try:
        ts = str(int(time.time()))
        good = {"X-Grafana-Alerting-Signature": signer.sign(body, ts),
                "X-Grafana-Alerting-Signature-Timestamp": ts, "Content-Type": "application/json"}
        async with session.post(url, data=body, headers=good) as resp:
            assert resp.status == 200, await resp.text()
        for bad in ({}, {**good, "X-Grafana-Alerting-Signature": "00" * 32},
                    {**good, "X-Grafana-Alerting-Signature-Timestamp": str(int(time.time()) - 3600),
                     "X-Grafana-Alerting-Signature": signer.sign(body, str(int(time.time()) - 3600))}):
            async with session.post(url, data=body, headers=bad) as resp:
                assert resp.status == 401 and (await resp.json())["reason"] == "signature"
        unsigned = {"X-Grafana-Alerting-Signature": signer.sign(body)}
        async with session.post(url, data=body, headers=unsigned) as resp:
            assert resp.status == 200 and (await resp.json())["outcomes"] == {"duplicate": 1}
        [t] = await hub.list_tasks()
        assert (t.host, t.alertname, t.managed) == ("app-12", "High memory usage", False)
    finally:
        await session.close()
        await receiver.stop()


async def test_kibana_and_generic(client: Client, hub: Hub) -> None:
    kibana = {"rule": {"id": "r-1", "name": "HighErrorRate", "tags": ["web", "errors"]},
              "alert": {"id": "web-02", "actionGroup": "query matched"},
              "context": {"title": "5xx above 5%", "message": "nginx 5xx spike"},
              "date": "2026-11-27T02:00:00.000Z", "severity": "critical"}
    _, body = await client.post("kibana", kibana)
    assert body["outcomes"] == {"created": 1}
    _, body = await client.post("kibana", {**kibana, "alert": {"id": "web-02",
                                                               "actionGroup": "recovered"}})
    assert body["outcomes"] == {"resolved_upstream": 1}
    _, body = await client.post("generic", {"name": "BackupFailed", "host": "db-01",
                                            "severity": "critical", "summary": "pg_dump failed"})
    assert body["outcomes"] == {"created": 1}
    _, body = await client.post("generic", {"alerts": [
        {"name": "CronMissed", "host": "worker-07", "labels": {"job": "nightly"}}]})
    assert body["outcomes"] == {"created": 1}
    status, body = await client.post("generic", {"name": "X", "bogus": 1})
    assert status == 422 and "bogus" in body["error"]
    by_name = {t.alertname: t for t in await hub.list_tasks()}
    assert by_name["HighErrorRate"].state is TaskState.RESOLVED_UPSTREAM
    assert by_name["BackupFailed"].summary == "pg_dump failed" and by_name["BackupFailed"].managed
    assert by_name["CronMissed"].managed is False


async def test_silences_and_maintenance_windows(client: Client, hub: Hub) -> None:
    now = utcnow()
    await hub.add_silence(Silence((parse_matcher("host=~web-.*"),), now - timedelta(minutes=1),
                                  now + timedelta(hours=2), "deploy", "jordan"))
    await hub.add_silence(Silence((parse_matcher("alertname=Backup"),), now + timedelta(hours=1),
                                  now + timedelta(hours=3), "window", "jordan"))
    _, body = await client.post("alertmanager", am(instance="web-02:9100"))
    assert body["outcomes"] == {"silenced": 1}
    _, body = await client.post("alertmanager", am(instance="db-01:9100", fp="fp-db"))
    assert body["outcomes"] == {"created": 1}
    _, body = await client.post("alertmanager", am(alertname="Backup", instance="db-01", fp="b"))
    assert body["outcomes"] == {"created": 1}  # the window has not started yet
    stored = {a.host: a.suppressed for a in await hub.list_alerts()}
    assert stored["web-02"].startswith("silenced:") and len(await tasks(hub)) == 2


async def test_flapping_alert_is_held_not_retasked(hub: Hub) -> None:
    await hub.upsert_hosts([])
    receiver, session = await make_client(hub, settings=IngestSettings(flap_threshold=3))
    url = f"{receiver.url}/alerts/alertmanager"
    outcomes = []
    try:
        for i in range(5):
            starts = (datetime(2026, 11, 27, 2, 0, tzinfo=UTC) + timedelta(minutes=i)).isoformat()
            for status in ("firing", "resolved"):
                async with session.post(url, json=am(status=status, fp="flappy",
                                                     starts=starts.replace("+00:00", "Z"))) as r:
                    outcomes.append((await r.json())["outcomes"])
        async with session.get(f"{receiver.url}/metrics") as r:
            metrics = await r.text()
    finally:
        await session.close()
        await receiver.stop()
    firing = outcomes[0::2]
    assert firing[:3] == [{"created": 1}] * 3
    assert firing[3:] == [{"flapping": 1}] * 2
    assert len(await hub.list_tasks()) == 3
    assert 'ccm_ingest_suppressed_total{reason="flapping"} 2' in metrics


async def test_metrics_and_health(client: Client) -> None:
    await client.post("alertmanager", am())
    await client.post("alertmanager", am())
    await client.post("alertmanager", raw=b"nope")
    status, health = await client.get("/healthz")
    assert status == 200 and json.loads(health)["status"] == "ok"
    status, text = await client.get("/metrics")
    assert status == 200
    for line in ('ccm_ingest_tasks_created_total 1', 'ccm_ingest_duplicates_total 1',
                 'ccm_ingest_rejected_total{reason="json"} 1',
                 'ccm_ingest_alerts_received_total{source="alertmanager",status="firing"} 2',
                 'ccm_ingest_requests_total{code="200",endpoint="alertmanager"} 2',
                 'ccm_ingest_request_duration_seconds_count 3'):
        assert line in text, line


async def test_renotifications_of_one_episode_are_duplicates(client: Client, hub: Hub) -> None:
    """Kibana re-notifies an active alert with a new date each check: one episode."""
    for minute in range(0, 25, 5):
        _, body = await client.post("kibana", {
            "rule": {"id": "r-9", "name": "ErrorSpike"},
            "alert": {"id": "web-01", "actionGroup": "query matched"},
            "date": f"2026-11-27T02:{minute:02d}:00Z"})
        assert body["outcomes"] == ({"created": 1} if minute == 0 else {"duplicate": 1}), body
    _, body = await client.post("kibana", {
        "rule": {"id": "r-9", "name": "ErrorSpike"},
        "alert": {"id": "web-01", "actionGroup": "recovered"}, "date": "2026-11-27T02:30:00Z"})
    assert body["outcomes"] == {"resolved_upstream": 1}
    [t] = await tasks(hub)
    assert t.state is TaskState.RESOLVED_UPSTREAM


async def test_resolved_resend_of_a_silenced_alert_is_a_duplicate(client: Client, hub: Hub) -> None:
    now = utcnow()
    await hub.add_silence(Silence((parse_matcher("mountpoint=/var"),), now - timedelta(minutes=1),
                                  now + timedelta(hours=1), "noisy mount", "jordan"))
    await client.post("alertmanager", am(fp="fp-var", mountpoint="/var"))   # silenced
    _, body = await client.post("alertmanager", am(fp="fp-root", mountpoint="/"))
    assert body["outcomes"] == {"created": 1}
    [t] = await tasks(hub)
    # The silenced alert resolving is not linked to the other alert's task...
    _, body = await client.post("alertmanager", am(fp="fp-var", status="resolved",
                                                   mountpoint="/var"))
    assert body["outcomes"] == {"resolved_no_task": 1}
    # ...and its re-send is a duplicate.
    _, body = await client.post("alertmanager", am(fp="fp-var", status="resolved",
                                                   mountpoint="/var"))
    assert body["outcomes"] == {"duplicate": 1}
    assert {a.task_id for a in await hub.list_alerts(fingerprint="fp-var")} == {None}
    assert (await hub.get_task(t.id)).state is TaskState.NEW


async def test_an_escalated_task_closes_when_its_alert_resolves(client: Client, hub: Hub) -> None:
    await client.post("alertmanager", am())
    [t] = await tasks(hub)
    await hub.decide(t.id, "escalate", actor="jordan", note="looks odd")
    _, body = await client.post("alertmanager", am(status="resolved"))
    assert body["outcomes"] == {"resolved_after_escalation": 1}
    done = await hub.get_task(t.id)
    assert done.state is TaskState.RESOLVED and done.outcome == "resolved upstream after escalation"
