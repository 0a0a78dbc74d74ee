"""disk_usage (statvfs and simulated quota), largest, inode_usage."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from agent_runtime.actions import ActionContext, run_action
from agent_runtime.hostroot import HostRoot


def _quota_root(tmp_path: Path) -> Path:
    (tmp_path / ".ccm-host.json").write_text(json.dumps(
        {"mounts": [{"mount": "/", "total_bytes": 100_000, "total_inodes": 40}]}))
    logs = tmp_path / "var" / "log"
    logs.mkdir(parents=True)
    for i in range(4):
        (logs / f"app{i}.log").write_bytes(b"x" * 23_000)  # 92 % of the quota
    return tmp_path


def test_disk_usage_with_quota_file(tmp_path: Path) -> None:
    root = _quota_root(tmp_path)
    res = run_action("disk_usage", {"path": "/var/log"}, ActionContext(root=HostRoot(str(root))))
    assert res.ok
    assert res.data == {
        "mount": "/", "total_bytes": 100_000, "used_bytes": 92_000, "free_bytes": 8_000,
        "used_pct": 92.0, "inodes_total": 40, "inodes_used": 6, "inodes_pct": 15.0,
        "simulated": True,
    }
    for p in (root / "var" / "log").iterdir():
        p.unlink()
    again = run_action("disk_usage", {}, ActionContext(root=HostRoot(str(root))))
    assert again.data["used_bytes"] == 0 and again.data["inodes_used"] == 2


def test_disk_usage_statvfs(tmp_path: Path) -> None:
    res = run_action("disk_usage", {"path": "/"}, ActionContext(root=HostRoot(str(tmp_path))))
    sv = os.statvfs(tmp_path)
    assert res.ok and res.data["simulated"] is False
    assert res.data["total_bytes"] == sv.f_blocks * sv.f_frsize
    assert 0 <= res.data["used_pct"] <= 100
    assert res.data["mount"].startswith("/")
    assert set(res.data) >= {"mount", "total_bytes", "used_bytes", "free_bytes", "used_pct",
                             "inodes_total", "inodes_used", "inodes_pct"}


def test_largest_files_and_dirs(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "big").write_bytes(b"1" * 5000)
    (tmp_path / "a" / "b" / "mid").write_bytes(b"1" * 3000)
    (tmp_path / "small").write_bytes(b"1" * 10)
    (tmp_path / "a" / "link").symlink_to(tmp_path / "a" / "big")
    ctx = ActionContext(root=HostRoot(str(tmp_path)))
    files = run_action("largest", {"path": "/", "limit": 2}, ctx)
    assert files.data["items"] == [{"path": "/a/big", "bytes": 5000}, {"path": "/a/b/mid", "bytes": 3000}]
    dirs = run_action("largest", {"path": "/", "kind": "dirs"}, ctx)
    assert dirs.data["items"] == [{"path": "/a", "bytes": 8000}, {"path": "/a/b", "bytes": 3000}]
    big = run_action("largest", {"path": "/", "min_bytes": 4000}, ctx)
    assert [i["path"] for i in big.data["items"]] == ["/a/big"]


def test_inode_usage_finds_the_crowded_directory(tmp_path: Path) -> None:
    sessions = tmp_path / "var" / "lib" / "php" / "sessions"
    sessions.mkdir(parents=True)
    for i in range(120):
        (sessions / f"sess_{i}").touch()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").touch()
    res = run_action("inode_usage", {"path": "/", "limit": 3}, ActionContext(root=HostRoot(str(tmp_path))))
    assert res.ok
    assert res.data["items"][0] == {"path": "/var/lib/php/sessions", "files": 120, "total": 120}
    assert res.data["total"] == 120 + 4 + 2


def test_cleaning_old_logs_frees_the_simulated_quota(tmp_path: Path) -> None:
    root = _quota_root(tmp_path)
    old = time.time() - 8 * 86400
    for p in (root / "var" / "log").iterdir():
        os.utime(p, (old, old))
    ctx = ActionContext(root=HostRoot(str(root)))
    assert run_action("disk_usage", {}, ctx).data["used_pct"] == 92.0
    res = run_action("clean_files", {"path": "/", "patterns": ["*"], "older_than_days": 7}, ctx)
    assert res.ok and res.data["bytes_freed"] == 92_000 and res.data["count"] == 4
    assert (root / ".ccm-host.json").exists()  # the simulated host's disk table is never cleaned
    after = run_action("disk_usage", {}, ctx)
    assert after.data["used_bytes"] == 0 and after.data["used_pct"] == 0.0
