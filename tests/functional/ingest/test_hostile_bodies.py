"""Property tests: 10,000 random and hostile bodies against the four alert endpoints.

The real aiohttp application runs in-process behind ``aiohttp.test_utils.TestServer``
(real HTTP on 127.0.0.1) in front of a real SQLite hub. For every body:

- the answer is never a 5xx, and the server keeps answering (a crash would surface
  as a 500, a dropped connection, or a failing ``/healthz`` at the end);
- every 4xx carries a JSON ``reason`` and ``error``;
- a rejected body leaves the hub untouched: no alert, task, event or change row is
  added, and no stored alert's ``seen_count`` moves (compared through a read-only
  SQLite connection, before and after);
- a 200 stores what was sent: each accepted alert's labels are stored verbatim, so a
  label value such as ``$(reboot)`` or ``; rm -rf / #`` is data, never interpreted;
  and a 200 adds at most one alert row per accepted alert.

2,500 examples per endpoint (4 × 2,500 = 10,000). Two cheaper tests run on both hub
adapters (SQLite and PostgreSQL): every hostile label value from the strategies is stored
verbatim or refused, and the bodies these properties found getting through (a lone
surrogate, an unchecked Kibana tag string, a null label value) are each a 422.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis.control import currently_in_test_context

from ccm_tui.hub import Hub, open_hub
from ccm_tui.ingest.auth import Credentials
from ccm_tui.ingest.parsers.common import fingerprint_of
from ccm_tui.ingest.pipeline import Ingestor
from ccm_tui.ingest.server import ReceiverConfig, make_app
from tests.functional.ingest.bodies import Body, bodies
from tests.functional.ingest.conftest import FLEET, Client
from tests.functional.ingest.strategies import HOSTILE_STRINGS, SOURCES

EXAMPLES_PER_ENDPOINT = 2500
ROTATE_EVERY = 500
TOKEN = "hostile-token"
T = TypeVar("T")

SNAPSHOT_SQL = """
SELECT (SELECT count(*) FROM ccm_alerts), (SELECT coalesce(max(id), 0) FROM ccm_alerts),
       (SELECT coalesce(sum(seen_count), 0) FROM ccm_alerts),
       (SELECT coalesce(max(last_seen_at), '') FROM ccm_alerts),
       (SELECT count(*) FROM ccm_tasks), (SELECT coalesce(sum(version), 0) FROM ccm_tasks),
       (SELECT coalesce(sum(repeat_count), 0) FROM ccm_tasks),
       (SELECT count(*) FROM ccm_events), (SELECT count(*) FROM ccm_changes)
