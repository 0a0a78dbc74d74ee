"""The tile colour of a host: critical only where a built-in rule (or a critical task) says so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ccm_tui.app.model import HostStatus, Snapshot, health_level
from ccm_tui.core.model import HealthSnapshot, Host, Severity, Task

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def snap(cpu: float | None = 10, mem: float | None = 40, disk: float | None = 50,
         reachable: bool = True) -> HealthSnapshot:
    return HealthSnapshot("web-01", NOW, reachable, cpu_pct=cpu, mem_pct=mem, disk_pct=disk)


@pytest.mark.parametrize(("health", "expected"), [
    (snap(), "ok"),
    (snap(cpu=100), "warning"),         # a saturated CPU alone is busy, not broken
    (snap(cpu=85), "warning"),
    (snap(mem=92), "warning"),          # below the HighMemory rule (95 %)
    (snap(mem=95), "critical"),
    (snap(disk=89.9), "warning"),
    (snap(disk=90), "critical"),        # the DiskFull rule
    (snap(cpu=None, mem=None, disk=None), "ok"),
])
def test_health_level_follows_the_built_in_rules(health: HealthSnapshot, expected: str) -> None:
    assert health_level(health) == expected


def status(health: HealthSnapshot | None, task: Task | None = None) -> HostStatus:
    s = Snapshot()
    s.put_host(Host("web-01"), [health] if health else [])
    if task is not None:
        s.put_task(task)
    return s.host_status("web-01")


def test_host_status_of_a_busy_host_is_a_warning_not_critical() -> None:
    assert status(snap(cpu=100)) is HostStatus.WARNING
    assert status(snap(disk=97)) is HostStatus.CRITICAL
    assert status(snap(cpu=100, reachable=False)) is HostStatus.UNREACHABLE
    assert status(None) is HostStatus.OK


def test_a_critical_task_makes_the_tile_critical_whatever_the_health() -> None:
    task = Task(id="t-1", host="web-01", alertname="HighCPU", severity=Severity.CRITICAL,
                created_at=NOW, updated_at=NOW)
    assert status(snap(), task) is HostStatus.CRITICAL
    warning = Task(id="t-2", host="web-01", alertname="HighCPU", created_at=NOW, updated_at=NOW)
    assert status(snap(), warning) is HostStatus.WARNING
