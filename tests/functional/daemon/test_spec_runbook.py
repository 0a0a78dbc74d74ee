"""An alert that names its runbook (``runbook`` / ``ccm_runbook`` annotation) gets it —
only when that runbook's matchers hold for the alert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ccm_tui.core.model import Task
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.daemon.spec import Knowledge, build_spec, named_runbook, runbook_choice
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.hub import Hub

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
KNOWLEDGE = Knowledge.load()
HOST = FleetHost("web-01", "10.0.0.1", groups=("web",))


def task(alertname: str = "DiskFull", annotations: dict[str, str] | None = None,
         **labels: str) -> Task:
    spec: dict[str, Any] = {"alert": {"labels": {"alertname": alertname, "instance": "web-01",
                                                 **labels},
                                      "annotations": annotations or {}}}
    return Task(id="t-1", host="web-01", alertname=alertname, spec=spec,
                created_at=NOW, updated_at=NOW)


@pytest.mark.parametrize(("t", "expected"), [
    (task(annotations={"runbook": "disk-full"}), "disk-full"),
    (task(annotations={"ccm_runbook": "disk-full", "runbook": "other"}), "disk-full"),
    (task(runbook="disk-full"), "disk-full"),                       # a label works too
    (task(annotations={"runbook_url": "https://wiki/DiskFull"}), None),
    (task(annotations={"runbook": "https://wiki/DiskFull"}), None),   # a URL is not an id
    (task(annotations={"runbook": "  "}), None),
    (task(annotations={"runbook": "disk-full\nFAKE log line"}), None),  # not an id shape
    (task(annotations={"runbook": "Disk Full"}), None),
    (task(), None),
])
def test_named_runbook(t: Task, expected: str | None) -> None:
    assert named_runbook(t) == expected


def test_choice_and_why_not() -> None:
    candidates = ["disk-full"]
    assert runbook_choice(task(annotations={"runbook": "disk-full"}), KNOWLEDGE, candidates) \
        == ("disk-full", "the alert names runbook disk-full")
    forced, note = runbook_choice(task(annotations={"runbook": "cleanup-logs"}), KNOWLEDGE,
                                  candidates)
    assert forced is None and "'cleanup-logs', which no runbook folder holds" in note
    forced, note = runbook_choice(task(annotations={"runbook": "service-down"}), KNOWLEDGE,
                                  candidates)
    assert forced is None and "whose matchers do not hold" in note
    assert runbook_choice(task(), KNOWLEDGE, candidates) == (None, "")


async def test_the_spec_forces_a_named_candidate_and_nothing_else(hub: Hub) -> None:
    spec = await build_spec(hub, task(annotations={"runbook": "disk-full"}), HOST, KNOWLEDGE,
                            DaemonOptions())
    assert spec["runbook"] == "disk-full" and spec["runbooks"][0]["id"] == "disk-full"
    # a runbook whose matchers do not hold is never forced onto the alert
    spec = await build_spec(hub, task(annotations={"runbook": "service-down"}), HOST,
                            KNOWLEDGE, DaemonOptions())
    assert "runbook" not in spec
    assert [r["id"] for r in spec["runbooks"]] == ["disk-full"]
    spec = await build_spec(hub, task(), HOST, KNOWLEDGE, DaemonOptions())
    assert "runbook" not in spec
