"""`ccm runbooks list · show · lint`, through the Typer app the lead mounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ccm_tui.cli import error_line
from ccm_tui.commands import runbooks as runbooks_cmd
from ccm_tui.core.errors import NotFound
from ccm_tui.runbooks import builtin_dir, lint_paths, load_catalog, to_agent_json

pytestmark = pytest.mark.usefixtures("isolated_env")  # no user config, no user runbooks

root_app = typer.Typer()
root_app.add_typer(runbooks_cmd.app, name="runbooks")
runner = CliRunner()

BUILTIN_IDS = ["connection-exhaustion", "disk-full", "high-memory", "inode-exhaustion",
               "logrotate-broken", "service-down", "tls-cert-expiry", "zombie-processes"]

BROKEN = """\
id: broken-one
title: Broken on purpose
risk: extreme
mode: auto
match:
  labels: ['alertname=DiskFull']
diagnose:
  - id: wipe
    action: clean_files
    params: {path: /var/log, patterns: ["*"], older_than_days: 1}
classify:
  - cause: x
    when: ["evidence.wipe.count >>> 3"]
    weight: 0.5
"""


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(root_app, ["runbooks", *args], catch_exceptions=False)


def test_builtin_folder_is_found_and_clean() -> None:
    assert builtin_dir().name == "runbooks"
    report = lint_paths()
    assert report.ok, [str(i) for i in report.issues]
    assert len(report.files) == 8


def test_list_json_and_table() -> None:
    res = invoke("list", "--json")
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    assert [r["id"] for r in rows] == BUILTIN_IDS
    disk = rows[1]
    assert disk["mode"] == "auto" and disk["causes"] == ["old-logs", "old-temp-files", "old-backups"]
    table = invoke("list")
    assert table.exit_code == 0 and "disk-full" in table.stdout


def test_show_json_is_what_the_agent_receives() -> None:
    res = invoke("show", "service-down", "--json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["id"] == "service-down" and data["verify"]["action"] == "service_status"
    human = invoke("show", "disk-full", "--source")
    assert human.exit_code == 0 and "clean_files" in human.stdout
    with pytest.raises(NotFound, match=r"no runbook 'nope' \(known: .*disk-full") as caught:
        invoke("show", "nope")
    assert error_line(caught.value).endswith("— list them with `ccm runbooks list`")


def test_lint_broken_file_names_file_line_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN)
    res = invoke("lint", str(tmp_path))
    assert res.exit_code == 1
    out = res.stdout
    assert f"{bad}:3:1: risk: risk must be one of low|medium|high" in out
    assert f"{bad}:9:5: diagnose[0].action: action 'clean_files' changes the host" in out
    assert f"{bad}:13:12: classify[0].when[0]:" in out and "needs a number" in out
    as_json = json.loads(invoke("lint", str(bad), "--json").stdout)
    assert as_json["ok"] is False
    assert {(i["line"], i["reason"].split(":")[0]) for i in as_json["issues"]} == {
        (3, "risk"), (9, "diagnose[0].action"), (13, "classify[0].when[0]")}


def test_lint_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    bad = tmp_path / "syntax.yml"
    bad.write_text("id: x\ntitle: ok\nmatch:\n  labels: [unclosed\nrisk: low\n")
    res = invoke("lint", str(bad), "--json")
    assert res.exit_code == 1
    issue = json.loads(res.stdout)["issues"][0]
    assert issue["file"] == str(bad) and issue["line"] >= 4
    assert issue["reason"].startswith("YAML syntax:")


def test_lint_ok_and_missing_path(tmp_path: Path) -> None:
    assert invoke("lint").exit_code == 0
    res = invoke("lint", str(tmp_path / "nowhere"))
    assert res.exit_code == 1 and "no such file or folder" in res.stdout


def test_lint_counts_warnings_apart_and_an_empty_folder_fails(tmp_path: Path) -> None:
    from tests.unit.test_runbook_argv_lint import RUNBOOK

    (tmp_path / "custom.yaml").write_text(RUNBOOK.format(
        argv="[/usr/bin/systemctl, restart, '{{ alert.labels.service }}']"))
    res = invoke("lint", str(tmp_path))
    assert res.exit_code == 0, res.stdout  # a warning: the agent still runs the runbook
    assert res.stdout.splitlines()[-1] == "1 warning in 1 file"
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = invoke("lint", str(empty))
    assert nothing.exit_code == 1 and "nothing was checked" in nothing.stdout


def test_user_folder_overrides_builtin_and_duplicates_are_flagged(tmp_path: Path) -> None:
    src = (builtin_dir() / "disk-full.yaml").read_text()
    (tmp_path / "mine.yaml").write_text(src.replace("mode: auto", "mode: shadow"))
    catalog = load_catalog([tmp_path])
    disk = catalog.get("disk-full")
    assert disk is not None and disk.data is not None and disk.data["mode"] == "shadow"
    assert to_agent_json(disk)["mode"] == "shadow"
    rows = json.loads(invoke("list", "--dir", str(tmp_path), "--json").stdout)
    assert [r["mode"] for r in rows if r["id"] == "disk-full"] == ["shadow"]
    (tmp_path / "again.yaml").write_text(src)
    res = invoke("lint", str(tmp_path))
    assert res.exit_code == 1 and "duplicate runbook id 'disk-full'" in res.stdout


def test_help_is_polished() -> None:
    res = invoke("--help")
    assert res.exit_code == 0
    for word in ("list", "show", "lint"):
        assert word in res.stdout
