"""What a health alert says to the person paged: sizes in units people read."""

from __future__ import annotations

from datetime import timedelta

from ccm_tui.core.model import HealthSnapshot, utcnow
from ccm_tui.daemon.health_rules import HealthRules, evaluate


def test_disk_full_says_how_much_is_free_in_readable_units() -> None:
    snap = HealthSnapshot("web-01", utcnow(), data={"mounts": [
        {"mount": "/", "used_pct": 95.0, "used_bytes": 95 * 10**9, "free_bytes": 5_340_000_000},
        {"mount": "/boot", "used_pct": 99.2, "free_bytes": 524_288},
        {"mount": "/srv", "used_pct": 91.0}]})
    ev = evaluate(snap, [snap], HealthRules())
    text = {k: f.annotations["description"] for (rule, k), f in ev.findings.items()
            if rule == "DiskFull"}
    assert text == {"/": "/ is 95% used (threshold 90%); 5.3 GB free",
                    "/boot": "/boot is 99.2% used (threshold 90%); 524.3 kB free",
                    "/srv": "/srv is 91% used (threshold 90%); ? bytes free"}


def _filling(per_10_min: int, start: int, total: int = 100 * 10**9) -> list[HealthSnapshot]:
    t0 = utcnow()
    return [HealthSnapshot("web-01", t0 + timedelta(minutes=10 * i), data={"mounts": [
        {"mount": "/var", "used_pct": 100 * (start + per_10_min * i) / total,
         "used_bytes": start + per_10_min * i, "free_bytes": total - start - per_10_min * i}]})
        for i in range(7)]


def test_disk_filling_up_says_when_and_how_fast_in_readable_units() -> None:
    history = _filling(2 * 10**9, 60 * 10**9)  # 12 GB/h, 72 GB used: 28 GB in 2.3 h
    [f] = [f for (rule, _), f in evaluate(history[-1], history, HealthRules()).findings.items()
           if rule == "DiskFillingUp"]
    assert f.annotations["summary"] == "/var on web-01 will be full in 2.3 h"
    assert f.annotations["description"] == "growing 12.0 GB/h over 7 samples; 28.0 GB free"
    soon = _filling(2 * 10**9, 82 * 10**9)  # 94 GB used: 6 GB in 30 min
    [f] = [f for (rule, _), f in evaluate(soon[-1], soon, HealthRules()).findings.items()
           if rule == "DiskFillingUp"]
    assert f.annotations["summary"] == "/var on web-01 will be full in 30 min"


def test_a_failed_probe_says_why_pushing_the_agent_failed_too() -> None:
    snap = HealthSnapshot("web-01", utcnow(), data={
        "error": "probe exited 2: python3: can't open file 'agent.pyz'",
        "install_error": "web-01: tmux is not installed"})
    [f] = evaluate(snap, [snap], HealthRules()).findings.values()
    assert f.rule == "HealthProbeFailed" and f.annotations["description"] == (
        "probe exited 2: python3: can't open file 'agent.pyz'; web-01: tmux is not installed")


def test_high_memory_names_the_processes_holding_it() -> None:
    top = [{"pid": 812, "name": "java", "rss_bytes": 5_100_000_000},
           {"pid": 90, "name": "postgres", "rss_bytes": 1_200_000_000}]
    snap = HealthSnapshot("web-01", utcnow(), data={"memory": {"used_pct": 97.0},
                                                    "top_mem": top})
    [f] = evaluate(snap, [snap], HealthRules()).findings.values()
    assert f.annotations == {"summary": "memory on web-01 is 97% used",
                             "description": "largest: java (pid 812) 5.1 GB, "
                                            "postgres (pid 90) 1.2 GB"}
