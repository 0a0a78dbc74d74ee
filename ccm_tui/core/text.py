"""Words and numbers for people: counted nouns and durations, the same on every surface.

``ccm`` output, the TUI, Slack, PagerDuty and Grafana annotations all write counts
and durations through these, so an MTTR reads the same wherever it is shown.
"""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and ``word``, in the plural (``words``, else ``word + "s"``) unless ``n`` is 1."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def duration(seconds: float, *, fine: bool = False) -> str:
    """A short duration: ``42s``, ``4m12s`` (seconds kept below ten minutes), ``5m``,
    ``3h12m``, ``2d4h``. Negative durations read as ``0s``.

    ``fine`` keeps a tenth of a second below ten seconds (``1.3s``), for times to fix:
    a fix that took 0.4 s is not "0s".
    """
    if fine and 0 <= seconds < 9.95:
        return f"{seconds:.1f}s"
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, r = divmod(s, 60)
        return f"{m}m{r:02d}s" if r and m < 10 else f"{m}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m:02d}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d{h}h" if h else f"{d}d"


__all__ = ["duration", "plural"]
