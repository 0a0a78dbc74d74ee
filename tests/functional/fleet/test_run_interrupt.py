"""Ctrl-C during `ccm run` keeps what was learned: real asyncssh servers, `ccm run` as a real
process, SIGINT sent to its process group as a terminal does.

Twelve hosts, four at a time: host-00…03 answer at once (host-03 exits 3), host-04…07
start `sleep 30` once a fast host's slot frees up, host-08…11 wait for a slot. Ctrl-C
comes when every slot holds a slow host, so the fast hosts' results are in: it must
report them, the slow hosts as cut off while running, the others as not started, exit
130, record the partial run in the hub (marked interrupted) for `--retry-failed`, and
leave no process behind — with the broadcast helper and a worker, with `--procs 1`, and
with the helper turned off. A second Ctrl-C while the run is being recorded quits at
once. The report's own handling of unfinished hosts is checked without SSH at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.core.records import AuditEntry
from ccm_tui.fleet.broadcast_report import BroadcastReport, group_results
from ccm_tui.fleet.ssh_types import RunResult
from ccm_tui.hub import open_hub
from tests.support.processes import in_session
from tests.support.ssh import AsyncsshFleet, KeyFiles, write_ccm_inventory, write_known_hosts

ROOT = Path(__file__).resolve().parents[3]
FAST = ["host-00", "host-01", "host-02", "host-03"]
CUT_OFF = ["host-04", "host-05", "host-06", "host-07"]
NOT_STARTED = ["host-08", "host-09", "host-10", "host-11"]
FORKS = "4"

#: The three ways `ccm run` runs its hosts: (extra arguments, extra environment).
MODES = {
    "helper-and-worker": (["--procs", "2"], {}),
    "one-process": (["--procs", "1"], {}),
    "no-helper-one-worker": (["--procs", "2"], {"CCM_BROADCAST_HELPER": "0"}),
}


@pytest.fixture
def inventory(tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles,
              isolated_home: Path) -> Path:
    """host-00…host-11 of the session's fleet, keys trusted in ~/.ssh."""
    write_known_hosts(isolated_home / ".ssh" / "known_hosts", fleet.known_hosts_entries())
    return write_ccm_inventory(tmp_path / "inventory.yaml", fleet.hosts()[:12],
                               identity=client_key.private)


def command(marks: Path) -> str:
    """Fast hosts answer (host-03 with exit 3); slow ones leave a mark, then sleep."""
    return (f'i=$CCM_TEST_HOST_INDEX; if [ "$i" -lt 4 ]; then echo fast; '
            f'[ "$i" -lt 3 ] || exit 3; exit 0; fi; touch "{marks}/slow-$i"; exec sleep 30')


def start(inventory: Path, hub: str, marks: Path, *args: str,
          env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    marks.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "run", command(marks), "--hosts", "all",
         "--forks", FORKS, "--timeout", "60", "--inventory", str(inventory), "--hub", hub,
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, start_new_session=True)


def wait_until(proc: subprocess.Popen[str], ready: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def every_slot_slow(proc: subprocess.Popen[str], marks: Path) -> None:
    """Every slot holds a slow host: each fast host's slot was freed by its result."""
    wait_until(proc, lambda: len(list(marks.glob("slow-*"))) == len(CUT_OFF),
               "the slow hosts never started")


def first_line(proc: subprocess.Popen[str]) -> str:
    """The first line `ccm run` writes on stderr (waited for up to a minute)."""
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], 60)
    assert ready, "ccm run wrote nothing on stderr"
    return proc.stderr.readline()


