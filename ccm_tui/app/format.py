"""Pure formatting helpers for the control centre: ages, sparklines, percentages.

No textual here and no clock: every function that needs "now" takes it, so the
rendered screen is deterministic under a fixed clock (the snapshot tests use one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.cells import cell_len, set_cell_size

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], width: int) -> str:
    """The last ``width`` values (0–100) as block characters, left-padded with spaces."""
    vals = [v for v in values if v is not None][-width:]
    chars = [SPARK[min(len(SPARK) - 1, max(0, int(v / 100 * len(SPARK))))] for v in vals]
    return "".join(chars).rjust(width)


def pct(value: float | None) -> str:
    """``45%`` (3 characters + ``%``), or `` --%`` when unknown."""
    return " --%" if value is None else f"{min(999, round(value)):3d}%"


def age(then: datetime | None, now: datetime) -> str:
    """A short age: ``42s``, ``5m``, ``3h``, ``2d`` (``-`` when unknown)."""
    if then is None:
        return "-"
    s = max(0, int((now - then).total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells (with ``…``), padded to exactly ``width``.

    Measured in cells, not characters: a CJK character or an emoji takes two, so a host
    name of them cut by its length overflowed its tile and pushed the grid out of line.
    """
    if width <= 0:
        return ""
    if cell_len(text) > width:  # a wide character cut in half leaves a space
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def level(value: float | None, warn: float = 80.0, crit: float = 90.0) -> str:
    """``ok``, ``warning`` or ``critical`` for a usage percentage."""
    if value is None:
        return "ok"
    if value >= crit:
        return "critical"
    return "warning" if value >= warn else "ok"
