"""Themes as data: ``themes/*.tcss`` files, one per theme, shipped in the wheel.

Each file scopes its rules under ``App.theme-<name>`` and names the Textual base
theme it builds on in its first line (``/* base: textual-dark */``). The app loads
every file once and switches by changing the app's class and base theme, so
``ctrl+t`` is instant and needs no reparse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from textual.theme import Theme

import ccm_tui

#: The order ``ctrl+t`` cycles through.
ORDER = ("dark", "light", "high-contrast")
_BASE = re.compile(r"/\*\s*base:\s*([\w-]+)\s*\*/")

#: A Textual base theme for the high-contrast file: black, white and bright yellow.
HIGH_CONTRAST = Theme(
    name="ccm-high-contrast", primary="#ffff00", secondary="#00ffff", accent="#ffff00",
    foreground="#ffffff", background="#000000", surface="#000000", panel="#1a1a1a",
    success="#00ff00", warning="#ffff00", error="#ff5555", dark=True,
)


@dataclass(frozen=True, slots=True)
class ThemeFile:
    """One theme: its name, its file and the Textual theme it builds on."""

    name: str
    path: Path
    base: str


def themes_dir() -> Path:
    """Where the theme files are: in the wheel (``ccm_tui/_data/themes``) or the checkout."""
    pkg = Path(ccm_tui.__file__).resolve().parent
    for candidate in (pkg / "_data" / "themes", pkg.parent / "themes"):
        if candidate.is_dir():
            return candidate
    return pkg / "_data" / "themes"


def available() -> dict[str, ThemeFile]:
    """Every theme found, by name, in :data:`ORDER` first."""
    found: dict[str, ThemeFile] = {}
    for path in sorted(themes_dir().glob("*.tcss")):
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        m = _BASE.search(first)
        found[path.stem] = ThemeFile(path.stem, path, m.group(1) if m else "textual-dark")
    ordered = {n: found[n] for n in ORDER if n in found}
    ordered.update({n: t for n, t in found.items() if n not in ordered})
    return ordered


def next_theme(current: str, names: list[str]) -> str:
    """The theme after ``current``, cycling."""
    if current not in names:
        return names[0]
    return names[(names.index(current) + 1) % len(names)]
