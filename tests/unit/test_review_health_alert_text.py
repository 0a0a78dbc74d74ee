"""What a health alert says to the person paged: sizes in units people read."""

from __future__ import annotations

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
