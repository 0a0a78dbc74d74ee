"""find_files, clean_files and compress_files on real sandboxes (tmp_path)."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest

from agent_runtime.actions import ActionContext, ActionError, run_action
from agent_runtime.hostroot import HostRoot

DAY = 86400


def _write(path: Path, size: int, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    t = time.time() - age_days * DAY
    os.utime(path, (t, t))
    return path


@pytest.fixture()
def sandbox(tmp_path: Path) -> dict[str, Path]:
    """A host root with old and new logs, plus a symlink to an outside directory."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    _write(outside / "victim-old.log", 500, 30)
    _write(outside / "deep" / "victim2.log", 700, 30)
    logs = root / "var" / "log"
    _write(logs / "app" / "old1.log", 1000, 10)
    _write(logs / "app" / "old2.log", 2000, 9)
    _write(logs / "app" / "new.log", 3000, 1)
    _write(logs / "app" / "old.txt", 4000, 20)  # does not match *.log
    _write(logs / "nginx" / "access.log.1", 5000, 15)
    (logs / "escape").symlink_to(outside, target_is_directory=True)
    (logs / "app" / "linked.log").symlink_to(outside / "victim-old.log")
    return {"root": root, "outside": outside, "logs": logs}


def _ctx(root: Path, dry_run: bool = False) -> ActionContext:
    return ActionContext(root=HostRoot(str(root)), dry_run=dry_run)


def _outside_files(outside: Path) -> list[str]:
    return sorted(str(p) for p in outside.rglob("*"))


def test_clean_files_dry_run_matches_real_run_and_never_leaves_path(sandbox: dict[str, Path]) -> None:
    params = {"path": "/var/log", "patterns": ["*.log", "*.log.*"], "older_than_days": 7}
    before_outside = _outside_files(sandbox["outside"])

    dry = run_action("clean_files", params, _ctx(sandbox["root"], dry_run=True))
    assert dry.ok and dry.dry_run and not dry.changed
    assert (sandbox["logs"] / "app" / "old1.log").exists()  # nothing deleted

    real = run_action("clean_files", params, _ctx(sandbox["root"]))
    assert real.ok and real.changed and not real.dry_run

    expected = [
        {"path": "/var/log/app/old1.log", "bytes": 1000},
        {"path": "/var/log/app/old2.log", "bytes": 2000},
        {"path": "/var/log/nginx/access.log.1", "bytes": 5000},
    ]
    assert dry.data["deleted"] == expected
    assert real.data["deleted"] == expected
    assert dry.data["bytes_freed"] == real.data["bytes_freed"] == 8000
    assert dry.data["count"] == real.data["count"] == 3
    # the newer log and the non-matching file survive; the links are reported as skipped
    assert (sandbox["logs"] / "app" / "new.log").exists()
    assert (sandbox["logs"] / "app" / "old.txt").exists()
    assert not (sandbox["logs"] / "app" / "old1.log").exists()
    skipped = {s["path"] for s in real.data["skipped"]}
    assert {"/var/log/escape", "/var/log/app/linked.log"} <= skipped
    # nothing outside the root was touched, through either symlink
    assert _outside_files(sandbox["outside"]) == before_outside
    assert (sandbox["logs"] / "app" / "linked.log").is_symlink()


def test_clean_files_through_a_symlinked_path_param_is_refused(sandbox: dict[str, Path]) -> None:
    params = {"path": "/var/log/escape", "patterns": ["*"], "older_than_days": 0}
    with pytest.raises(ActionError, match="escapes the host root"):
        run_action("clean_files", params, _ctx(sandbox["root"]))
    assert (sandbox["outside"] / "victim-old.log").exists()


def test_clean_files_respects_allowed_roots(sandbox: dict[str, Path]) -> None:
    params = {"path": "/var/log", "patterns": ["*.log"], "older_than_days": 7,
              "allowed_roots": ["/tmp"]}
    with pytest.raises(ActionError, match="outside allowed_roots"):
        run_action("clean_files", params, _ctx(sandbox["root"]))
    params["allowed_roots"] = ["/var/log/app"]
    with pytest.raises(ActionError, match="outside allowed_roots"):
        run_action("clean_files", params, _ctx(sandbox["root"]))
    params["path"] = "/var/log/app"
    res = run_action("clean_files", params, _ctx(sandbox["root"]))
    assert res.ok and res.data["count"] == 2
    assert (sandbox["logs"] / "nginx" / "access.log.1").exists()


def test_clean_files_requires_patterns(sandbox: dict[str, Path]) -> None:
    with pytest.raises(ActionError, match="patterns"):
        run_action("clean_files", {"path": "/var/log", "patterns": [], "older_than_days": 1},
                   _ctx(sandbox["root"]))


def test_find_files_lists_matches_with_age(sandbox: dict[str, Path]) -> None:
    res = run_action("find_files", {"path": "/var/log", "patterns": ["*.log"], "older_than_days": 5},
                     _ctx(sandbox["root"]))
    assert res.ok
    assert [f["path"] for f in res.data["files"]] == ["/var/log/app/old1.log", "/var/log/app/old2.log"]
    assert res.data["total_bytes"] == 3000
    assert 9.9 < res.data["files"][0]["age_days"] < 10.1


