"""Words and numbers for people: counted nouns, durations, and text from outside made
safe to print, the same on every surface.

``ccm`` output, the TUI, Slack, PagerDuty and Grafana annotations all write counts
and durations through these, so an MTTR reads the same wherever it is shown.
:func:`printable` is how every human-readable output shows a value that came from
outside CCM (an alert's labels and summary, an inventory, an agent's transcript).
"""

from __future__ import annotations

import re


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


# C0 controls, DEL and C1 controls; the line and paragraph separators (which some
# terminals and every str.splitlines() take for a new line); and the bidirectional
# overrides and isolates, which make a terminal show text in another order than it is.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                     "\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BLOCK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                           "\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    c = match.group()
    if c in _NAMED:
        return _NAMED[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(value: object, *, block: bool = False) -> str:
    """``value`` as text that cannot act on a terminal: every control character shown
    as an escape (ESC as ``\\x1b``, a carriage return as ``\\r``, a new line as ``\\n``).

    Alerts, inventories and transcripts are stored verbatim; a label holding ESC[2J,
    an OSC 52 clipboard write or a carriage return followed by a fake ``ccm:`` line
    would otherwise reach the engineer's terminal as it is. ``block`` keeps new lines
    and tabs (and reads a CRLF line end as a new line), for a value shown as several
    lines of its own (command output); a value in a table cell or on one line is never
    ``block``, so it cannot add a row. ``None`` reads as an empty string.
    """
    text = "" if value is None else str(value)
    if block:
        return _UNSAFE_BLOCK.sub(_visible, text.replace("\r\n", "\n"))
    return _UNSAFE.sub(_visible, text)


__all__ = ["duration", "plural", "printable"]
