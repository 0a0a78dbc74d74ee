"""Counted nouns in messages."""

from __future__ import annotations

from ccm_tui.core.text import plural


def test_plural() -> None:
    assert plural(1, "host") == "1 host"
    assert plural(0, "host") == "0 hosts"
    assert plural(21, "host") == "21 hosts"
    assert plural(2, "this", "these") == "2 these"
