"""Host lists folded into numeric ranges, and back: ``web-[01-10,12]``.

The notation of pdsh, ClusterShell and Slurm, which on-call engineers already read:
a summary of 200 hosts says ``web-[001-180,182-200]`` rather than two hundred
names, and the same text pasted into ``--hosts`` selects those hosts again.

A bracket holds comma-separated numbers and ``LOW-HIGH`` ranges; numbers keep the
width of their low bound (``[08-11]`` is 08, 09, 10, 11). So as not to change what a
glob means, a bracket is a range only when it holds a comma, or a ``LOW-HIGH`` with a
bound of two digits or more: ``web-[13]`` stays the glob "web-1 or web-3", and
``web-[1-3]`` reads the same either way. What a range expands to is still matched as
a glob, so ``rack[1-2]-n[08-10]`` works.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ccm_tui.core.errors import InventoryError

#: Most names one range term may stand for (``[0-99999999]`` is a typo, not a fleet).
MOST_NAMES = 100_000

_DIGITS = re.compile(r"\d+")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_RANGE_BODY = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
_GLOB = set("[]*?,!&")


def _is_range(body: str) -> bool:
    if not _RANGE_BODY.match(body):
        return False
    return "," in body or ("-" in body and any(len(n) > 1 for n in body.split("-")))


def is_range(term: str) -> bool:
    """Whether ``term`` holds a numeric range bracket (``web-[01-10]``)."""
    return any(_is_range(m.group(1)) for m in _BRACKET.finditer(term))


def split_terms(pattern: str) -> list[str]:
    """``pattern`` split on the commas outside brackets, each term stripped.

    Raises :class:`InventoryError` for a ``[`` never closed: the rest of the pattern
    would otherwise read as one term that matches nothing.
    """
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(pattern):
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
        elif ch == "," and not depth:
            terms.append(pattern[start:i].strip())
            start = i + 1
    if depth:
        raise InventoryError(f"host pattern {pattern!r} opens a '[' it never closes",
                             hint="close the range or glob, e.g. web-[01-10] or web-0[1-5]")
    terms.append(pattern[start:].strip())
    return terms


def _numbers(body: str, term: str) -> list[str]:
    out: list[str] = []
    for part in body.split(","):
        low, _, high = part.partition("-")
        if not high:
            out.append(low)
            continue
        a, b = int(low), int(high)
        if b < a:
            raise InventoryError(f"host range {term!r} runs backwards ({part})",
                                 hint=f"write the low bound first: [{high}-{low}]")
        if b - a + 1 > MOST_NAMES:
            raise InventoryError(f"host range {term!r} stands for {b - a + 1:,} names",
                                 hint=f"a range may name at most {MOST_NAMES:,} hosts")
        out.extend(f"{n:0{len(low)}d}" for n in range(a, b + 1))
    return out


def expand(term: str) -> list[str]:
    """The names a range term stands for, in order (``[term]`` when it holds none).

    Several brackets multiply out (``r[1-2]-n[01-02]``: r1-n01, r1-n02, r2-n01, r2-n02).
    Raises :class:`InventoryError` for a backwards or oversized range.
    """
    names = [""]
    pos = 0
    for m in _BRACKET.finditer(term):
        if not _is_range(m.group(1)):
            continue
        head = term[pos:m.start()]
        names = [n + head + k for n in names for k in _numbers(m.group(1), term)]
        if len(names) > MOST_NAMES:
            raise InventoryError(f"host range {term!r} stands for over {MOST_NAMES:,} names",
                                 hint="split it, or use a glob (web-*) or group:NAME")
        pos = m.end()
    return [n + term[pos:] for n in names]


def _runs(numbers: list[int], width: int) -> str:
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"{start:0{width}d}" if start == prev
                     else f"{start:0{width}d}-{prev:0{width}d}")
        if n is not None:
            start = prev = n
    return ",".join(parts)


def _family(name: str, pos: int) -> tuple[tuple[str, str, int], int] | None:
    """((prefix, suffix, width), number) around the ``pos``-th run of digits from the end."""
    runs = list(_DIGITS.finditer(name))
    if pos >= len(runs):
        return None
    m = runs[-1 - pos]
    return (name[:m.start()], name[m.end():], len(m.group())), int(m.group())


def fold(names: Iterable[str]) -> list[str]:
    """``names`` folded into range terms, in the order each term's first name appears:
    ``web-01, web-02, web-03, db-1`` → ``["web-[01-03]", "db-1"]``.

    Names fold together when they differ in one number only, written with as many
    digits (``web-9`` and ``web-10`` stay apart, since no range gives both back); the
    last number is tried first (``r1.dc2, r2.dc2`` → ``r[1-2].dc2``). A name alone in
    its family, without digits or with pattern characters is kept as it is;
    duplicates are dropped.
    """
    unique = list(dict.fromkeys(names))
    pending = [n for n in unique if not (_GLOB & set(n))]
    term_of: dict[str, str] = {}
    pos = 0
    while pending:
        families: dict[tuple[str, str, int], list[tuple[int, str]]] = {}
        for name in pending:
            found = _family(name, pos)
            if found is not None:
                families.setdefault(found[0], []).append((found[1], name))
        if not families:
            break
        for (prefix, suffix, width), members in families.items():
            if len(members) > 1:  # one run of single digits (h[1-3]): a range and a glob alike
                term = f"{prefix}[{_runs(sorted(n for n, _ in members), width)}]{suffix}"
                term_of.update((name, term) for _, name in members)
        pending = [n for n in pending if n not in term_of]
        pos += 1
    return list(dict.fromkeys(term_of.get(name, name) for name in unique))


def folded(names: Iterable[str]) -> str:
    """:func:`fold` joined with ``, `` (what a summary prints)."""
    return ", ".join(fold(names))


__all__ = ["MOST_NAMES", "expand", "fold", "folded", "is_range", "split_terms"]
