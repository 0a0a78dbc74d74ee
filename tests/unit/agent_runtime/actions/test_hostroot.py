"""HostRoot: path mapping, escapes, and the simulated host's quota."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent_runtime.hostroot import HostRoot, Mount, PathEscape


def test_resolve_and_to_host_round_trip(tmp_path: Path) -> None:
    root = HostRoot(str(tmp_path))
    real = root.resolve("/var/log/syslog")
    assert real == str(tmp_path / "var" / "log" / "syslog")
    assert root.to_host(real) == "/var/log/syslog"
    assert root.resolve("/") == str(tmp_path)
    assert root.to_host(str(tmp_path)) == "/"
    assert root.resolve("var/../etc") == str(tmp_path / "etc")


def test_dotdot_cannot_escape(tmp_path: Path) -> None:
    root = HostRoot(str(tmp_path))
    # normalised against the host's "/" first: it stays inside
    assert root.resolve("/../../etc/passwd") == str(tmp_path / "etc" / "passwd")


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root" / "var").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "root" / "var" / "out").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "root" / "var" / "in").symlink_to(tmp_path / "root" / "var")
    root = HostRoot(str(tmp_path / "root"))
    with pytest.raises(PathEscape):
        root.resolve("/var/out/file")
    assert root.resolve("/var/in/x") == str(tmp_path / "root" / "var" / "in" / "x")
    with pytest.raises(PathEscape):
        root.to_host(str(tmp_path / "elsewhere"))


def test_real_root_is_identity() -> None:
    root = HostRoot()
    assert root.is_real_host
    assert root.resolve("/var//log/") == "/var/log"
    assert root.to_host("/etc") == "/etc"


def test_quota_and_usage_by_walking(tmp_path: Path) -> None:
    (tmp_path / ".ccm-host.json").write_text(json.dumps({"mounts": [
        {"mount": "/", "total_bytes": 10_000, "total_inodes": 100},
        {"mount": "/data", "total_bytes": 5_000, "total_inodes": 50},
    ]}))
    (tmp_path / "var" / "log").mkdir(parents=True)
    (tmp_path / "var" / "log" / "a").write_bytes(b"x" * 1200)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "b").write_bytes(b"y" * 300)
    os.symlink("/etc/passwd", tmp_path / "var" / "link")
    root = HostRoot(str(tmp_path))
    mounts = root.quota()
    assert mounts == [Mount("/", 10_000, 100), Mount("/data", 5_000, 50)]
    assert root.mount_for("/data/b", mounts) == mounts[1]
    assert root.mount_for("/var/log", mounts) == mounts[0]
    # "/": var, var/log, var/log/a, var/link (the /data mount and the quota file left out)
    assert root.usage(mounts[0], mounts) == (1200, 4)
    assert root.usage(mounts[1], mounts) == (300, 1)


def test_no_quota_file_and_malformed_one(tmp_path: Path) -> None:
    root = HostRoot(str(tmp_path))
    assert root.quota() is None
    (tmp_path / ".ccm-host.json").write_text('{"mounts": [{"mount": "rel", "total_bytes": 1}]}')
    with pytest.raises(ValueError, match="absolute"):
        root.quota()
