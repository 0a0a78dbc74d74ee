"""run_action: the registry, parameter validation and the dry-run contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_runtime.actions import (
    ACTIONS,
    ActionContext,
    ActionError,
    ActionResult,
    describe,
    run_action,
)
from agent_runtime.actions.base import parse_param_type
from agent_runtime.hostroot import HostRoot


def test_every_action_is_documented_and_typed() -> None:
    assert {"disk_usage", "largest", "find_files", "inode_usage", "service_status", "log_tail",
            "log_grep", "journal_tail", "journal_grep", "top_processes", "memory_usage",
            "http_check", "tcp_check", "tcp_connections", "tls_cert_expiry", "zombie_processes",
            "logrotate_check", "clean_files", "compress_files", "logrotate_force",
            "service_restart", "kill_process", "package_update", "shell"} <= set(ACTIONS)
    for name, spec in ACTIONS.items():
        assert spec.name == name and spec.doc, name
        for decl in spec.params.values():
            parse_param_type(decl)
    changing = {n for n, s in ACTIONS.items() if not s.read_only}
    assert changing == {"clean_files", "compress_files", "logrotate_force", "service_restart",
                        "kill_process", "package_update", "shell"}
    json.dumps(describe())


def test_unknown_action() -> None:
    with pytest.raises(ActionError, match="unknown action 'rm_rf'"):
        run_action("rm_rf", {}, ActionContext())


def test_bad_params_name_the_param_and_why() -> None:
    ctx = ActionContext()
    with pytest.raises(ActionError, match=r"unknown param.*'colour'"):
        run_action("disk_usage", {"colour": "red"}, ctx)
    with pytest.raises(ActionError, match="'path' is required"):
        run_action("largest", {}, ctx)
    with pytest.raises(ActionError, match="'limit': expected int"):
        run_action("largest", {"path": "/", "limit": "many"}, ctx)
    with pytest.raises(ActionError, match="'limit': expected int"):
        run_action("largest", {"path": "/", "limit": True}, ctx)
    with pytest.raises(ActionError, match=r"'kind' must be one of files\|dirs"):
        run_action("largest", {"path": "/", "kind": "sockets"}, ctx)
    with pytest.raises(ActionError, match=r"'patterns\[1\]': expected str"):
        run_action("find_files", {"path": "/", "patterns": ["*.log", 3]}, ctx)
    with pytest.raises(ActionError, match="'path' must not be null"):
        run_action("log_tail", {"path": None}, ctx)
    with pytest.raises(ActionError, match="not a valid unit name"):
        run_action("service_status", {"name": "--now; reboot"}, ctx)


def test_canonical_strings_are_coerced(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    res = run_action("largest", {"path": "/", "limit": "5"}, ActionContext(root=HostRoot(str(tmp_path))))
    assert res.ok and res.data["items"] == [{"path": "/f", "bytes": 3}]


def test_path_escape_is_a_param_error(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to("/etc")
    with pytest.raises(ActionError, match=r"param 'path'.*escapes"):
        run_action("log_tail", {"path": "/out/passwd"}, ActionContext(root=HostRoot(str(tmp_path))))


def test_operational_failure_is_a_result_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / ".ccm-host.json").write_text("{not json")
    res = run_action("disk_usage", {}, ActionContext(root=HostRoot(str(tmp_path))))
    assert isinstance(res, ActionResult)
    assert not res.ok and "ccm-host.json" in res.error
    assert res.to_dict()["ok"] is False


def test_read_only_actions_ignore_dry_run(tmp_path: Path) -> None:
    res = run_action("disk_usage", {}, ActionContext(root=HostRoot(str(tmp_path)), dry_run=True))
    assert res.ok and res.dry_run is False and res.changed is False
