"""Host patterns: globs, groups, labels, all, unions, exclusions, intersections."""

from __future__ import annotations

import pytest

from ccm_tui.core.errors import InventoryError
from ccm_tui.fleet.inventory import FleetHost, Inventory

INV = Inventory.of([
    FleetHost("web-01", groups=("web",), labels={"env": "prod", "dc": "fra1"}),
    FleetHost("web-02", groups=("web",), labels={"env": "staging", "dc": "fra1"}),
    FleetHost("db-01", groups=("db", "backup"), labels={"env": "prod"}),
    FleetHost("worker-01", groups=("worker",), labels={}),
])


@pytest.mark.parametrize(("pattern", "names"), [
    ("all", ["web-01", "web-02", "db-01", "worker-01"]),
    ("*", ["web-01", "web-02", "db-01", "worker-01"]),
    ("web-*", ["web-01", "web-02"]),
    ("web-0[2-9]", ["web-02"]),
    ("db-01", ["db-01"]),
    ("group:db", ["db-01"]),
    ("group:backup", ["db-01"]),
    ("group:w*", ["web-01", "web-02", "worker-01"]),
    ("label:env=prod", ["web-01", "db-01"]),
    ("label:env=s*", ["web-02"]),
    ("label:dc", ["web-01", "web-02"]),
    ("db-01,web-02", ["web-02", "db-01"]),
    ("all,!group:web", ["db-01", "worker-01"]),
    ("!group:web", ["db-01", "worker-01"]),
    ("label:env=prod,!db-*", ["web-01"]),
    ("group:web,&label:env=prod", ["web-01"]),
    ("group:no*", []),
    ("label:env=x*", []),
    ("nomatch-*", []),
])
def test_patterns(pattern: str, names: list[str]) -> None:
    assert [h.name for h in INV.select(pattern)] == names


@pytest.mark.parametrize("pattern", ["web-1", "db-01,typo", "all,!typo", "web-*,,db-01",
                                     "label:=x", "", "  "])
def test_a_plain_name_that_names_nothing_is_an_error(pattern: str) -> None:
    with pytest.raises(InventoryError):
        INV.select(pattern)


def test_unknown_host_lookup_names_the_remedy() -> None:
    with pytest.raises(InventoryError) as err:
        INV.get("nope")
    assert "ccm fleet list" in err.value.hint


@pytest.mark.parametrize(("pattern", "message", "hint"), [
    ("group:nosuch", "no host matches 'group:nosuch': the inventory has no group 'nosuch'",
     "its groups: backup, db, web, worker"),
    # a typo in an exclusion must not reach the hosts it meant to leave out
    ("all,!group:bd", "the inventory has no group 'bd'", "its groups:"),
    ("label:evn=prod", "no host has a label 'evn'", "the labels: dc, env"),
    ("all,!label:env=prdo", "no host has env=prdo", "values of env: prod, staging"),
    ("web", "no host named 'web' in the inventory; 'web' is a group", "write group:web"),
    ("group:web:!web-01", "no group 'web:!web-01'", "join terms with commas, not ':'"),
    ("web-*:&db-*", "no host matches 'web-*:&db-*'", "join terms with commas, not ':'"),
    ("group:", "names no group", "group:NAME"),
    ("web-01 web-02", "no host named 'web-01 web-02'", "commas, not spaces"),
])
def test_a_group_or_label_that_nothing_has_is_an_error_with_what_exists(
        pattern: str, message: str, hint: str) -> None:
    with pytest.raises(InventoryError) as err:
        INV.select(pattern)
    assert message in str(err.value) and hint in err.value.hint