def test_find_files_in_a_folder_the_host_lacks_finds_nothing(sandbox: dict[str, Path]) -> None:
    res = run_action("find_files", {"path": "/var/backups", "patterns": ["*.tar"]},
                     _ctx(sandbox["root"]))
    assert res.ok and res.summary == "no /var/backups here: nothing to find"
    assert res.data["count"] == 0 and res.data["missing"] is True
    with pytest.raises(ActionError, match="older_than_days"):  # bad input stays bad input
        run_action("find_files", {"path": "/var/backups", "older_than_days": -1},
                   _ctx(sandbox["root"]))
    (sandbox["root"] / "var" / "backups").write_text("a file, not a folder")
    with pytest.raises(ActionError, match="is not a directory"):
        run_action("find_files", {"path": "/var/backups"}, _ctx(sandbox["root"]))


def test_compress_files_exact_bytes_and_valid_gzip(tmp_path: Path) -> None:
    root = tmp_path / "root"
    backups = root / "srv" / "backup"
    payload_a = (b"line of a very compressible backup\n" * 5000)
    payload_b = os.urandom(4096)
    _write(backups / "a.sql", 0, 0).write_bytes(payload_a)
    _write(backups / "b.dump", 0, 0).write_bytes(payload_b)
    for p in (backups / "a.sql", backups / "b.dump"):
        t = time.time() - 40 * DAY
        os.utime(p, (t, t))
    _write(backups / "c.sql.gz", 100, 40)  # already compressed: skipped
    _write(backups / "fresh.sql", 100, 1)  # too new
    params = {"path": "/srv/backup", "patterns": ["*.sql", "*.dump", "*.gz"], "older_than_days": 30}

    dry = run_action("compress_files", params, _ctx(root, dry_run=True))
    assert dry.ok and dry.dry_run and not dry.changed
    assert not (backups / "a.sql.gz").exists() and (backups / "a.sql").exists()

    res = run_action("compress_files", params, _ctx(root))
    assert res.ok and res.changed
    a_gz, b_gz = backups / "a.sql.gz", backups / "b.dump.gz"
    assert not (backups / "a.sql").exists() and not (backups / "b.dump").exists()
    assert gzip.decompress(a_gz.read_bytes()) == payload_a
    assert gzip.decompress(b_gz.read_bytes()) == payload_b
    before = len(payload_a) + len(payload_b)
    after = a_gz.stat().st_size + b_gz.stat().st_size
    assert res.data["bytes_before"] == before
    assert res.data["bytes_after"] == after
    assert res.data["bytes_freed"] == before - after
    assert res.data["count"] == 2
    assert [c["path"] for c in res.data["compressed"]] == ["/srv/backup/a.sql", "/srv/backup/b.dump"]
    # the dry run predicted exactly the same sizes
    assert dry.data == res.data
    assert {"path": "/srv/backup/c.sql.gz", "reason": "already gzip"} in res.data["skipped"]
    assert (backups / "fresh.sql").exists()
    # mtime preserved, no temporary files left behind
    assert abs(a_gz.stat().st_mtime - (time.time() - 40 * DAY)) < 5
    assert sorted(p.name for p in backups.iterdir()) == ["a.sql.gz", "b.dump.gz", "c.sql.gz", "fresh.sql"]


def test_compress_files_never_clobbers_an_existing_gz(tmp_path: Path) -> None:
    root = tmp_path / "root"
    d = root / "data"
    _write(d / "x.log", 1000, 10)
    _write(d / "x.log.gz", 10, 10)
    res = run_action("compress_files", {"path": "/data", "patterns": ["x.log"], "older_than_days": 1},
                     _ctx(root))
    assert res.data["count"] == 0
    assert res.data["skipped"] == [{"path": "/data/x.log", "reason": "target .gz already exists"}]
    assert (d / "x.log").stat().st_size == 1000 and (d / "x.log.gz").stat().st_size == 10


def test_delete_is_pinned_to_the_scanned_directory(tmp_path: Path) -> None:
    """A parent swapped for a symlink after the scan cannot redirect the delete outside."""
    from agent_runtime.actions.files import _unlink_inside

    top = tmp_path / "root" / "var" / "log"
    victim = _write(tmp_path / "outside" / "app" / "x.log", 10, 30)
    scanned = _write(top / "app" / "x.log", 10, 30)
    st = os.lstat(scanned)
    os.rename(top / "app", top / "app.moved")
    (top / "app").symlink_to(victim.parent, target_is_directory=True)
    (top / "deeper").mkdir()
    (top / "deeper" / "via").symlink_to(victim.parent.parent, target_is_directory=True)
    assert _unlink_inside(str(scanned), st, str(top)) != ""
    assert _unlink_inside(str(top / "deeper" / "via" / "app" / "x.log"), st, str(top)) != ""
    assert victim.exists() and (top / "app.moved" / "x.log").exists()
    st2 = os.lstat(top / "app.moved" / "x.log")
    assert _unlink_inside(str(top / "app.moved" / "x.log"), st2, str(top)) == ""
    assert not (top / "app.moved" / "x.log").exists()
