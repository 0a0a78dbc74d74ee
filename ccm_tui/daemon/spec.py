"""The task spec an agent receives: the alert, candidate runbooks, policy and priors.

Runbooks come from the built-in folder and the user's folders; each carries the
mode the hub has promoted or demoted it to on this host group. Priors are each
runbook's success record on the host group (Beta(19, 1): 0.95 with no history).
A host's inventory labels ``ccm_root`` and ``ccm_path`` point the agent at a
sandboxed filesystem root and prepend to its PATH (simulated hosts use both).

An alert rule may name its runbook with a ``ccm_runbook`` or ``runbook`` annotation
(or label), as Prometheus rules often do: when that runbook is one of the candidates
(its matchers hold for the alert) the agent is told to use it; otherwise the choice
stays with the matchers, and :func:`runbook_choice` says why.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_runtime.runbook import match_score
from ccm_tui.core.model import Task
from ccm_tui.core.records import RunbookStats
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.hub.base import Hub
from ccm_tui.runbooks.loader import Catalog, load_catalog, to_agent_json

log = logging.getLogger("ccm.daemon")


@dataclass
class Knowledge:
    """The runbooks the daemon hands out, loaded once and reloadable."""

    catalog: Catalog

    @classmethod
    def load(cls, dirs: tuple[str, ...] = ()) -> Knowledge:
        return cls(load_catalog([Path(d).expanduser() for d in dirs]))

    def candidates(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        """Runbooks whose label matchers hold for ``labels``, most specific first."""
        scored = []
        for rb in self.catalog.valid():
            data = to_agent_json(rb)
            score = match_score(data, labels)
            if score >= 0:
                scored.append((score, rb.id, data))
        return [data for _score, _id, data in sorted(scored, key=lambda x: (-x[0], x[1]))]

    def file_mode(self, runbook_id: str) -> str:
        rb = self.catalog.get(runbook_id)
        return str((rb.data or {}).get("mode", "suggest")) if rb else "suggest"


#: Where an alert names its runbook: annotations first, then labels; this key order.
RUNBOOK_KEYS = ("ccm_runbook", "runbook")


#: What a runbook id looks like (the runbook schema's rule); anything else an alert
#: carries there (a URL, free text, a hostile string) names no runbook.
_RUNBOOK_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")


def named_runbook(task: Task) -> str | None:
    """The runbook id the alert names, if any (a URL, as in ``runbook_url``, is not one)."""
    alert = task.spec.get("alert") or {}
    for source in (alert.get("annotations") or {}, alert.get("labels") or {}):
        for key in RUNBOOK_KEYS:
            value = str(source.get(key) or "").strip()
            if _RUNBOOK_ID.fullmatch(value):
                return value
    return None


def runbook_choice(task: Task, knowledge: Knowledge, candidates: list[str]
                   ) -> tuple[str | None, str]:
    """(the runbook to force, a note for the log): the alert's named runbook when it is a
    candidate; else ``None`` and, when the alert named one, why it is not used."""
    named = named_runbook(task)
    if named is None:
        return None, ""
    if named in candidates:
        return named, f"the alert names runbook {named}"
    found = knowledge.catalog.get(named)
    if found is None:
        return None, (f"the alert names runbook {named!r}, which no runbook folder holds; "
                      "choosing by the runbooks' matchers")
    if not found.ok:
        return None, (f"the alert names runbook {named}, which is invalid (see `ccm runbooks "
                      f"lint`); choosing by the runbooks' matchers")
    return None, (f"the alert names runbook {named}, whose matchers do not hold for this "
                  "alert; choosing by the runbooks' matchers")


def alert_labels(task: Task) -> dict[str, str]:
    """The labels the agent matches runbooks on (the alert's, plus host and alertname)."""
    alert = task.spec.get("alert") or {}
    labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
    labels.setdefault("alertname", task.alertname)
    labels.setdefault("host", task.host)
    return labels


async def build_spec(
    hub: Hub, task: Task, host: FleetHost, knowledge: Knowledge, options: DaemonOptions, *,
    auto_blocked: str = "", breakers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the agent needs for ``task`` on ``host``, as JSON-ready data."""
    labels = alert_labels(task)
    alert = task.spec.get("alert") or {}
    group = host.groups[0] if host.groups else "ungrouped"
    stats = {s.runbook: s for s in await hub.runbook_stats() if s.host_group == group}
    runbooks = []
    priors: dict[str, float] = {}
    for data in knowledge.candidates(labels):
        record = stats.get(str(data["id"])) or RunbookStats(str(data["id"]), group)
        if record.mode is not None:
            data["mode"] = record.mode.value
        priors[str(data["id"])] = round(record.success_rate, 4)
        runbooks.append(data)
    p = options.policy
    policy: dict[str, Any] = {
        "auto_threshold": p.auto_threshold, "suggest_threshold": p.suggest_threshold,
        "max_auto_risk": p.max_auto_risk.value,
        "risk_caps": {k.value: v for k, v in p.risk_caps.items()},
        "allow_auto": not auto_blocked, "auto_blocked": auto_blocked,
        "escalate_runbooks": dict(breakers or {}),
        "approval_timeout": options.approval_timeout,
    }
    forced, note = runbook_choice(task, knowledge, [str(d["id"]) for d in runbooks])
    if note:
        log.info("%s: %s", task.id, note)
    if forced is not None:
        runbooks.sort(key=lambda d: str(d["id"]) != forced)  # stable: the named one first
    env: dict[str, str] = {}
    if host.labels.get("ccm_path"):
        env["PATH"] = f"{host.labels['ccm_path']}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    spec: dict[str, Any] = {
        "task": task.id,
        "host": task.host,
        "alert": {"labels": labels, "annotations": dict(alert.get("annotations") or {}),
                  "severity": task.severity.value},
        "runbooks": runbooks,
        "policy": policy,
        "priors": priors,
        "root": host.labels.get("ccm_root", "/"),
        "env": env,
    }
    if forced is not None:
        spec["runbook"] = forced
    return spec
