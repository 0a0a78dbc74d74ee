"""`ccm run` against more hosts than the open-file limit allows: CCM raises its soft
limit as it starts, and when even the hard limit runs out the hosts beyond it say so,
with the remedy, instead of reading "unreachable" — or, without USER in the
environment, the whole run ending in "unexpected ValueError" (asyncssh's passwd
lookup failing for want of a descriptor)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.open_files import TARGET, raise_limit
from tests.support.ssh import AsyncsshFleet, KeyFiles, write_ccm_inventory, write_known_hosts

ROOT = Path(__file__).resolve().parents[3]
HOSTS = 20


@pytest.fixture
def inventory(tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles,
              isolated_home: Path) -> Path:
    write_known_hosts(isolated_home / ".ssh" / "known_hosts", fleet.known_hosts_entries())
    return write_ccm_inventory(tmp_path / "inventory.yaml", fleet.hosts()[:HOSTS],
                               identity=client_key.private)


def limited(soft: int, hard: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return apply


def ccm_run(inventory: Path, soft: int, hard: int) -> tuple[int, dict[str, Any], str]:
    """``ccm run`` in one process (no helper, no workers) under an open-file limit,
    with no user name in the environment (the passwd file is where it is found)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("USER", "LOGNAME", "LNAME", "USERNAME")}
    env.update(PYTHONPATH=str(ROOT), CCM_BROADCAST_HELPER="0")
    proc = subprocess.run(
        [sys.executable, "-m", "ccm_tui", "run", "echo ok", "--hosts", "all", "--procs", "1",
         "--inventory", str(inventory), "--json", "--timeout", "20"],
        capture_output=True, text=True, timeout=180, cwd=ROOT, env=env,
        preexec_fn=limited(soft, hard))
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def test_a_low_soft_limit_is_raised_so_every_host_is_reached(inventory: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    rc, doc, err = ccm_run(inventory, 24, hard)  # 24: fewer than the run needs
    assert rc == 0, err
    assert doc["counts"]["ok"] == HOSTS


def test_hosts_beyond_the_hard_limit_say_so_with_the_remedy(inventory: Path) -> None:
    rc, doc, err = ccm_run(inventory, 16, 16)
    assert rc == 1, err
    assert "unexpected" not in err
    failed = [h for h in doc["hosts"] if not h["ok"]]
    assert failed, "the limit should have stopped some hosts"
    for h in failed:
        assert "ran out of open files (16 per process)" in h["error"], h
        assert "ulimit -n" in h["error"]
        assert "unreachable" not in h["error"]
    assert doc["counts"]["ok"] + len(failed) == HOSTS


def test_raise_limit_lifts_the_soft_limit_to_the_hard_one_and_never_lowers_it() -> None:
    script = ("import resource; from ccm_tui.open_files import raise_limit; "
              "print(raise_limit()); print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT, preexec_fn=limited(64, hard)).stdout.split("\n")
    wanted = TARGET if hard == resource.RLIM_INFINITY else min(TARGET, hard)
    assert out[:2] == [str((64, wanted)), str(wanted)]
    # a soft limit already above the target stays as it is
    if hard == resource.RLIM_INFINITY or hard > TARGET:
        above = TARGET + 1
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, cwd=ROOT,
                             preexec_fn=limited(above, hard)).stdout.split("\n")
        assert out[:2] == ["None", str(above)]
    assert raise_limit(1) is None  # never lowers this process's own limit
