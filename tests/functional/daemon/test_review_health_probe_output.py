"""``ccm fleet probe`` over real SSH when a host's probe prints something odd.

A login script that echoes a banner, or an agent of another version whose JSON has
other shapes, must not cost the rest of the fleet its probe: before, one host's
``"load": 0.5`` stopped the whole command with ``unexpected TypeError`` and nothing
was stored for any host.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from ccm_tui.daemon.probe_snapshot import snapshot_of
from ccm_tui.fleet.ssh_types import RunResult
from ccm_tui.hub import open_hub
from tests.functional.daemon.conftest import FleetEnv, make_env
from tests.support.ssh import write_ccm_inventory, write_known_hosts
from tests.unit.agent_runtime.runtime_helpers import sandbox


@pytest.fixture
async def fleet3(tmp_path: Path) -> AsyncIterator[FleetEnv]:
    async with open_hub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        e = make_env(tmp_path, hub, hosts=3)
        try:
            yield e
        finally:
            await e.close()


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


async def test_a_banner_or_odd_json_from_one_host_costs_no_other_host_its_probe(
        fleet3: FleetEnv) -> None:
    env = fleet3
    for root in env.roots.values():
        sandbox(root)
    # web-01: a login script echoes a banner before the probe's JSON.
    chatty = _script(env.tmp / "chatty-py", f"""echo 'Welcome to prod — authorised use only'
exec {sys.executable} "$@"
""")
    # web-02: an agent whose JSON has other shapes (load a number, a percentage a string).
    odd = {"cpu_pct": 12.5, "load": 0.5, "memory": {"used_pct": "97"},
           "mounts": [{"mount": "/", "used_pct": 40.0, "used_bytes": 4, "free_bytes": 6},
                      "/var", {"mount": "/data", "used_pct": "full"}],
           "failed_units": "nginx.service"}
    odd_py = _script(env.tmp / "odd-py", f"""case "$2" in probe) echo '{json.dumps(odd)}'; exit 0;; esac
exec {sys.executable} "$@"
""")
    pythons = {"web-01": str(chatty), "web-02": str(odd_py), "web-03": sys.executable}
    inv = write_ccm_inventory(
        env.tmp / "odd-inventory.yaml", [(h.name, h.port) for h in env.inventory],
        identity=env.key.private, python=sys.executable,
        labels={name: {"ccm_root": str(root)} for name, root in env.roots.items()})
    doc = yaml.safe_load(inv.read_text())
    for name, py in pythons.items():
        doc["hosts"][name]["python"] = py
    inv.write_text(yaml.safe_dump(doc))
    write_known_hosts(env.tmp / ".ssh" / "known_hosts", env.fleet.known_hosts_entries())
    hub_url = f"sqlite:///{env.tmp / 'hub.db'}"

    def probe(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ccm_tui", "--hub", hub_url, "--inventory", str(inv),
             "fleet", "probe", *extra], capture_output=True, text=True, timeout=120,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("CCM_")},
                 "HOME": str(env.tmp), "XDG_CONFIG_HOME": str(env.tmp / "config"),
                 "COLUMNS": "120"})

    out = await asyncio.to_thread(probe, "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["host"]: r for r in json.loads(out.stdout)["hosts"]}
    assert set(rows) == {"web-01", "web-02", "web-03"}
    assert rows["web-01"]["ok"] and rows["web-01"]["mem_pct"] is not None
    assert rows["web-01"]["invalid"] == [] and rows["web-01"]["disk_mount"] == "/"
    odd_row = rows["web-02"]
    assert odd_row["ok"] and odd_row["cpu_pct"] == 12.5 and odd_row["disk_pct"] == 40.0
    assert odd_row["mem_pct"] is None and odd_row["load1"] is None
    assert odd_row["failed_units"] is None  # unknown, not 13 one-letter units
    assert odd_row["invalid"] == ["memory.used_pct", "load", "mounts[1]",
                                  "mounts[2].used_pct", "failed_units"]
    assert [m["mount"] for m in odd_row["data"]["mounts"]] == ["/", "/data"]
    latest = await env.hub.latest_health()
    assert set(latest) == {"web-01", "web-02", "web-03"}
    assert latest["web-02"].cpu_pct == 12.5

    text = await asyncio.to_thread(probe, "--hosts", "web-02")
    assert text.returncode == 0, text.stderr
    [line] = [x for x in text.stdout.splitlines() if x.startswith("web-02")]
    assert line.split()[1:3] == ["yes,", "partial"]


@pytest.mark.parametrize(("stdout", "why"), [
    ("{}", "no health figures"),
    ('{"host": "web-01", "ts": 1}', "no health figures"),
    ("[1, 2]", "probe exited 0: [1, 2]"),
    ("Traceback (most recent call last):", "probe exited 0: Traceback"),
])
def test_output_with_no_figures_is_a_failed_probe_that_says_so(stdout: str, why: str) -> None:
    snap = snapshot_of("web-01", RunResult("web-01", 0, stdout), 5.0)
    assert snap.reachable and why in snap.data["error"]


def test_numbers_that_are_not_finite_figures_are_left_out() -> None:
    out = '{"cpu_pct": NaN, "memory": {"used_pct": Infinity}, "load": [true, 1, 1]}'
    snap = snapshot_of("web-01", RunResult("web-01", 0, out), 5.0)
    assert (snap.cpu_pct, snap.mem_pct, snap.load1) == (None, None, None)
    assert snap.data["invalid"] == ["cpu_pct", "memory.used_pct", "load"]
    assert "error" not in snap.data


def test_figures_in_the_right_shape_are_kept_as_they_are() -> None:
    good = {"cpu_pct": 1, "load": [0.5, 0.4, 0.3], "memory": {"used_pct": 50},
            "mounts": [{"mount": "/", "used_pct": 91.0}], "failed_units": []}
    snap = snapshot_of("web-01", RunResult("web-01", 0, json.dumps(good)), 5.0)
    assert (snap.cpu_pct, snap.mem_pct, snap.disk_pct, snap.load1) == (1.0, 50.0, 91.0, 0.5)
    assert "invalid" not in snap.data and snap.data["failed_units"] == []


def test_process_lists_in_the_wrong_shape_and_a_stray_invalid_key_are_dropped() -> None:
    out = json.dumps({"cpu_pct": 3.0, "top_mem": ["java"], "top_cpu": [{"pid": 1}],
                      "invalid": "yes"})
    snap = snapshot_of("web-01", RunResult("web-01", 0, out), 5.0)
    assert "top_mem" not in snap.data and snap.data["top_cpu"] == [{"pid": 1}]
    assert snap.data["invalid"] == ["top_mem"]
    clean = snapshot_of("web-01", RunResult("web-01", 0, json.dumps(
        {"cpu_pct": 3.0, "invalid": ["made", "up"]})), 5.0)
    assert "invalid" not in clean.data
