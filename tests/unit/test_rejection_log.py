"""The receiver's rejection log: the first of each reason at once, then one line a minute."""

from __future__ import annotations

import logging

import pytest

from ccm_tui.ingest.rejections import RejectionLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_one_reason_costs_one_line_per_interval(caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    clock = Clock()
    rejections = RejectionLog(logging.getLogger("ccm.webhook"), interval=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="ccm.webhook"):
        assert rejections.note("unauthorized", 401, "alertmanager", "10.0.0.9", "wrong token")
        for _ in range(49):
            clock.now += 1
            assert not rejections.note("unauthorized", 401, "alertmanager", "10.0.0.9", "x")
        # another reason is not held back by the first
        assert rejections.note("json", 400, "grafana", None, "the body is not valid JSON")
        clock.now += 11  # 60 s after the first line
        assert rejections.note("unauthorized", 401, "alertmanager", "10.0.0.9", "wrong token")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[0].startswith("rejected unauthorized from 10.0.0.9 on /alerts/alertmanager: "
                               "401 wrong token")
    assert "http_config.authorization" in lines[0]  # what to check, on the sender's side
    assert lines[1].startswith("rejected json from an unknown peer on /alerts/grafana: 400")
    assert "(49 more like it in the last 60 s)" in lines[2]


def test_a_hostile_error_text_stays_on_one_bounded_line(caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    rejections = RejectionLog(logging.getLogger("ccm.webhook"))
    with caplog.at_level(logging.WARNING, logger="ccm.webhook"):
        rejections.note("schema", 422, "generic\n\x1b[2J", "::1", "line one\nline two " + "y" * 5000)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in line
    assert len(line) < 500
