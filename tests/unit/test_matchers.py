"""Label matchers: anchored regular expressions, and what a stored silence may hold."""

from __future__ import annotations

import pytest

from ccm_tui.core.errors import DomainError
from ccm_tui.core.matchers import Matcher, MatchOp, parse_matcher


@pytest.mark.parametrize(("text", "host", "hit"), [
    ("host=~web-.*", "web-01", True),
    ("host=~web", "web-01", False),  # anchored: the whole value must match
    ("host=~web|db", "db", True),
    ("host!~web-.*", "db-01", True),
])
def test_regular_expressions_match_the_whole_value(text: str, host: str, hit: bool) -> None:
    assert parse_matcher(text).matches({"host": host}) is hit


@pytest.mark.parametrize(("value", "error"), [
    ("web-[", "unterminated character set at position 4"),
    ("web)|(?:db", "unbalanced parenthesis at position 3"),  # would unanchor the pattern
    ("(", "missing ), unterminated subpattern at position 0"),
])
def test_a_pattern_must_compile_on_its_own(value: str, error: str) -> None:
    with pytest.raises(DomainError, match=r"bad regular expression for host: ") as caught:
        Matcher("host", MatchOp.RE, value)
    assert str(caught.value).endswith(error)


def test_a_stored_matcher_an_older_ccm_accepted_still_loads_and_matches_as_before() -> None:
    stored = Matcher.from_dict({"name": "host", "op": "=~", "value": "web)|(?:db"})
    assert str(stored) == "host=~web)|(?:db"
    assert stored.matches({"host": "web-01"}) and stored.matches({"host": "db"})
    assert not stored.matches({"host": "app-01"})
    with pytest.raises(DomainError):
        Matcher.from_dict({"name": "host", "op": "=~", "value": "("})
    with pytest.raises(DomainError):
        Matcher.from_dict({"name": "host", "op": "=", "value": "x" * 5000})
