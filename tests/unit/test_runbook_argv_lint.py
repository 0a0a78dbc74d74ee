"""``ccm runbooks lint`` warns about user runbook slots that could take an option-looking
value (``--help``, ``-rf``), by running the real command on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNBOOK = """\
id: custom
title: custom
risk: low
mode: auto
match:
  labels: ['alertname="Custom"']
diagnose:
  - {{id: d, action: disk_usage, params: {{path: /}}}}
classify:
  - cause: c
    when: ['evidence.d.used_pct >= 0']
    weight: 0.99
    remediate: [fix]
remediate:
  - id: fix
    action: shell
    params:
      argv: {argv}
"""


def _lint(tmp_path: Path, argv: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "custom.yaml").write_text(RUNBOOK.format(argv=argv))
    return subprocess.run([sys.executable, "-m", "ccm_tui", "runbooks", "lint", *extra,
                           str(tmp_path)], capture_output=True, text=True, timeout=120)


def test_lint_warns_about_a_label_that_could_be_an_option(tmp_path: Path) -> None:
    res = _lint(tmp_path, "[/usr/bin/systemctl, restart, '{{ alert.labels.service }}']",
                "--json")
    assert res.returncode == 0, res.stderr  # a warning: the agent still runs the runbook
    report = json.loads(res.stdout)
    [issue] = report["issues"]
    assert report["ok"] is True and issue["severity"] == "warning"
    assert issue["line"] == 18 and "argv[2]" in issue["reason"]
    assert issue["reason"].startswith("warning: ") and "'--'" in issue["reason"]


def test_lint_is_quiet_when_the_author_put_double_dash_first(tmp_path: Path) -> None:
    res = _lint(tmp_path, "[/usr/bin/systemctl, restart, '--', '{{ alert.labels.service }}']",
                "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["issues"] == []


def test_lint_refuses_a_label_that_chooses_the_program(tmp_path: Path) -> None:
    res = _lint(tmp_path, "['{{ alert.labels.cmd }}', restart]")
    assert res.returncode == 1
    assert "must not choose which program runs" in res.stdout
    assert "Traceback" not in res.stdout + res.stderr


THRESHOLDS = """\
id: thr
title: thr
risk: low
mode: auto
match:
  labels: ['alertname="Full"']
  evidence: ['evidence.d.used_pct >= {{ alert.labels.threshold }}']
diagnose:
  - {id: d, action: disk_usage, params: {path: /}}
classify:
  - cause: c
    when: ['evidence.d.used_pct >= {{ alert.labels.threshold | default(80) }}']
    weight: 0.99
verify:
  action: disk_usage
  params: {path: /}
  expect: ['result.used_pct < {{ alert.labels.threshold }}']
"""


def test_lint_warns_about_a_label_threshold_with_no_default(tmp_path: Path) -> None:
    (tmp_path / "thr.yaml").write_text(THRESHOLDS)
    res = subprocess.run([sys.executable, "-m", "ccm_tui", "runbooks", "lint", "--json",
                          str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    issues = json.loads(res.stdout)["issues"]
    assert [(i["line"], i["severity"]) for i in issues] == [(7, "warning"), (17, "warning")]
    assert all("no default" in i["reason"] and "default(80)" in i["reason"] for i in issues)


CLEAN = """\
id: clean
title: clean
risk: low
mode: auto
match:
  labels: ['alertname="Full"']
diagnose:
  - {id: d, action: disk_usage, params: {path: /}}
classify:
  - cause: c
    weight: 0.99
    remediate: [fix]
remediate:
  - id: fix
    action: clean_files
    params:
      path: /var/log/app
      patterns: ['{{ alert.labels.pattern | default("*.log") }}']
      older_than_days: '{{ alert.labels.days | default(7) }}'
"""


def test_lint_warns_when_a_label_picks_the_files_to_delete(tmp_path: Path) -> None:
    (tmp_path / "clean.yaml").write_text(CLEAN)
    res = subprocess.run([sys.executable, "-m", "ccm_tui", "runbooks", "lint", "--json",
                          str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    issues = json.loads(res.stdout)["issues"]
    assert [i["line"] for i in issues] == [18, 19]
    assert "pattern=*" in issues[0]["reason"] and "days=0" in issues[1]["reason"]
    assert all(i["severity"] == "warning" and "use a fixed value" in i["reason"]
               for i in issues)
