"""The journal: fsync'd, seq strictly increasing, resumable, torn lines recovered;
``tail --from N`` replays and follows with no gap and no duplicate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from runtime_helpers import REPO, agent_cmd, agent_env, sandbox, spec

from agent_runtime.journal import Journal, default_journal_dir, journal_path, read_events


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_append_writes_complete_lines_with_increasing_seq(tmp_path: Path) -> None:
    path = tmp_path / "j" / "t-1.jsonl"
    with Journal(path, "t-1") as j:
        for i in range(5):
            event = j.append("step", {"i": i})
            assert event.seq == i + 1
            # on disk (and complete) as soon as append returns
            assert lines(path)[-1]["seq"] == i + 1
    assert [e["data"]["i"] for e in lines(path)] == [0, 1, 2, 3, 4]
    assert path.read_bytes().endswith(b"\n")


def test_reopen_continues_at_last_seq_plus_one(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Journal(path, "t") as j:
        j.append("started", {})
        j.append("step", {})
    with Journal(path, "t") as j:
        assert j.next_seq == 3
        assert j.append("finished", {"outcome": "noop"}).seq == 3
    assert [e["seq"] for e in lines(path)] == [1, 2, 3]


def test_torn_last_line_is_truncated_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Journal(path, "t") as j:
        j.append("started", {})
        j.append("step", {"phase": "diagnose"})
    good = path.read_bytes()
    with open(path, "ab") as fh:  # what a kill -9 in the middle of a write leaves
        fh.write(b'{"v":1,"type":"evidence","task":"t","seq":3,"ts":1.0,"da')
    with Journal(path, "t") as j:
        assert j.recovered_bytes > 0
        assert path.read_bytes() == good
        assert j.append("evidence", {"x": 1}).seq == 3
    assert [e.seq for e in read_events(path)] == [1, 2, 3]


def test_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Journal(path, "t"), pytest.raises(RuntimeError, match="in use"):
        Journal(path, "t")


def test_default_dir_and_safe_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCM_AGENT_HOME", str(tmp_path))
    assert default_journal_dir() == tmp_path / "journal"
    assert journal_path("t/../x") == tmp_path / "journal" / "t_.._x.jsonl"
    monkeypatch.delenv("CCM_AGENT_HOME")
    assert default_journal_dir() == Path.home() / ".local/state/ccm-agent/journal"


def tail(task: str, jdir: Path, *extra: str, timeout: float = 30) -> list[dict]:
    res = subprocess.run(agent_cmd("tail", task, "--journal-dir", str(jdir), *extra),
                         capture_output=True, text=True, timeout=timeout, cwd=str(REPO),
                         env=agent_env())
    assert res.returncode == 0, res.stderr
    return [json.loads(x) for x in res.stdout.splitlines()]


def test_tail_replays_from_seq_without_following(tmp_path: Path) -> None:
    with Journal(tmp_path / "t-2.jsonl", "t-2") as j:
        for i in range(6):
            j.append("step", {"i": i})
    got = tail("t-2", tmp_path, "--from", "4", "--no-follow")
    assert [e["seq"] for e in got] == [4, 5, 6]


def test_tail_follows_until_finished(tmp_path: Path) -> None:
    path = tmp_path / "t-3.jsonl"
    proc = subprocess.Popen(agent_cmd("tail", "t-3", "--journal-dir", str(tmp_path), "--from", "2"),
                            stdout=subprocess.PIPE, text=True, cwd=str(REPO), env=agent_env())
    try:
        with Journal(path, "t-3") as j:
            for i in range(4):
                j.append("step", {"i": i})
                time.sleep(0.05)
            j.append("finished", {"outcome": "resolved"})
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0  # stopped by itself after `finished`
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [2, 3, 4, 5]


def _channel(kind: str) -> tuple[int, int]:
    """(read fd, write fd) of a pipe, or of a socket pair (sshd uses either)."""
    if kind == "pipe":
        return os.pipe()
    import socket

    a, b = socket.socketpair()
    return a.detach(), b.detach()


@pytest.mark.parametrize("kind", ["pipe", "socket"])
def test_tail_of_a_silent_agent_ends_when_its_reader_goes_away(tmp_path: Path,
                                                             kind: str) -> None:
    """The daemon that followed the journal over SSH is gone (its channel closed) and the
    agent writes nothing more: the tail no longer waits on the host for good."""
    with Journal(tmp_path / "t-4.jsonl", "t-4") as j:
        j.append("step", {"i": 0})  # no `finished`: a dead agent, or one waiting
    read_fd, write_fd = _channel(kind)
    proc = subprocess.Popen(agent_cmd("tail", "t-4", "--journal-dir", str(tmp_path)),
                            stdout=write_fd, cwd=str(REPO), env=agent_env())
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as reader:
            assert json.loads(reader.readline())["seq"] == 1
        proc.wait(timeout=20)  # before: it waited for ever
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def test_sigkill_mid_run_then_tail_gives_every_event_exactly_once(tmp_path: Path) -> None:
    """Kill -9 the agent while a fix runs; a reader that saw N events resumes with
    ``tail --from N+1`` and gets the rest: no gap, no duplicate, in order."""
    root = sandbox(tmp_path / "host")
    jdir = tmp_path / "journal"
    runbook = {
        "id": "slow-fix", "title": "slow", "risk": "low", "mode": "auto",
        "match": {"labels": ["alertname=Slow"]},
        "diagnose": [{"id": "disk", "action": "disk_usage", "params": {"path": "/"}}],
        "classify": [{"cause": "slow", "when": ["evidence.disk.total_bytes > 0"], "weight": 1.0,
                      "remediate": ["nap"]}],
        "remediate": [{"id": "nap", "action": "shell", "params": {"argv": ["sleep", "60"]}}],
        "verify": {"action": "disk_usage", "params": {"path": "/"}, "expect": ["result.used_pct < 100"]},
    }
    task = spec("t-kill", root, [runbook], {"alertname": "Slow"}, jdir)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(task))
    proc = subprocess.Popen(agent_cmd("run", "--spec", str(spec_file)), stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, cwd=str(REPO), env=agent_env(),
                            start_new_session=True)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(json.loads(line))
        if seen[-1]["type"] == "step" and seen[-1]["data"].get("step") == "nap":
            break
    os.killpg(proc.pid, signal.SIGKILL)  # the agent and its `sleep`
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    # The reader stored only part of what was printed; it resumes from there.
    stored = seen[:5]
    rest = tail("t-kill", jdir, "--from", str(stored[-1]["seq"] + 1), "--no-follow")
    replay = stored + rest
    journal = lines(jdir / "t-kill.jsonl")
    assert replay == journal  # every journaled event exactly once, in order
    assert [e["seq"] for e in replay] == list(range(1, len(journal) + 1))
    assert journal[-1]["data"].get("step") == "nap"  # nothing after the kill
    assert not any(e["type"] == "finished" for e in journal)

    # A new agent on the same task continues the journal; a follower sees no duplicate.
    with Journal(jdir / "t-kill.jsonl", "t-kill") as j:
        j.append("finished", {"outcome": "failed", "reasons": ["agent was killed"]})
    followed = tail("t-kill", jdir, "--from", "1", "--follow")
    assert [e["seq"] for e in followed] == list(range(1, len(journal) + 2))