"""


class Harness:
    """The receiver app on a private event loop, its hub, and a read-only view of the DB.

    The examples of a test share one receiver (and are checked by deltas); every
    ``ROTATE_EVERY`` requests it moves to a fresh hub, so that a hub grown by thousands of
    accepted alerts does not slow the later examples down.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.loop = asyncio.new_event_loop()
        self.requests = 0
        self.generation = 0
        self.hub, self.client, self.db = self.run(self._start())

    async def _start(self) -> tuple[Hub, TestClient[Any, Any], sqlite3.Connection]:
        db_path = self.workdir / f"hub-{self.generation}.db"
        hub = open_hub(f"sqlite:///{db_path}")
        await hub.connect()
        await hub.upsert_hosts(FLEET)
        config = ReceiverConfig(credentials=Credentials(tokens=(TOKEN,)))
        client: TestClient[Any, Any] = TestClient(
            TestServer(make_app(Ingestor(hub), config), host="127.0.0.1"))
        await client.start_server()
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
        return hub, client, db

    async def _stop(self) -> None:
        self.db.close()
        await self.client.close()
        await self.hub.close()

    def rotate(self) -> None:
        """Check the receiver still answers, then continue on a fresh hub."""
        assert self.run(self.get("/healthz")) == 200, "the receiver stopped answering /healthz"
        self.run(self._stop())
        self.generation += 1
        self.hub, self.client, self.db = self.run(self._start())

    def close(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def snapshot(self) -> tuple[Any, ...]:
        """Counters that any stored alert, task, event or repeat would move."""
        row: tuple[Any, ...] = self.db.execute(SNAPSHOT_SQL).fetchone()
        return row

    async def post(self, source: str, body: Body) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if body.content_type is not None:
            headers["Content-Type"] = body.content_type
        if body.content_encoding is not None:
            headers["Content-Encoding"] = body.content_encoding
        async with self.client.post(f"/alerts/{source}", data=body.raw, headers=headers) as resp:
            return resp.status, await resp.read()

    async def get(self, path: str) -> int:
        async with self.client.get(path) as resp:
            await resp.read()
            return resp.status


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """One receiver (rotated onto fresh hubs) for all the examples of a test."""
    h = Harness(tmp_path)
    try:
        yield h
    finally:
        h.close()


def _accepted(doc: Any, payload: dict[str, Any]) -> list[Any]:
    """The alert objects of a 200's document that the receiver did not reject."""
    rejected = {r["index"] for r in payload.get("rejected", [])}
    if isinstance(doc, dict) and isinstance(doc.get("alerts"), list):
        return [a for i, a in enumerate(doc["alerts"]) if i not in rejected]
    return [doc]


def _expected_labels(source: str, alert: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """The labels a stored alert must hold, and its fingerprint (``None``: not derivable)."""
    if source in ("alertmanager", "grafana"):
        labels = dict(alert.get("labels") or {})
        return labels, None if alert.get("fingerprint") else fingerprint_of(labels)
    if source == "generic":
        labels = dict(alert.get("labels") or {})
        labels["alertname"] = alert["name"]
        for key in ("host", "severity"):
            if alert.get(key):
                labels[key] = alert[key]
        return labels, None if alert.get("fingerprint") else fingerprint_of(labels)
    # kibana: the sent labels are kept as they are; the rest is derived from rule and alert
    alert_id = (alert.get("alert") or {}).get("id") or ""
    return dict(alert.get("labels") or {}), fingerprint_of(
        {"rule": alert["rule"]["id"], "alert": alert_id})


async def _check_stored(h: Harness, source: str, body: Body, payload: dict[str, Any]) -> None:
    """Every accepted alert of a 200 is stored with the labels that were sent."""
    # what the server read (a "\\ud800\\udc00" pair is one character)
    doc = json.loads(body.plain if body.plain is not None else body.raw)
    outcomes: dict[str, int] = payload["outcomes"]
    for alert in _accepted(doc, payload):
        labels, fp = _expected_labels(source, alert)
        if fp is None or (source == "kibana" and "duplicate" in outcomes):
            continue  # an explicit fingerprint may name an earlier alert's label set
        stored = await h.hub.list_alerts(fingerprint=fp, limit=100)
        assert stored, f"accepted alert with fingerprint {fp} was not stored"
        if source == "kibana":
            assert any(labels.items() <= a.labels.items() for a in stored), \
                (labels, [a.labels for a in stored])
        else:
            assert any(a.labels == labels for a in stored), (labels, [a.labels for a in stored])


def check_body(h: Harness, source: str, body: Body) -> None:
    """The invariants, for one body."""
    before = h.snapshot()
    status, raw = h.run(h.post(source, body))
    h.requests += 1
    assert status < 500, f"{status} for {body.kind} body {body.raw[:300]!r}: {raw[:500]!r}"
    try:
        payload = json.loads(raw)
    except ValueError:
        # aiohttp refuses an encoding it cannot decode (br, zstd) before any handler runs;
        # its 400 carries the reason as text
        assert status == 400 and body.content_encoding and raw, (status, raw[:300])
        assert h.snapshot() == before, "a refused encoding changed the hub"
        return
    if currently_in_test_context():
        event(f"{body.kind}: {status} {payload.get('reason', '')}")
    if status == 200:
        assert payload["status"] == "ok" and payload["alerts"] >= 1, payload
        h.run(_check_stored(h, source, body, payload))
        after = h.snapshot()
        assert after[0] - before[0] <= payload["alerts"], (before, after, payload)
        if h.requests % ROTATE_EVERY == 0:
            h.rotate()
        return
    assert 400 <= status < 500, (status, payload)
    assert isinstance(payload.get("reason"), str) and payload["reason"], payload
    assert isinstance(payload.get("error"), str) and payload["error"], payload
    assert h.snapshot() == before, f"a {status} ({payload['reason']}) changed the hub"
    if h.requests % ROTATE_EVERY == 0:
        h.rotate()


def still_serving(h: Harness, source: str) -> None:
    """After everything, the receiver and its hub still answer, and still store."""
    assert h.run(h.get("/healthz")) == 200
    doc: dict[str, Any] = {"name": "StillAlive", "host": "web-01"}
    if source in ("alertmanager", "grafana"):
        doc = {"version": "4" if source == "alertmanager" else "1", "alerts": [
            {"status": "firing", "labels": {"alertname": "StillAlive", "instance": "web-01"}}]}
    elif source == "kibana":
        doc = {"rule": {"id": "alive", "name": "StillAlive"}, "alert": {"id": "web-01"}}
    status, raw = h.run(h.post(source, Body(json.dumps(doc).encode())))
    assert status == 200, raw


PROPERTY = settings(
    max_examples=EXAMPLES_PER_ENDPOINT, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much],
)


@pytest.mark.slow
@PROPERTY
@given(body=bodies("alertmanager"))
def test_alertmanager_endpoint_survives_hostile_bodies(harness: Harness, body: Body) -> None:
    """POST /alerts/alertmanager: never 5xx, 4xx stores nothing, 200 stores verbatim."""
    check_body(harness, "alertmanager", body)


@pytest.mark.slow
@PROPERTY
@given(body=bodies("grafana"))
def test_grafana_endpoint_survives_hostile_bodies(harness: Harness, body: Body) -> None:
    """POST /alerts/grafana: never 5xx, 4xx stores nothing, 200 stores verbatim."""
    check_body(harness, "grafana", body)


@pytest.mark.slow
@PROPERTY
@given(body=bodies("kibana"))
def test_kibana_endpoint_survives_hostile_bodies(harness: Harness, body: Body) -> None:
    """POST /alerts/kibana: never 5xx, 4xx stores nothing, 200 stores verbatim."""
    check_body(harness, "kibana", body)


@pytest.mark.slow
@PROPERTY
@given(body=bodies("generic"))
def test_generic_endpoint_survives_hostile_bodies(harness: Harness, body: Body) -> None:
    """POST /alerts/generic: never 5xx, 4xx stores nothing, 200 stores verbatim."""
    check_body(harness, "generic", body)


@pytest.mark.parametrize("source", SOURCES)
def test_receiver_still_serves_after_hostile_bodies(harness: Harness, source: str) -> None:
    """A sample of the worst bodies, then a normal alert: the server kept answering."""
    worst = [b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe\x00", b'{"a":' * 5000 + b"1" + b"}" * 5000,
             b'{"version": ' + b"9" * 50_000 + b"}", b" " * (1024 * 1024 + 1)]
    for raw in worst:
        check_body(harness, source, Body(raw))
    still_serving(harness, source)