def ctrl_c(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """SIGINT to the process group (what the terminal does); (status, stdout, stderr)."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out, err


def none_left(sid: int) -> bool:
    """Whether every process of the session is gone (a helper dismissed by `--procs 1`
    leaves on its own, as soon as it sees its job pipe closed)."""
    deadline = time.monotonic() + 20
    while in_session(sid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def audit(url: str) -> list[AuditEntry]:
    async def go() -> list[AuditEntry]:
        hub = open_hub(url)
        async with hub:
            return [e for e in await hub.list_audit() if e.action == "run"]
    return asyncio.run(go())


def ccm_json(inventory: Path, hub: str, *args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "ccm_tui", "run", *args, "--inventory", str(inventory),
         "--hub", hub, "--json", "--timeout", "20"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize("mode", list(MODES))
def test_ctrl_c_reports_records_and_retries_what_did_not_finish(
        mode: str, inventory: Path, url: str, tmp_path: Path) -> None:
    args, env = MODES[mode]
    proc = start(inventory, url, tmp_path / "marks", "--json", *args, env=env)
    every_slot_slow(proc, tmp_path / "marks")
    status, out, err = ctrl_c(proc)

    assert status == 130, err
    assert none_left(proc.pid)  # every worker reaped
    assert "Traceback" not in err
    assert "ccm run: Ctrl-C: no more hosts start; closing the running sessions" in err
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["recorded"] is True and doc["ok"] is False
    assert doc["summary"] == "3 identical · 1 differ · 4 cut off · 4 not started"
    assert doc["counts"]["cut_off"] == 4 and doc["counts"]["not_started"] == 4
    assert doc["counts"]["unreachable"] == 0 and doc["counts"]["failed"] == 9
    by_host = {h["host"]: h for h in doc["hosts"]}
    assert list(by_host) == FAST + CUT_OFF + NOT_STARTED  # every host, inventory order
    assert [by_host[h]["exit_status"] for h in FAST] == [0, 0, 0, 3]
    assert all(by_host[h]["stdout"] == "fast\n" and by_host[h]["error"] is None for h in FAST)
    for h in CUT_OFF:
        assert by_host[h]["error_kind"] == "interrupted" and by_host[h]["exit_status"] is None
        assert "cut off by Ctrl-C" in by_host[h]["error"]
        assert by_host[h]["error"].endswith("while running: the command may have run partly "
                                            "on this host, or still be running there")
    for h in NOT_STARTED:
        assert by_host[h]["error_kind"] == "not_started"
        assert by_host[h]["error"] == "not started: Ctrl-C came first"

    [entry] = audit(url)
    assert entry.detail["interrupted"] is True and entry.detail["summary"] == doc["summary"]
    assert entry.detail["failed"] == ["host-03", *CUT_OFF, *NOT_STARTED]

    again_status, again = ccm_json(inventory, url, "echo again", "--retry-failed")
    assert again_status == 0 and again["interrupted"] is False
    assert [h["host"] for h in again["hosts"]] == ["host-03", *CUT_OFF, *NOT_STARTED]
    assert again["summary"] == "9 identical"


def test_the_summary_names_the_hosts_cut_off_and_not_started(
        inventory: Path, url: str, tmp_path: Path) -> None:
    proc = start(inventory, url, tmp_path / "marks", "--procs", "1")
    every_slot_slow(proc, tmp_path / "marks")
    status, out, err = ctrl_c(proc)

    assert status == 130 and "Traceback" not in err, err
    lines = [line.rstrip() for line in out.splitlines()]
    assert "host-[00-02]" in lines  # the identical group, folded as in any run
    cut = next(i for i, line in enumerate(lines) if "cut off by Ctrl-C" in line)
    assert "4 hosts cut off by Ctrl-C while running: the command may have run partly on " \
        "them, or still be running" in lines[cut]
    assert lines[cut + 1] == "host-[04-07]"
    assert "4 hosts not started (Ctrl-C came first)" in lines[cut + 2]
    assert lines[cut + 3] == "host-[08-11]"
    summary = next(line for line in lines if line.startswith("3 identical"))
    assert summary.startswith("3 identical · 1 differ · 4 cut off · 4 not started  "
                              "(interrupted by Ctrl-C after ")
    assert summary.endswith("s, 12 hosts)")
    assert "  exit 3: host-03" in lines
    assert "  cut off while running: host-[04-07]" in lines
    assert "  not started: host-[08-11]" in lines
    assert "  ccm run --retry-failed runs the failed, unreachable and unfinished hosts " \
        "again" in lines
    assert audit(url)[0].detail["interrupted"] is True


@pytest.mark.parametrize("when", ["recording", "stopping"])
def test_a_second_ctrl_c_quits_at_once(
        when: str, inventory: Path, url: str, tmp_path: Path) -> None:
    """The hub is held locked by another writer, so recording waits; a second Ctrl-C
    then ends `ccm run` without waiting for the hub, quietly, with nothing recorded —
    once the broadcast is over, or right after the first one, while the helper and its
    worker are still stopping."""
    hub_file = url.removeprefix("sqlite:///")
    locker = sqlite3.connect(hub_file, isolation_level=None, timeout=0)
    locker.execute("BEGIN IMMEDIATE")
    try:
        proc = start(inventory, url, tmp_path / "marks", "--procs", "2")
        every_slot_slow(proc, tmp_path / "marks")
        os.killpg(proc.pid, signal.SIGINT)
        if when == "recording":  # the helper and its worker reaped: the hub is waited for
            wait_until(proc, lambda: in_session(proc.pid) == [proc.pid], "still broadcasting")
        else:  # the first Ctrl-C was seen (two signals at once would merge into one)
            assert first_line(proc).startswith("ccm run: Ctrl-C: no more hosts start")
        status, out, err = ctrl_c(proc)  # returns while the hub is still locked
    finally:
        locker.rollback()
        locker.close()
    assert status == 130
    assert out == "" and "Traceback" not in err
    assert err.rstrip().endswith("ccm run: stopped at once by Ctrl-C")
    assert none_left(proc.pid)
    assert audit(url) == []


@pytest.mark.parametrize(("reader", "form"), [("closed", "text"), ("closed", "--json"),
                                              ("tee", "text")])
def test_an_interrupted_run_exits_130_though_its_reader_is_gone(
        reader: str, form: str, inventory: Path, url: str, tmp_path: Path) -> None:
    """`ccm run … | tee out.txt` and Ctrl-C: the terminal's SIGINT ends tee as well, so
    the report meets a closed pipe; the run was interrupted all the same (130), not a
    `| head` that left early. "tee": a real bash pipeline, its status from PIPESTATUS;
    "closed": the reader is surely gone before the report (no race with tee's end)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    argv = [sys.executable, "-m", "ccm_tui", "run", command(marks), "--hosts", "all",
            "--forks", FORKS, "--timeout", "60", "--inventory", str(inventory), "--hub", url,
            *([form] if form == "--json" else [])]
    if reader == "tee":  # bash traps INT (and lives on) to say how the pipeline ended
        script = ('trap : INT; "$@" | tee "$OUT" >/dev/null; s=("${PIPESTATUS[@]}"); '
                  'echo "${s[@]}"')
        argv = ["bash", "-c", script, "bash", *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT),
                                 "OUT": str(tmp_path / "out.txt")})
    assert proc.stdout is not None
    if reader == "closed":
        proc.stdout.close()
    every_slot_slow(proc, marks)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if reader == "tee":
        assert out.split() == ["130", str(128 + signal.SIGINT)], err  # ccm's, tee's
    else:
        assert proc.returncode == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert "ccm run: Ctrl-C: no more hosts start" in err
    assert none_left(proc.pid)
    assert audit(url)[0].detail["interrupted"] is True


