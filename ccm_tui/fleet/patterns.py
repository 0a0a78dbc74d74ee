"""Host patterns: which hosts of the inventory a command is about.

A pattern is a comma-separated list of terms::

    all                every host (also ``*``)
    web-*              a glob on host names (``?``, ``[..]`` work too); a plain name
    web-[01-10,12]     a range, as summaries fold host lists (:mod:`.hostlist`)
    group:db           hosts in a group (the name may be a glob: ``group:web-*``)
    label:env=prod     hosts whose label matches (the value may be a glob)
    label:env          hosts that have the label at all
    !pattern           minus these hosts (``all,!group:db``; alone: all hosts but these)
    &pattern           only hosts also matching this (``group:web,&label:env=prod``)

Plain terms are united; ``&`` terms then intersect; ``!`` terms then subtract. The
result keeps the inventory's order. A plain host name (no wildcard) that names no
host is an error, so a typo never silently does nothing; so are a group, a label
key and a label value (each without wildcards) that no host has, since a typo in
``all,!group:prod`` would reach the hosts it meant to leave out. An empty pattern is
an error too (``--hosts "$HOSTS"`` with the variable unset must not reach every host).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING

from ccm_tui.core.errors import InventoryError
from ccm_tui.fleet.hostlist import expand, is_range, split_terms

if TYPE_CHECKING:
    from ccm_tui.fleet.inventory import FleetHost

_WILDCARDS = set("*?[")


@lru_cache(maxsize=256)
def _globs(text: str) -> tuple[str, ...]:
    """The globs ``text`` stands for: its range expanded, else itself."""
    return tuple(expand(text)) if is_range(text) else (text,)


def _matches(name: str, text: str) -> bool:
    return any(fnmatchcase(name, g) for g in _globs(text))


def _term_matches(term: str, host: FleetHost) -> bool:
    if term in {"all", "*"}:
        return True
    if term.startswith("group:"):
        want = term[6:]
        return any(_matches(g, want) for g in host.groups)
    if term.startswith("label:"):
        key, eq, value = term[6:].partition("=")
        if key not in host.labels:
            return False
        return not eq or fnmatchcase(host.labels[key], value)
    return _matches(host.name, term)


def _some(names: Iterable[str], most: int = 8) -> str:
    found = sorted(set(names))
    more = f" and {len(found) - most} more" if len(found) > most else ""
    return ", ".join(found[:most]) + more if found else "none"


def _check_term(term: str, hosts: list[FleetHost]) -> None:
    if not term:
        raise InventoryError("empty term in host pattern",
                             hint="separate terms with single commas, e.g. web-*,group:db")
    if term.startswith("label:") and not term[6:].partition("=")[0]:
        raise InventoryError(f"host pattern {term!r} names no label key",
                             hint="write label:KEY=VALUE, e.g. label:env=prod")
    if term.startswith("group:"):
        _check_group(term, term[6:], hosts)
    elif term.startswith("label:"):
        _check_label(term, hosts)
    elif is_range(term):
        _check_range(term, hosts)
    elif ":" in term and not any(fnmatchcase(h.name, term) for h in hosts):
        raise InventoryError(f"no host matches {term!r}",
                             hint="join terms with commas, not ':' (e.g. group:web,!web-01,"
                             "&label:env=prod); groups are group:NAME, labels label:KEY=VALUE")
    plain = not (_WILDCARDS & set(term)) and ":" not in term and term not in {"all", "*"}
    if plain and not any(h.name == term for h in hosts):
        if any(term in h.groups for h in hosts):
            raise InventoryError(f"no host named {term!r} in the inventory; {term!r} is a group",
                                 hint=f"write group:{term} for the hosts in it")
        raise InventoryError(f"no host named {term!r} in the inventory",
                             hint="separate terms with commas, not spaces (web-01,web-02)"
                             if len(term.split()) > 1 else "list the hosts with `ccm fleet list`")


def _check_range(term: str, hosts: list[FleetHost]) -> None:
    """Like a plain name, every name a range stands for must be a host (a range
    pasted from a summary names only hosts; one typed by hand may hold a typo)."""
    names = {h.name for h in hosts}
    missing = [n for n in _globs(term) if not (_WILDCARDS & set(n)) and n not in names]
    if missing:
        raise InventoryError(f"host range {term!r} names {len(missing)} host"
                             f"{'s' if len(missing) > 1 else ''} not in the inventory: "
                             f"{_some(missing)}",
                             hint="list the hosts with `ccm fleet list`; a glob (web-*) "
                             "takes whichever exist")


def _check_group(term: str, want: str, hosts: list[FleetHost]) -> None:
    """A group named without wildcards must exist: a typo in ``!group:db`` would
    otherwise reach the very hosts it was meant to keep out."""
    if not want:
        raise InventoryError(f"host pattern {term!r} names no group",
                             hint="write group:NAME, e.g. group:web")
    if not (_WILDCARDS & set(want)) and not any(want in h.groups for h in hosts):
        hint = f"its groups: {_some(g for h in hosts for g in h.groups)}"
        if ":" in want:
            hint = "join terms with commas, not ':' (e.g. group:web,group:db); " + hint
        raise InventoryError(f"no host matches {term!r}: the inventory has no group {want!r}",
                             hint=hint)


def _check_label(term: str, hosts: list[FleetHost]) -> None:
    """As for groups: a label key, or a value without wildcards, that no host has."""
    key, eq, value = term[6:].partition("=")
    if _WILDCARDS & set(key):
        return
    if not any(key in h.labels for h in hosts):
        raise InventoryError(f"no host matches {term!r}: no host has a label {key!r}",
                             hint=f"the labels: {_some(k for h in hosts for k in h.labels)}")
    if eq and not (_WILDCARDS & set(value)) and not any(
            h.labels.get(key) == value for h in hosts):
        raise InventoryError(
            f"no host matches {term!r}: no host has {key}={value}",
            hint=f"values of {key}: {_some(h.labels[key] for h in hosts if key in h.labels)}")


def select(hosts: Iterable[FleetHost], pattern: str) -> list[FleetHost]:
    """The hosts matching ``pattern``, in inventory order (possibly none)."""
    pool = list(hosts)
    if not pattern.strip():  # an unset shell variable must not mean the whole fleet
        raise InventoryError("the host pattern is empty",
                             hint="write all for every host, or e.g. web-*, group:db")
    terms = split_terms(pattern)
    include, intersect, exclude = [], [], []
    for t in terms:
        if t.startswith("!"):
            exclude.append(t[1:].strip())
        elif t.startswith("&"):
            intersect.append(t[1:].strip())
        else:
            include.append(t)
    for t in include + intersect + exclude:
        _check_term(t, pool)
    if not include:
        include = ["all"]
    return [
        h for h in pool
        if any(_term_matches(t, h) for t in include)
        and all(_term_matches(t, h) for t in intersect)
        and not any(_term_matches(t, h) for t in exclude)
    ]


def describe(pattern: str) -> str:
    """A short human phrase for a pattern (``all hosts``, ``hosts matching web-*``)."""
    p = pattern.strip()
    return "all hosts" if p in {"", "all", "*"} else f"hosts matching {p}"


__all__ = ["describe", "select"]