async def test_hostile_label_values_are_data_on_both_adapters(client: Client, hub: Hub) -> None:
    """Every hostile string as a label value: stored verbatim (SQLite and PostgreSQL) or,
    when it is not text a database can hold (NUL, a lone surrogate), refused with a 422
    that stores nothing."""
    for i, value in enumerate(HOSTILE_STRINGS):
        labels = {"alertname": "Hostile", "instance": f"web-0{i % 3 + 1}:9100", "payload": value}
        doc = {"version": "4", "alerts": [{"status": "firing", "labels": labels,
                                           "startsAt": f"2026-11-27T02:{i % 60:02d}:00Z"}]}
        before = len(await hub.list_alerts(limit=1000))
        status, body = await client.post("alertmanager", raw=json.dumps(doc).encode())
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            assert (status, body["reason"]) == (422, "invalid_alerts"), (value, body)
            assert len(await hub.list_alerts(limit=1000)) == before
            continue
        assert status == 200, (value, body)
        [stored] = await hub.list_alerts(fingerprint=fingerprint_of(labels))
        assert stored.labels == labels, value
    tasks = await hub.list_tasks()
    assert {t.alertname for t in tasks} == {"Hostile"}


@pytest.mark.parametrize("source,raw,reason", [
    # A lone surrogate, escaped in valid JSON: used to crash fingerprinting with a 500.
    ("alertmanager", rb'{"version":"4","alerts":[{"status":"firing",'
                     rb'"labels":{"alertname":"X\ud800","instance":"web-01"}}]}', "invalid_alerts"),
    ("generic", rb'{"name":"Backup","host":"db-01\udfff"}', "encoding"),
    # Kibana's tags as a string went unchecked (a NUL or lone surrogate reached the hub).
    ("kibana", rb'{"rule":{"id":"r","name":"N","tags":"a\udc00"},"alert":{"id":"web-01"}}',
     "encoding"),
    ("kibana", rb'{"rule":{"id":"r","name":"N","tags":"a\u0000b"},"alert":{"id":"web-01"}}',
     "schema"),
    # A null label value was stored as "" (not what was sent).
    ("alertmanager", rb'{"version":"4","alerts":[{"status":"firing",'
                     rb'"labels":{"alertname":"X","instance":null}}]}', "invalid_alerts"),
], ids=["surrogate-label", "surrogate-host", "surrogate-tags", "nul-tags", "null-label"])
async def test_bodies_that_used_to_get_through(client: Client, hub: Hub, source: str, raw: bytes,
                                               reason: str) -> None:
    """Regression cases the properties found: each is a 422 with a reason, and stores nothing."""
    status, body = await client.post(source, raw=raw)
    assert (status, body["reason"]) == (422, reason), body
    assert body["error"]
    assert await hub.list_alerts() == [] and await hub.list_tasks() == []
