"""Folded host lists (``web-[01-10,12]``): folding, expanding, and the same text as a
``--hosts`` pattern selecting exactly the hosts it was folded from."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccm_tui.core.errors import InventoryError
from ccm_tui.fleet.hostlist import MOST_NAMES, expand, fold, folded, is_range, split_terms
from ccm_tui.fleet.inventory import FleetHost, Inventory


def test_fold_makes_ranges_per_prefix_suffix_and_width_in_first_seen_order() -> None:
    names = ["web-01", "web-02", "web-03", "db-1", "web-05", "h9", "h10", "h11", "x",
             "web-04", "web-01", "r1.dc2", "r2.dc2", "r4.dc2"]
    assert fold(names) == ["web-[01-05]", "db-1", "h9", "h[10-11]", "x", "r[1-2,4].dc2"]
    assert folded([f"h{i:03d}" for i in range(200) if i not in (54, 74, 91)]) == \
        "h[000-053,055-073,075-090,092-199]"
    assert fold([]) == []


def test_names_that_read_as_patterns_are_never_folded() -> None:
    assert fold(["a[1]", "a[2]", "b*1", "b*2"]) == ["a[1]", "a[2]", "b*1", "b*2"]


@pytest.mark.parametrize(("term", "names"), [
    ("web-[01-03,7]", ["web-01", "web-02", "web-03", "web-7"]),
    ("w[08-10]", ["w08", "w09", "w10"]),
    ("h[1,3]", ["h1", "h3"]),
    ("r[1,2]-n[08-09]", ["r1-n08", "r1-n09", "r2-n08", "r2-n09"]),
    ("web-[13]", ["web-[13]"]),  # a glob (web-1 or web-3), not thirteen
    ("web-01", ["web-01"]),
])
def test_expand(term: str, names: list[str]) -> None:
    assert expand(term) == names


def test_ranges_are_told_from_globs() -> None:
    assert is_range("web-[01-10]") and is_range("h[1,3]")
    assert not is_range("web-[13]") and not is_range("web-0[2-9]") and not is_range("web-*")


@pytest.mark.parametrize(("term", "says"), [
    ("h[10-01]", "runs backwards"),
    ("h[0-99999999]", "stands for"),
    ("a[00-99]b[00-99]c[00-99]", "over"),
])
def test_bad_ranges_say_why(term: str, says: str) -> None:
    with pytest.raises(InventoryError, match=says):
        expand(term)
    assert MOST_NAMES == 100_000


def test_commas_inside_brackets_do_not_split_terms() -> None:
    assert split_terms("web-[01-03,7], group:db,!h[1,2]") == ["web-[01-03,7]", "group:db",
                                                             "!h[1,2]"]
    with pytest.raises(InventoryError, match=r"opens a '\[' it never closes"):
        split_terms("web-[01-,db-1")  # would otherwise silently match nothing


INV = Inventory.of([FleetHost(f"web-{i:02d}", groups=("web",)) for i in range(1, 13)]
                   + [FleetHost(f"db-{i}", groups=("db",)) for i in range(1, 4)])


@pytest.mark.parametrize(("pattern", "names"), [
    ("web-[01-03,12]", ["web-01", "web-02", "web-03", "web-12"]),
    ("web-[01-12],!web-[02-11]", ["web-01", "web-12"]),
    ("group:web,&web-[10-12]", ["web-10", "web-11", "web-12"]),
    ("db-[1,3]", ["db-1", "db-3"]),
    ("db-[1-2]", ["db-1", "db-2"]),
])
def test_ranges_as_host_patterns(pattern: str, names: list[str]) -> None:
    assert [h.name for h in INV.select(pattern)] == names


def test_a_range_naming_a_missing_host_is_an_error_like_a_plain_name() -> None:
    with pytest.raises(InventoryError, match="names 2 hosts not in the inventory: web-13, "
                                             "web-14"):
        INV.select("web-[11-14]")
    with pytest.raises(InventoryError, match="runs backwards"):
        INV.select("web-[12-01]")


_names = st.builds(lambda p, n, w, s: f"{p}{n:0{w}d}{s}",
                   st.sampled_from(["web-", "db", "r1-n", "x"]), st.integers(0, 150),
                   st.integers(1, 3), st.sampled_from(["", ".dc1", "-b"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_names, min_size=1, max_size=60))
def test_a_folded_list_selects_exactly_its_hosts(names: list[str]) -> None:
    unique = list(dict.fromkeys(names))
    others = [FleetHost(f"zz{i}") for i in range(3)]
    inventory = Inventory.of([FleetHost(n) for n in unique] + others)
    assert sorted(h.name for h in inventory.select(folded(unique))) == sorted(unique)


def test_the_tui_broadcast_summary_folds_and_caps_its_host_lists() -> None:
    from ccm_tui.app.screens.broadcast import _hosts

    assert _hosts([f"web-{i:02d}" for i in range(1, 41)]) == "web-[01-40]"
    scattered = [f"h{i}x" for i in range(0, 40, 2)] + [f"n{i}" for i in range(8)] + list("abcdef")
    assert _hosts(scattered) == "h[0,2,4,6,8]x, h[10,12,14,16,18,20,22,24,26,28,30,32,34,36,38]x" \
        ", n[0-7], a, b, c … (34 hosts)"