@pytest.mark.parametrize("form", ["--json", "text"])
@pytest.mark.parametrize(("command", "status", "summary"), [
    ("echo hi", 0, "3 identical"), ("echo hi; exit 3", 1, "3 identical")])
def test_a_whole_run_whose_reader_left_keeps_its_status(
        form: str, command: str, status: int, summary: str, inventory: Path,
        url: str) -> None:
    """No Ctrl-C, the reader gone before the report (`| head -0`): quietly, recorded,
    and with the run's own status in either format — 0 when every host exited 0, 1
    otherwise (it was 0 for --json and 1 for the text report, whatever the hosts did)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "run", command, "--hosts", "host-0[0-2]",
         "--inventory", str(inventory), "--hub", url, *([form] if form == "--json" else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status and not err, err
    assert audit(url)[0].detail["summary"] == summary


def test_a_stop_before_any_host_starts_none_and_one_after_the_last_changes_nothing(
        inventory: Path) -> None:
    """In one process, with the broadcast's own stop event: set before the broadcast,
    every host is reported not started; set once every host is done, the report is a
    whole one, not interrupted."""
    from ccm_tui.fleet.broadcast_workers import spread_broadcast
    from ccm_tui.fleet.inventory import load_inventory
    from ccm_tui.fleet.ssh import SSHPool

    inv = load_inventory(str(inventory), ssh_config=None)
    hosts = list(inv)[:3]

    async def go(stop_first: bool) -> BroadcastReport:
        stop = asyncio.Event()
        if stop_first:
            stop.set()
        async with SSHPool(inv) as pool:
            report = await spread_broadcast(pool, hosts, "echo hi", workers=None, forks=2,
                                            timeout=20, stop=stop)
        stop.set()
        return report

    before = asyncio.run(go(True))
    assert before.interrupted and before.summary_line() == "3 not started"
    after = asyncio.run(go(False))
    assert not after.interrupted and after.summary_line() == "3 identical" and after.ok


# -- the report, without SSH -------------------------------------------------------------------
def report(results: list[RunResult], interrupted: bool = True) -> BroadcastReport:
    return BroadcastReport("uptime", "all", tuple(results), group_results(results), 2.0,
                           interrupted=interrupted)


def test_a_report_counts_unfinished_hosts_apart_and_as_failed() -> None:
    r = report([RunResult("a", 0, "up\n"), RunResult("b", 0, "up\n"),
                RunResult("c", None, error="c: connection refused", error_kind="unreachable"),
                RunResult("d", None, duration=1.5, error="cut off by Ctrl-C after 1.5s",
                          error_kind="interrupted"),
                RunResult("e", None, error="not started: Ctrl-C came first",
                          error_kind="not_started")])
    assert r.summary_line() == "2 identical · 1 unreachable · 1 cut off · 1 not started"
    assert [x.host for x in r.unreachable] == ["c"]  # not the unfinished ones
    assert [x.host for x in r.cut_off] == ["d"] and [x.host for x in r.not_started] == ["e"]
    assert [g.hosts for g in r.groups] == [("a", "b")]
    assert r.failed_hosts() == ["c", "d", "e"] and not r.ok
    assert [x.error_label for x in r.results[3:]] == ["cut off while running", "not started"]
    doc = r.to_dict()
    assert doc["interrupted"] is True
    assert (doc["counts"]["cut_off"], doc["counts"]["not_started"], doc["counts"]["failed"],
            doc["counts"]["unreachable"]) == (1, 1, 3, 1)
    assert [h["error_kind"] for h in doc["hosts"]] == [None, None, "unreachable",
                                                       "interrupted", "not_started"]


def test_only_unfinished_hosts_still_read_as_such() -> None:
    r = report([RunResult("a", None, error="not started: Ctrl-C came first",
                          error_kind="not_started")])
    assert r.summary_line() == "1 not started" and not r.ok
    whole = report([RunResult("a", 0, "up\n")], interrupted=False)
    assert whole.to_dict()["interrupted"] is False and whole.counts()["cut_off"] == 0
