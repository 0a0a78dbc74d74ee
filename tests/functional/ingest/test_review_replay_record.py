"""``ccm ingest record``: a night of real webhook requests written as a trace, then replayed."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
JSON = {"Content-Type": "application/json"}

pytestmark = pytest.mark.usefixtures("isolated_env")

INVENTORY = """\
hosts:
  web-01: {address: 10.0.0.1, groups: [web]}
  db-01: {address: 10.0.1.1, groups: [db]}
"""


def notification(alertname: str, instance: str, fp: str) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "ccm", "alerts": [{
        "status": "firing", "fingerprint": fp, "annotations": {},
        "labels": {"alertname": alertname, "instance": instance, "severity": "critical"},
        "startsAt": "2026-11-27T02:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}


def post(url: str, data: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start(out: Path, *args: str, append: bool = False) -> tuple[subprocess.Popen[str], str]:
    """``ccm [ARGS] ingest record OUT`` on a free port, and its base URL once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", *args, "ingest", "record", str(out),
         "--listen", "127.0.0.1:0", *(["--append"] if append else [])],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"POST (http://127\.0\.0\.1:\d+)/alerts/<source>", line)
        if found:
            return proc, found.group(1)
    proc.wait(timeout=30)
    raise AssertionError(f"ccm ingest record did not start (exit {proc.returncode})")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_recorded_requests_replay_with_the_inventory_and_without_secrets(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY)
    trace = tmp_path / "night.jsonl"
    proc, base = start(trace, "--inventory", str(inventory))
    try:
        body = json.dumps(notification("DiskFull", "web-01:9100", "a")).encode()
        assert post(f"{base}/alerts/alertmanager", body, Authorization="Bearer s3cret",
                    **{"X-Api-Key": "k3y", "Content-Type": "application/json"}) == \
            (200, {"status": "recorded"})
        assert post(f"{base}/alerts/alertmanager", body, **JSON)[0] == 200  # a re-send
        assert post(f"{base}/alerts/alertmanager",
                    json.dumps(notification("Down", "legacy-01:9100", "b")).encode(),
                    **JSON)[0] == 200
        # recorded, and refused on replay as the receiver refuses them: 400 json, 415
        assert post(f"{base}/alerts/generic", b"not json", **JSON)[0] == 200
        assert post(f"{base}/alerts/generic", b'{"name": "Form", "host": "web-01"}',
                    **{"Content-Type": "application/x-www-form-urlencoded"})[0] == 200
        status, answer = post(f"{base}/alerts/pagerduty", b"{}")
        assert (status, answer["reason"]) == (404, "unknown_endpoint")
    finally:
        err = stop(proc)
    assert f"recorded 5 requests to {trace}" in err
    text = trace.read_text()
    assert "s3cret" not in text and "k3y" not in text
    first = json.loads(text.splitlines()[0])
    assert first["endpoint"] == "inventory"
    assert {h["name"] for h in first["body"]["hosts"]} == {"web-01", "db-01"}

    done = subprocess.run([sys.executable, "-m", "ccm_tui", "ingest", "replay", str(trace),
                           "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    assert (s["requests"], s["hosts_registered"], s["duplicates"]) == (5, 2, 1)
    assert s["rejected_requests"] == {"json": 1, "content_type": 1}
    assert {(t["host"], t["managed"]) for t in s["tasks"]} == {("web-01", True),
                                                               ("legacy-01", False)}


def test_an_existing_trace_is_kept_unless_append_is_asked(tmp_path: Path) -> None:
    trace = tmp_path / "night.jsonl"
    proc, base = start(trace)
    try:
        assert post(f"{base}/alerts/generic", b'{"name": "BackupFailed", "host": "db-01"}')[0] \
            == 200
    finally:
        stop(proc)
    before = trace.read_text()
    assert json.loads(before)["endpoint"] == "generic"  # no inventory configured: no line
    again = subprocess.run([sys.executable, "-m", "ccm_tui", "ingest", "record", str(trace)],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert again.returncode == 1 and "--append" in again.stderr
    assert trace.read_text() == before
    proc, base = start(trace, append=True)
    try:
        assert post(f"{base}/alerts/generic", b'{"name": "BackupFailed", "host": "db-01"}')[0] \
            == 200
    finally:
        stop(proc)
    assert trace.read_text().startswith(before) and len(trace.read_text().splitlines()) == 2



def test_a_trace_that_cannot_be_written_is_answered_503_so_the_sender_retries() -> None:
    proc, base = start(Path("/dev/full"))  # every write: No space left on device
    try:
        request = urllib.request.Request(f"{base}/alerts/generic", method="POST",
                                         data=b'{"name": "BackupFailed", "host": "db-01"}')
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
        assert caught.value.code == 503 and caught.value.headers["Retry-After"] == "60"
        assert json.loads(caught.value.read())["reason"] == "trace_unwritable"
    finally:
        err = stop(proc)
    assert "cannot write the trace: No space left on device; answered 503" in err
    assert "recorded 0 requests to /dev/full" in err
