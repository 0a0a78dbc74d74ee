"""``agent_runtime probe``: one JSON health snapshot, real host and simulated root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent_runtime.probe import main

REPO = Path(__file__).resolve().parents[3]

PROC_KEYS = {"pid", "name", "cmdline", "cpu_pct", "rss_bytes", "mem_pct", "unit"}
MOUNT_KEYS = {"mount", "total_bytes", "used_bytes", "free_bytes", "used_pct", "inodes_total",
              "inodes_used", "inodes_pct", "fstype"}


def _check_shape(snap: dict[str, Any]) -> None:
    assert isinstance(snap["host"], str) and snap["host"]
    assert abs(snap["ts"] - time.time()) < 60
    assert 0.0 <= snap["cpu_pct"] <= 100.0
    assert len(snap["load"]) == 3 and snap["cores"] >= 1
    assert snap["memory"]["total_bytes"] > 0 and 0 <= snap["memory"]["used_pct"] <= 100
    assert set(snap["swap"]) == {"total_bytes", "used_bytes", "used_pct"}
    assert snap["mounts"] and all(set(m) >= MOUNT_KEYS for m in snap["mounts"])
    assert snap["failed_units"] is None or isinstance(snap["failed_units"], list)
    for key in ("top_cpu", "top_mem"):
        assert 1 <= len(snap[key]) <= 5 and all(set(p) == PROC_KEYS for p in snap[key])
    assert snap["uptime_s"] is None or snap["uptime_s"] > 0
    assert snap["probe_ms"] > 0


def test_probe_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    snap = json.loads(out)
    _check_shape(snap)
    fstypes = {m["fstype"] for m in snap["mounts"]}
    assert not fstypes & {"proc", "sysfs", "cgroup2", "devpts", "tmpfs"}
    rss = [p["rss_bytes"] for p in snap["top_mem"]]
    assert rss == sorted(rss, reverse=True)
    print(f"probe_ms={snap['probe_ms']}", file=sys.stderr)


def test_probe_with_simulated_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".ccm-host.json").write_text(json.dumps({"mounts": [
        {"mount": "/", "total_bytes": 10_000, "total_inodes": 100},
        {"mount": "/var", "total_bytes": 1_000, "total_inodes": 10}]}))
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "big").write_bytes(b"x" * 920)
    assert main(["--root", str(tmp_path)]) == 0
    snap = json.loads(capsys.readouterr().out)
    _check_shape(snap)
    var = next(m for m in snap["mounts"] if m["mount"] == "/var")
    assert var["used_bytes"] == 920 and var["used_pct"] == 92.0 and var["fstype"] == "simulated"
    root = next(m for m in snap["mounts"] if m["mount"] == "/")
    assert root["used_bytes"] == 0


def test_probe_bad_root(tmp_path: Path) -> None:
    assert main(["--root", str(tmp_path / "nope")]) == 2


def test_probe_as_a_process() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "import sys; from agent_runtime.probe import main; "
                           "sys.exit(main(sys.argv[1:]))"], capture_output=True, text=True,
                          env=env, cwd=str(REPO), timeout=30)
    wall_ms = (time.monotonic() - t0) * 1000
    assert proc.returncode == 0, proc.stderr
    snap = json.loads(proc.stdout)
    _check_shape(snap)
    # measured, not asserted: see the report
    print(f"probe process wall={wall_ms:.0f} ms, in-probe={snap['probe_ms']} ms", file=sys.stderr)


def test_a_simulated_root_reports_the_memory_it_declares(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gib = 1024 ** 3
    (tmp_path / ".ccm-host.json").write_text(json.dumps({
        "mounts": [{"mount": "/", "total_bytes": 10_000, "total_inodes": 100}],
        "memory": {"total_bytes": 8 * gib, "used_bytes": 6 * gib}}))
    assert main(["--root", str(tmp_path)]) == 0
    snap = json.loads(capsys.readouterr().out)
    assert snap["memory"] == {"total_bytes": 8 * gib, "available_bytes": 2 * gib,
                              "used_pct": 75.0}
    assert snap["swap"] == {"total_bytes": 0, "used_bytes": 0, "used_pct": 0.0}


def test_a_malformed_memory_declaration_is_an_error_not_a_guess(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".ccm-host.json").write_text(json.dumps({
        "mounts": [{"mount": "/", "total_bytes": 10_000}], "memory": {"total_bytes": "8G"}}))
    assert main(["--root", str(tmp_path)]) == 1
    err = json.loads(capsys.readouterr().err)
    assert err == {"error": ".ccm-host.json: memory.total_bytes must be an integer >= 0"}


def test_a_simulated_root_reports_the_cpu_it_declares(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quota = tmp_path / ".ccm-host.json"
    mounts = [{"mount": "/", "total_bytes": 10_000}]
    quota.write_text(json.dumps({"mounts": mounts, "cpu": {"pct": 41.26, "load": [1.6, 1.2, 1]}}))
    assert main(["--root", str(tmp_path)]) == 0
    snap = json.loads(capsys.readouterr().out)
    assert (snap["cpu_pct"], snap["load"]) == (41.3, [1.6, 1.2, 1.0])
    for bad, reason in (({"pct": 140, "load": [1, 1, 1]}, "cpu.pct must be a number from 0 to 100"),
                        ({"pct": 5, "load": [1, 1]}, "cpu.load must be three numbers >= 0")):
        quota.write_text(json.dumps({"mounts": mounts, "cpu": bad}))
        assert main(["--root", str(tmp_path)]) == 1
        assert json.loads(capsys.readouterr().err) == {"error": f".ccm-host.json: {reason}"}


DOCKER_HOST_MOUNTS = """\
/dev/nvme0n1p1 / ext4 rw,relatime,discard,errors=remount-ro 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,size=1599112k,mode=755 0 0
/dev/nvme1n1 /var/lib/docker ext4 rw,relatime 0 0
overlay /var/lib/docker/overlay2/5f0c1e/merged overlay rw,relatime,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/var/lib/docker/overlay2/5f0c1e/diff,workdir=/var/lib/docker/overlay2/5f0c1e/work 0 0
overlay /var/lib/docker/overlay2/9ab3d2/merged overlay rw,relatime,lowerdir=/var/lib/docker/overlay2/l/C,upperdir=/var/lib/docker/overlay2/9ab3d2/diff,workdir=/var/lib/docker/overlay2/9ab3d2/work 0 0
nsfs /run/docker/netns/1c2d3e nsfs rw 0 0
shm /var/lib/docker/containers/5f0c1e/mounts/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k 0 0
/dev/nvme1n1 /srv/data\\040backups ext4 rw,relatime 0 0
server:/export /mnt/nfs nfs4 rw,relatime 0 0
"""


def test_a_docker_host_reports_each_disk_once_not_once_per_container() -> None:
    from agent_runtime.probe import real_mounts

    assert real_mounts(DOCKER_HOST_MOUNTS) == [
        ("/dev/nvme0n1p1", "/", "ext4"), ("/dev/nvme1n1", "/var/lib/docker", "ext4"),
        ("server:/export", "/mnt/nfs", "nfs4")]
    # A host (or a container) whose root itself is an overlay keeps it.
    assert real_mounts("overlay / overlay rw,relatime 0 0\n") == [("overlay", "/", "overlay")]
