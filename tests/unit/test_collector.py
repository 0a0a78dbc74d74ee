"""The TUI's paced garbage collector: full collections wait for a pause in the typing."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ccm_tui.app.collector import NEVER, PacedCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def paced(clock: Clock) -> Iterator[tuple[PacedCollector, list[float]]]:
    runs: list[float] = []
    collector = PacedCollector(idle=2.0, spacing=10.0, at_most=60.0, clock=clock,
                               collect=lambda: runs.append(clock.now))
    before = gc.get_threshold()
    collector.start()
    yield collector, runs
    collector.stop()
    assert gc.get_threshold() == before


def test_start_takes_full_collections_over_and_stop_gives_them_back() -> None:
    before = gc.get_threshold()
    collector = PacedCollector()
    collector.start()
    try:
        assert collector.active
        assert gc.get_threshold() == (before[0], before[1], NEVER)  # the young ones unchanged
    finally:
        collector.stop()
    assert not collector.active and gc.get_threshold() == before


def test_no_full_collection_while_keys_keep_coming(paced: tuple[PacedCollector, list[float]],
                                                    clock: Clock) -> None:
    collector, runs = paced
    for _ in range(50):  # a key every 0.5 s for 25 s
        clock.now += 0.5
        collector.input_seen()
        assert not collector.tick()
    assert runs == []


def test_a_pause_of_idle_seconds_lets_the_collection_run_spaced(
        paced: tuple[PacedCollector, list[float]], clock: Clock) -> None:
    collector, runs = paced
    clock.now += 10.0
    assert collector.tick()  # quiet, and spacing has passed
    clock.now += 5.0
    assert not collector.tick()  # quiet, but one ran 5 s ago
    clock.now += 5.0
    assert collector.tick()
    assert runs == [1010.0, 1020.0] and collector.full_collections == 2


def test_a_user_who_never_pauses_still_gets_one_every_at_most_seconds(
        paced: tuple[PacedCollector, list[float]], clock: Clock) -> None:
    collector, runs = paced
    for _ in range(130):  # 130 s of keys, one a second
        clock.now += 1.0
        collector.input_seen()
        collector.tick()
    assert runs == [1060.0, 1120.0]


def test_freezing_and_ticking_do_nothing_unless_started(clock: Clock) -> None:
    runs: list[float] = []
    collector = PacedCollector(clock=clock, collect=lambda: runs.append(clock.now))
    frozen = gc.get_freeze_count()
    collector.freeze_loaded()
    clock.now += 3600
    assert not collector.tick() and runs == []
    assert gc.get_freeze_count() == frozen


def test_what_was_frozen_goes_back_to_the_collector_on_stop() -> None:
    collector = PacedCollector()
    collector.start()
    collector.freeze_loaded()
    assert gc.get_freeze_count() > 0
    collector.stop()
    assert gc.get_freeze_count() == 0
