"""Counted nouns and durations in messages."""

from __future__ import annotations

import pytest

from ccm_tui.core.text import duration, plural


def test_plural() -> None:
    assert plural(1, "host") == "1 host"
    assert plural(0, "host") == "0 hosts"
    assert plural(21, "host") == "21 hosts"
    assert plural(2, "this", "these") == "2 these"


@pytest.mark.parametrize(("seconds", "text"), [
    (0.4, "0s"), (42.4, "42s"), (59.6, "1m"), (252, "4m12s"), (600, "10m"), (659, "10m"),
    (3600, "1h"), (11520, "3h12m"), (187200, "2d4h"), (172800, "2d"), (-5, "0s")])
def test_a_duration_is_short_and_keeps_seconds_below_ten_minutes(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(0.43, "0.4s"), (9.9, "9.9s"), (9.96, "10s"),
                                               (252, "4m12s")])
def test_a_time_to_fix_keeps_a_tenth_below_ten_seconds(seconds: float, text: str) -> None:
    assert duration(seconds, fine=True) == text
