"""Label matchers, as Alertmanager writes them: ``name=value``, ``!=``, ``=~``, ``!~``.

Regular expressions are anchored (they must match the whole value), as in
Alertmanager. Used by silences and maintenance windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from ccm_tui.core.errors import DomainError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
MAX_VALUE = 1024


class MatchOp(StrEnum):
    """How a matcher compares a label value."""

    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(f"(?:{pattern})\\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label. A missing label counts as the empty string."""

    name: str
    op: MatchOp
    value: str

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise DomainError(f"{self.name!r} is not a label name")
        if len(self.value) > MAX_VALUE:
            raise DomainError(f"matcher value for {self.name} is longer than {MAX_VALUE}")
        if self.op in (MatchOp.RE, MatchOp.NRE):
            try:
                # alone first: its own error, with positions in what the user typed, and
                # no 'a)|(b' that would close the anchoring group early and match prefixes
                re.compile(self.value)
                _compiled(self.value)
            except re.error as exc:
                raise DomainError(f"bad regular expression for {self.name}: {exc}") from None

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher."""
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        hit = _compiled(self.value).match(actual[:MAX_VALUE * 4]) is not None
        return hit if self.op is MatchOp.RE else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op.value}{self.value}"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op.value, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> Matcher:
        """A matcher as stored; one an older CCM accepted still loads, unchanged.

        Before a regular expression had to compile on its own, ``web)|(?:db`` was
        accepted (it compiles inside the anchoring group). A stored silence with such a
        value keeps working as it did, rather than making every read of silences fail.
        """
        try:
            return cls(d["name"], MatchOp(d["op"]), d["value"])
        except DomainError:
            if d["op"] not in (MatchOp.RE, MatchOp.NRE) or not _NAME.fullmatch(d["name"]):
                raise
            try:
                _compiled(d["value"])  # the older check
            except re.error:
                raise DomainError(f"bad regular expression for {d['name']}") from None
            stored = object.__new__(cls)
            for key, value in (("name", d["name"]), ("op", MatchOp(d["op"])),
                               ("value", d["value"])):
                object.__setattr__(stored, key, value)
            return stored


def parse_matcher(text: str) -> Matcher:
    """Parse ``host=~web-.*`` (quotes around the value are optional)."""
    m = _MATCHER.match(text)
    if not m:
        raise DomainError(
            f"{text!r} is not a matcher; write name=value, name!=value, name=~regex or name!~regex")
    name, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return Matcher(name, MatchOp(op), value)


def matches_all(matchers: tuple[Matcher, ...] | list[Matcher], labels: dict[str, str]) -> bool:
    """Whether every matcher matches (an empty list matches nothing, never everything)."""
    return bool(matchers) and all(m.matches(labels) for m in matchers)
