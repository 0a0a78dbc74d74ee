"""``ccm webhook`` on its own gives the hub the inventory's hosts.

Until the daemon ran once, a receiver started by itself knew no hosts: after
``ccm init`` then ``ccm webhook``, every alert became an unmanaged task (to be
escalated), even for a host listed in the inventory ``ccm init`` wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import aiohttp
import pytest

from ccm_tui.hub import open_hub
from tests.functional.ingest.conftest import sample
from tests.functional.ingest.test_alertmanager_e2e import processes, start_ccm_webhook
from tests.support.ssh import write_ccm_inventory

TOKEN = "inventory-test-token"


async def _post_sample(base: str, session: aiohttp.ClientSession) -> dict[str, object]:
    body = json.dumps(sample("alertmanager-0.25-firing.json")).encode()
    async with session.post(f"{base}/alerts/alertmanager", data=body, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}) as r:
        assert r.status == 200, await r.text()
        reply: dict[str, object] = await r.json()
        return reply


async def _receive_sample(tmp_path: Path, hub_url: str) -> str:
    """Start ``ccm webhook``, post the sample (an alert for web-01); its output."""
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    with processes() as procs:
        async with aiohttp.ClientSession() as session:
            base = await start_ccm_webhook(procs, session, hub_url, tmp_path, token)
            await _post_sample(base, session)
        return procs.procs[0].output(100_000)


async def test_a_host_of_the_inventory_is_managed_without_the_daemon(
        tmp_path: Path, sqlite_url: str) -> None:
    write_ccm_inventory(_config_dir(tmp_path) / "inventory.yaml",
                        [("web-01", 22), ("db-01", 22)])
    await _receive_sample(tmp_path, sqlite_url)
    async with open_hub(sqlite_url) as hub:
        tasks = await hub.list_tasks()
        hosts = {h.name for h in await hub.list_hosts()}
    assert hosts == {"web-01", "db-01"}
    assert [(t.host, t.managed) for t in tasks] == [("web-01", True)]


async def test_without_an_inventory_the_host_is_unmanaged_and_the_start_line_says_why(
        tmp_path: Path, sqlite_url: str) -> None:
    output = await _receive_sample(tmp_path, sqlite_url)
    async with open_hub(sqlite_url) as hub:
        tasks = await hub.list_tasks()
    assert [(t.host, t.managed) for t in tasks] == [("web-01", False)]
    assert "no inventory at" in output and "ccm fleet sync" in output


def _config_dir(home: Path) -> Path:
    path = home / "config" / "ccm"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_an_inventory_that_does_not_parse_stops_the_receiver_naming_the_file(
        tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ccm_tui.cli import app

    for key in [k for k in os.environ if k.startswith("CCM_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    bad = _config_dir(tmp_path) / "inventory.yaml"
    bad.write_text("hosts:\n  web-01: [unclosed\n")
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    res = CliRunner().invoke(app, ["--hub", sqlite_url, "webhook", "--listen", "127.0.0.1:0",
                                   "--token-file", str(token)])
    assert res.exit_code == 1
    assert res.stderr.startswith("ccm: error: ") and str(bad) in res.stderr, res.stderr
