"""Which inventory host an alert names: exact names and addresses, then unambiguous short names."""

from __future__ import annotations

import pytest

from ccm_tui.core import Host
from ccm_tui.ingest.hosts import UNKNOWN_HOST, HostDirectory, HostMatch

FLEET = HostDirectory([
    Host("web-01", "10.0.0.1"),
    Host("db-01.prod.example", "10.0.1.1"),
    Host("app-01.prod.example", "10.0.2.1"),
    Host("app-01.staging.example", "10.1.2.1"),
    Host("old-01", "10.0.9.9", managed=False),
])


@pytest.mark.parametrize(("candidates", "expected"), [
    (["web-01"], HostMatch("web-01", True)),
    (["WEB-01"], HostMatch("web-01", True)),
    (["10.0.0.1"], HostMatch("web-01", True)),                       # by address
    (["web-01.prod.example"], HostMatch("web-01", True)),            # FQDN → short inventory name
    (["db-01"], HostMatch("db-01.prod.example", True)),              # short → FQDN inventory name
    (["db-01.prod.example"], HostMatch("db-01.prod.example", True)),
    # a different domain is a different server: never remediate the prod one for it
    (["db-01.staging.example"], HostMatch("db-01.staging.example", False)),
    # two inventory hosts share the short name: neither is guessed
    (["app-01"], HostMatch("app-01", False)),
    (["app-01.staging.example"], HostMatch("app-01.staging.example", True)),
    (["10.0.0"], HostMatch("10.0.0", False)),                        # not "10", not a short name
    (["10.9.9.9", "web-01"], HostMatch("web-01", True)),             # the first that matches
    (["old-01"], HostMatch("old-01", False)),                        # in the inventory, unmanaged
    (["nobody.example", "ghost"], HostMatch("nobody.example", False)),
    ([], HostMatch(UNKNOWN_HOST, False)),
])
def test_resolve(candidates: list[str], expected: HostMatch) -> None:
    assert FLEET.resolve(candidates) == expected


def test_an_ipv6_address_is_never_a_short_name() -> None:
    d = HostDirectory([Host("fe80", "10.0.0.5")])
    assert d.resolve(["fe80::1"]) == HostMatch("fe80::1", False)
    assert len(d) == 1
