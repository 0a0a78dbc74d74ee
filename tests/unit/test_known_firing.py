"""``KnownFirings``: the firing alerts a receiver stored, so their re-sends need no hub read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from ccm_tui.ingest.known_firing import CAPACITY, TTL_SECONDS, KnownFirings

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def test_remember_then_lookup() -> None:
    known = KnownFirings()
    assert (known.capacity, known.ttl) == (CAPACITY, TTL_SECONDS)
    assert known.lookup("fp-1", T0) is None and len(known) == 0
    known.remember("fp-1", T0, 7, "t-abc")
    known.remember("fp-2", T0, 8, None)  # held (silenced, flapping): no task
    assert known.lookup("fp-1", T0) == (7, "t-abc")
    assert known.lookup("fp-2", T0) == (8, None)
    assert known.lookup("fp-1", T0) == (7, "t-abc")  # a lookup does not use the entry up
    assert len(known) == 2


def test_the_same_instant_in_another_zone_is_the_same_start() -> None:
    known = KnownFirings()
    known.remember("fp-1", T0, 7, "t-abc")
    elsewhere = T0.astimezone(timezone(timedelta(hours=1)))  # as a hub may read it back
    assert known.lookup("fp-1", elsewhere) == (7, "t-abc")


def test_another_start_or_fingerprint_is_a_miss() -> None:
    known = KnownFirings()
    known.remember("fp-1", T0, 7, "t-abc")
    assert known.lookup("fp-1", T0 + timedelta(microseconds=1)) is None  # a refire
    assert known.lookup("fp-1", T0 - timedelta(minutes=5)) is None
    assert known.lookup("fp-9", T0) is None
    assert len(known) == 1


def test_remembering_again_replaces_the_entry() -> None:
    known = KnownFirings()
    known.remember("fp-1", T0, 7, None)
    known.remember("fp-1", T0, 7, "t-later")  # held first, then attached to a task
    assert known.lookup("fp-1", T0) == (7, "t-later") and len(known) == 1


def test_an_expired_entry_is_a_miss_and_is_dropped() -> None:
    known = KnownFirings(ttl=-1.0)  # every entry is already past its time
    known.remember("fp-1", T0, 7, "t-abc")
    assert len(known) == 1
    assert known.lookup("fp-1", T0) is None
    assert len(known) == 0  # dropped on the lookup that found it stale
    assert known.lookup("fp-1", T0) is None


def test_an_entry_is_trusted_within_its_ttl() -> None:
    known = KnownFirings(ttl=3600.0)
    known.remember("fp-1", T0, 7, "t-abc")
    assert known.lookup("fp-1", T0) == (7, "t-abc")


def test_capacity_drops_the_least_recently_stored() -> None:
    known = KnownFirings(capacity=3)
    for i in range(3):
        known.remember(f"fp-{i}", T0, i, f"t-{i}")
    assert known.lookup("fp-0", T0) == (0, "t-0")  # a lookup does not make it newer
    known.remember("fp-3", T0, 3, "t-3")
    assert len(known) == 3
    assert known.lookup("fp-0", T0) is None
    assert [known.lookup(f"fp-{i}", T0) for i in (1, 2, 3)] == [
        (1, "t-1"), (2, "t-2"), (3, "t-3")]
    known.remember("fp-1", T0, 1, "t-1")  # stored again: now the newest
    known.remember("fp-4", T0, 4, "t-4")
    assert known.lookup("fp-2", T0) is None
    assert known.lookup("fp-1", T0) == (1, "t-1") and known.lookup("fp-4", T0) == (4, "t-4")
    assert len(known) == 3


def test_capacity_one_keeps_only_the_last() -> None:
    known = KnownFirings(capacity=1)
    known.remember("fp-a", T0, 1, "t-a")
    known.remember("fp-b", T0, 2, "t-b")
    assert known.lookup("fp-a", T0) is None and known.lookup("fp-b", T0) == (2, "t-b")
    assert len(known) == 1


def test_clear_forgets_everything() -> None:
    known = KnownFirings()
    for i in range(5):
        known.remember(f"fp-{i}", T0, i, None)
    known.clear()
    assert len(known) == 0
    assert all(known.lookup(f"fp-{i}", T0) is None for i in range(5))
    known.remember("fp-0", T0, 10, "t-new")  # usable again afterwards
    assert known.lookup("fp-0", T0) == (10, "t-new")
