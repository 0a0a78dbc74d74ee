"""A real receiver on a loopback port in front of a real hub, and an HTTP client."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ccm_tui.core import Host
from ccm_tui.hub import Hub, TaskQuery
from ccm_tui.ingest.auth import Credentials
from ccm_tui.ingest.server import ReceiverConfig
from ccm_tui.ingest.service import RunningReceiver, start_receiver

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"
FLEET = [Host(f"web-0{i}", f"10.0.0.{i}", groups=("web",)) for i in range(1, 4)] + [
    Host("db-01", "10.0.1.1", groups=("db",)), Host("app-12", "10.0.2.12", groups=("app",))]


def sample(name: str) -> dict[str, Any]:
    path = SAMPLES / name
    if not path.exists():  # a clean clone of the repo alone: the samples are vendored too
        path = Path(__file__).resolve().parent / "samples" / name
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def am(alertname: str = "DiskFull", instance: str = "web-01:9100", status: str = "firing",
       fp: str = "fp-1", starts: str = "2026-11-27T02:00:00.123456789Z", **labels: str
       ) -> dict[str, Any]:
    """An Alertmanager notification (the 0.25 sample) holding one alert."""
    doc = copy.deepcopy(sample("alertmanager-0.25-firing.json"))
    alert = doc["alerts"][0]
    alert["labels"] = {"alertname": alertname, "instance": instance, "severity": "critical",
                       **labels}
    alert.update(status=status, fingerprint=fp, startsAt=starts)
    if status == "resolved":
        alert["endsAt"] = "2026-11-27T02:05:00Z"
    doc["status"] = status
    return doc


@dataclass
class Client:
    receiver: RunningReceiver
    session: aiohttp.ClientSession
    token: str | None = "s3cret-token"
    calls: list[int] = field(default_factory=list)

    async def post(self, endpoint: str, body: Any = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None, auth: bool = True
                   ) -> tuple[int, dict[str, Any]]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if auth and self.token:
            hdrs.setdefault("Authorization", f"Bearer {self.token}")
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(f"{self.receiver.url}/alerts/{endpoint}", data=data,
                                     headers=hdrs) as resp:
            payload = await resp.json(content_type=None)
            self.calls.append(resp.status)
            return resp.status, payload

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(f"{self.receiver.url}{path}") as resp:
            return resp.status, await resp.text()


async def tasks(hub: Hub) -> list[Any]:
    """Every task in the hub."""
    return await hub.list_tasks(TaskQuery())


async def make_client(hub: Hub, config: ReceiverConfig | None = None, **kw: Any
                      ) -> tuple[RunningReceiver, aiohttp.ClientSession]:
    receiver = await start_receiver(hub, "127.0.0.1:0", config, **kw)
    return receiver, aiohttp.ClientSession()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[Client]:
    await hub.upsert_hosts(FLEET)
    cfg = ReceiverConfig(credentials=Credentials(tokens=("s3cret-token",),
                                                 basic=(("am", "pw"),)))
    receiver, session = await make_client(hub, cfg)
    try:
        yield Client(receiver, session)
    finally:
        await session.close()
        await receiver.stop()
