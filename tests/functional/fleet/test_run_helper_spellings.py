"""`ccm run --procs 1` forks no broadcast helper, however the option is spelled.

The helper is forked before the command line is parsed (:mod:`ccm_tui.fleet.broadcast_helper`),
so its choice reads ``sys.argv`` itself: `--procs 1` and `--procs=1` must read alike.
`ccm run` runs as a real process against the test fleet; while its one host is busy, the
processes of its session are counted (a helper dismissed early would still be there:
alive, or a zombie its parent has not reaped).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ccm_tui.fleet.broadcast_helper import wanted
from tests.support.processes import in_session
from tests.support.ssh import AsyncsshFleet, KeyFiles, write_ccm_inventory, write_known_hosts

ROOT = Path(__file__).resolve().parents[3]
HOST = 13  #: the one host, of the session's fleet


@pytest.fixture
def inventory(tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles,
              isolated_home: Path) -> Path:
    write_known_hosts(isolated_home / ".ssh" / "known_hosts", fleet.known_hosts_entries())
    return write_ccm_inventory(tmp_path / "inventory.yaml", fleet.hosts()[HOST:HOST + 1],
                               identity=client_key.private)


def _processes_while_busy(inventory: Path, tmp_path: Path, *procs: str) -> list[int]:
    """The pids of `ccm run`'s session while its host runs the command (then let go)."""
    busy, done = tmp_path / "busy", tmp_path / "done"
    cmd = f'touch "{busy}"; while [ ! -e "{done}" ]; do sleep 0.05; done; echo ok'
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "run", cmd, "--hosts", "all", *procs,
         "--inventory", str(inventory), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not busy.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        pids = in_session(proc.pid)
        done.touch()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        return pids
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("procs", [["--procs", "1"], ["--procs=1"],
                                   ["--procs", "4", "--forks", "3", "--procs", "1"]])
def test_procs_1_forks_no_helper_in_any_spelling(
        procs: list[str], inventory: Path, tmp_path: Path) -> None:
    pids = _processes_while_busy(inventory, tmp_path, *procs)
    assert len(pids) == 1, f"ccm run {' '.join(procs)} started another process: {pids}"


def test_without_procs_the_helper_is_there_to_be_seen(inventory: Path, tmp_path: Path) -> None:
    """The observation above can see a helper: without --procs, on two CPUs or more, the
    helper runs the broadcast (one CPU: no helper at all)."""
    helpers = 1 if len(os.sched_getaffinity(0)) >= 2 else 0
    assert len(_processes_while_busy(inventory, tmp_path)) == 1 + helpers


def test_which_spellings_of_procs_skip_the_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    for no in (["run", "x", "--procs", "1"], ["run", "x", "--procs=1"],
               ["run", "--procs", "1", "x"], ["run", "x", "--procs", "01"],
               ["run", "x", "--procs", "3", "--procs", "1"],  # the last one wins
               ["run", "x", "-h"], ["-h", "run", "x"],
               ["run", "x", "--procs"], ["run", "x", "--procs", "many"]):  # usage errors
        assert not wanted(no), no
    for yes in (["run", "x", "--procs", "2"], ["run", "x", "--procs=1", "--procs", "2"],
                ["run", "x", "--hosts", "--procs", "1"],  # a host pattern, then an argument
                ["run", "--", "--procs=1"],  # the command itself
                ["run", "x", "--forks", "1"]):
        assert wanted(yes), yes
