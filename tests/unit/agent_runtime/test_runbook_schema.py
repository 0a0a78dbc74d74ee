"""The runbook schema, label matchers, conditions and value templates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent_runtime.conditions import ConditionError, check_all, evaluate, parse_condition
from agent_runtime.runbook import RunbookError, check, match_score, parse_matcher, validate
from agent_runtime.template import TemplateError, render, template_paths

GOOD: dict[str, Any] = {
    "id": "disk-full", "title": "Disk", "risk": "low", "mode": "auto",
    "match": {"labels": ['alertname=~"Disk.*"', "severity!=info"],
              "evidence": ["evidence.disk.used_pct >= 80"]},
    "diagnose": [
        {"id": "disk", "action": "disk_usage", "params": {"path": "{{ alert.labels.mountpoint }}"}},
        {"id": "logs", "action": "find_files",
         "params": {"path": "/var/log", "patterns": ["*.log"], "older_than_days": 7}},
    ],
    "classify": [{"cause": "old-logs", "when": ["evidence.logs.total_bytes > 0"], "weight": 0.9,
                  "remediate": ["clean"]}],
    "remediate": [{"id": "clean", "action": "clean_files",
                   "params": {"path": "/var/log", "patterns": ["*.log"], "older_than_days": 7}}],
    "verify": {"action": "disk_usage", "params": {"path": "/"}, "expect": ["result.used_pct < 80"]},
}


def problems(doc: dict[str, Any]) -> list[str]:
    return [str(i) for i in validate(doc)]


def mutate(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    node: Any = doc
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


def test_good_runbook_is_valid_and_gets_defaults() -> None:
    assert problems(GOOD) == []
    full = check(GOOD)
    assert full["strategy"] == "best" and full["on_failure"] == "fail"
    assert full["escalate_when"] == []


@pytest.mark.parametrize("path, value, expected", [
    ("diagnose.0.action", "rm_rf", "diagnose[0].action: unknown action 'rm_rf'"),
    ("diagnose.1.action", "clean_files", "diagnose[1].action: action 'clean_files' changes the host"),
    ("classify.0.when", ["evidence.logs.total_bytes ~~ 3"], "classify[0].when[0]: cannot parse"),
    ("classify.0.when", [{"path": "evidence.logs.count", "op": "like", "value": 1}],
     "unknown operator 'like'"),
    ("classify.0.when", ["evidence.logs.count > lots"], "needs a number"),
    ("classify.0.when", ["evidence.nosuch.count > 1"], "names no earlier diagnose step"),
    ("classify.0.weight", 1.5, "classify[0].weight: weight must be a number from 0 to 1"),
    ("classify.0.remediate", ["nope"], "no remediate step 'nope'"),
    ("classify.0.colour", "red", "classify[0].colour: unknown key 'colour'"),
    ("diagnose.0.retries", 3, "diagnose[0].retries: unknown key"),
    ("risk", "extreme", "risk: risk must be one of low|medium|high"),
    ("mode", "yolo", "mode: mode must be one of shadow|suggest|auto"),
    ("owner", "me", "owner: unknown key 'owner'"),
    ("diagnose.0.params", {"path": "{{ secrets.token }}"}, "a path starts with one of"),
    ("diagnose.0.params", {"path": "{{ evidence.logs.count }}"}, "names no earlier diagnose step"),
    ("diagnose.1.params", {"path": "/", "sort": "size"}, "action 'find_files' has no param 'sort'"),
    ("remediate.0.params", {"path": "/var/log"}, "needs param 'patterns'"),
    ("match.labels", ["alertname=~(unclosed"], "bad regex"),
    ("match.labels", [], "labels must be a non-empty list"),
    ("verify.expect", ["result.used_pct <"], "has no value"),
    ("id", "Disk Full!", "id must be a slug"),
])
def test_each_mistake_is_named_with_its_path(path: str, value: Any, expected: str) -> None:
    found = problems(mutate(path, value))
    assert any(expected in p for p in found), found


def test_missing_keys_and_non_mapping() -> None:
    doc = copy.deepcopy(GOOD)
    del doc["classify"]
    assert "<root>: missing required key 'classify'" in problems(doc)
    assert problems([]) == ["<root>: a runbook is a mapping"]  # type: ignore[arg-type]
    with pytest.raises(RunbookError) as info:
        check(mutate("risk", "none"))
    assert info.value.issues[0].path == ("risk",)


def test_shell_command_must_not_paste_templates() -> None:
    doc = copy.deepcopy(GOOD)
    doc["remediate"].append({"id": "say", "action": "shell",
                             "params": {"command": "echo {{ alert.labels.x }}"}})
    assert any("must not contain templates" in p for p in problems(doc))
    doc["remediate"][-1]["params"] = {"command": "echo {}", "args": ["{{ alert.labels.x }}"]}
    assert problems(doc) == []


def test_label_matchers() -> None:
    rb = {"match": {"labels": ['alertname=~"Disk.*"', "severity!=info", "env!~dev|test",
                               "team=ops"]}}
    assert match_score(rb, {"alertname": "DiskFull", "severity": "critical", "env": "prod",
                            "team": "ops"}) == 4
    assert match_score(rb, {"alertname": "XDiskFull", "team": "ops"}) == -1  # anchored
    assert match_score(rb, {"alertname": "DiskFull", "severity": "info", "team": "ops"}) == -1
    assert match_score(rb, {"alertname": "DiskFull", "env": "dev", "team": "ops"}) == -1
    assert parse_matcher("a = 'b c'").value == "b c"
    with pytest.raises(ValueError):
        parse_matcher("no operator")


def test_conditions() -> None:
    ctx = {"evidence": {"d": {"pct": 92.5, "items": [{"unit": "nginx.service"}], "ok": False,
                              "lines": ["boom", "Start request repeated too quickly"],
                              "state": "failed"}},
           "alert": {"labels": {"threshold": "90"}}}

    def holds(text: str) -> bool:
        return evaluate(parse_condition(text), ctx)[0]

    assert holds("evidence.d.pct > 90") and not holds("evidence.d.pct < 90")
    assert holds("evidence.d.pct >= {{ alert.labels.threshold }}")
    assert holds('evidence.d.items.0.unit matches "\\\\.service$"')
    assert holds("evidence.d.ok == false") and holds('evidence.d.state != "active"')
    assert holds('evidence.d.lines contains "boom"')
    assert holds('evidence.d.lines matches "repeated too quickly"')
    assert holds("evidence.d.items exists") and not holds("evidence.d.nothing exists")
    assert not holds("evidence.d.nothing > 1")  # a missing value never satisfies
    assert holds("evidence.d.state == failed")  # bare words are text
    with pytest.raises(ConditionError):
        parse_condition("evidence.d.pct exists 3")
    report = check_all(["evidence.d.pct >= {{ alert.labels.threshold }}"], ctx)
    assert report == [{"condition": 'evidence.d.pct >= "90"', "ok": True, "actual": 92.5}]


def test_templates_substitute_values_not_text() -> None:
    ctx = {"alert": {"labels": {"note": '"; rm -rf / #', "port": "8080"}},
           "evidence": {"top": {"processes": [{"pid": 42, "unit": "app.service"}]}}}
    assert render("{{ alert.labels.note }}", ctx) == '"; rm -rf / #'
    assert render(["echo", "{{alert.labels.note}}"], ctx) == ["echo", '"; rm -rf / #']
    assert render("{{ evidence.top.processes.0.pid }}", ctx) == 42  # the value, typed
    assert render("pid={{ evidence.top.processes.0.pid }}!", ctx) == "pid=42!"
    assert render('{{ alert.labels.mountpoint | default("/") }}', ctx) == "/"
    assert render("{{ alert.labels.nope | default(null) }}", ctx) is None
    with pytest.raises(TemplateError, match="no value"):
        render("{{ alert.labels.nope }}", ctx)
    with pytest.raises(TemplateError, match="filter"):
        render("{{ alert.labels.port | upper }}", ctx)
    assert template_paths({"a": ["{{ x.y }} and {{ z }}"]}) == ["x.y", "z"]
