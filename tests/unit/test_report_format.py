"""How ``ccm report`` writes disk fill rates and times to full."""

from __future__ import annotations

import pytest

from ccm_tui.commands.report import _full_in, _rate


@pytest.mark.parametrize(("rate", "text"), [(0.4213, "0.42%/h"), (9.999, "10.00%/h"),
                                            (12.46, "12.5%/h"), (32244.05, "32,244%/h")])
def test_a_rate_keeps_the_digits_that_mean_something(rate: float, text: str) -> None:
    assert _rate(rate) == text


@pytest.mark.parametrize(("hours", "text"), [(0.0, "<1m"), (0.01, "<1m"), (1.0, "1h")])
def test_a_disk_filling_within_the_minute_is_not_full_in_0s(hours: float, text: str) -> None:
    assert _full_in(hours) == text
