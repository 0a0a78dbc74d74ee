"""A mount that never answers (a hung NFS server) costs the probe 2 s, not the host.

Before, ``statvfs`` on such a mount blocked the agent's probe for good: CCM gave up
after 20 s and called the host unreachable (a critical HostUnreachable page) with no
figures at all. Now every mount has 2 s together; one that has not answered is
reported as not answering and the rest of the snapshot is complete.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runtime.probe import statvfs_all

REPO = Path(__file__).resolve().parents[2]


def test_a_path_that_does_not_answer_is_none_and_the_others_are_answered() -> None:
    never = threading.Event()

    def stat(path: str) -> os.statvfs_result:
        if path == "/hung":
            never.wait()  # blocks like statvfs on a dead NFS server
        return os.statvfs(path)

    try:
        answers = statvfs_all(["/", "/hung", "/no/such/mount"], timeout=0.3, stat=stat)
    finally:
        never.set()
    assert answers["/"] is not None and answers["/"].f_blocks > 0
    assert answers["/hung"] is None
    assert isinstance(answers["/no/such/mount"], FileNotFoundError)


def _fuse_usable() -> bool:
    return os.geteuid() == 0 and os.access("/dev/fuse", os.R_OK | os.W_OK)


@pytest.fixture
def hung_mount(tmp_path: Path) -> Iterator[Path]:
    """A FUSE mount whose server never answers: statvfs on it blocks until it goes."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    where = tmp_path / "nfs"
    where.mkdir()
    fd = os.open("/dev/fuse", os.O_RDWR)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"ccm-hung", str(where).encode(), b"fuse", 0, opts) != 0:
        os.close(fd)
        pytest.fail(f"mount: {os.strerror(ctypes.get_errno())}")
    try:
        yield where
    finally:
        os.close(fd)  # the blocked statvfs calls fail with ENOTCONN
        libc.umount2(str(where).encode(), 2)


@pytest.mark.skipif(not _fuse_usable(), reason="needs root and /dev/fuse for a hung mount")
def test_the_probe_reports_a_hung_mount_and_everything_else(hung_mount: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "agent_runtime", "probe"], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    [hung] = [m for m in snap["mounts"] if m["mount"] == str(hung_mount)]
    assert hung["error"].startswith("not answering: statvfs took over 2 s")
    assert "used_pct" not in hung
    [root] = [m for m in snap["mounts"] if m["mount"] == "/"]
    assert root["used_pct"] >= 0 and snap["memory"]["used_pct"] > 0
