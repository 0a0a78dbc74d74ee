"""The fleet line of ``ccm status``: counts from the latest probes, in words."""

from __future__ import annotations

from datetime import timedelta

from ccm_tui.commands._fleet_health import describe, summarise
from ccm_tui.core.model import HealthSnapshot, utcnow


def test_one_host_reads_in_the_singular_and_an_unprobed_fleet_says_what_probes() -> None:
    now = utcnow()
    one = summarise(1, {"web-01": HealthSnapshot("web-01", now - timedelta(seconds=5))}, now)
    assert describe(one) == "1 host · [green]1 ok[/] — probed 5s ago"
    none = summarise(3, {}, now)
    assert none["stale"] and none["last_probe_seconds_ago"] is None
    assert describe(none) == ("3 hosts, none probed yet — `ccm up` probes every 30 s, "
                              "`ccm fleet probe` probes now")


def test_critical_means_the_built_in_rules_thresholds() -> None:
    now = utcnow()
    snaps = {"a": HealthSnapshot("a", now, disk_pct=89.9, mem_pct=94.9),
             "b": HealthSnapshot("b", now, disk_pct=90.0),
             "c": HealthSnapshot("c", now, mem_pct=95.0)}
    s = summarise(3, snaps, now)
    assert (s["ok"], s["critical"]) == (1, 2)


def test_a_failed_unit_is_critical_like_the_service_down_rule() -> None:
    now = utcnow()
    snaps = {"a": HealthSnapshot("a", now, disk_pct=20.0, data={"failed_units": []}),
             "b": HealthSnapshot("b", now, disk_pct=20.0,
                                 data={"failed_units": ["nginx.service"]}),
             "c": HealthSnapshot("c", now, disk_pct=20.0, data={"failed_units": None})}
    s = summarise(3, snaps, now)
    assert (s["ok"], s["critical"]) == (2, 1)
    assert describe(s).startswith("3 hosts · [green]2 ok[/] · [bold red]1 critical[/]")


def test_a_mount_out_of_inodes_is_critical_like_a_full_one() -> None:
    now = utcnow()
    mounts = [{"mount": "/", "used_pct": 12.0, "inodes_pct": 99.0}]
    s = summarise(1, {"a": HealthSnapshot("a", now, disk_pct=12.0,
                                           data={"mounts": mounts})}, now)
    assert (s["ok"], s["critical"]) == (0, 1)
