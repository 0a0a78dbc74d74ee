"""Text from outside CCM placed in Markdown, shown as it is.

``ccm report --markdown`` is pasted into wikis and chats. A host, alert or runbook name
is stored verbatim, so a ``|`` in it would split a table cell in two, a backtick open a
code span that swallows the rest of the line, ``<`` start raw HTML and ``[x](url)``
make a link. These helpers escape such values (after :func:`~ccm_tui.core.text.printable`,
so control characters and new lines are escapes too) and leave ordinary names as they
are: ``disk_cleanup`` or ``web-01`` read the same in the raw text.
"""

from __future__ import annotations

import re

from ccm_tui.core.text import printable

# The characters that start Markdown (CommonMark and GFM: tables, strikethrough, math)
# inside a line; a backslash before ASCII punctuation (or at the end, where the text
# that follows may be punctuation), which would otherwise escape the next character;
# an underscore at a word's edge (inside a word it never makes emphasis); and an ``&``
# that would read as an entity (``&lt;``), written ``&amp;`` rather than ``\&``: apprise's
# Markdown (Python-Markdown) drops that backslash and shows ``&lt;`` as ``<``.
_INLINE = re.compile(r"[`*\[\]<>|~$]|\\(?=[!-/:-@\[-`{-~]|\Z)"
                     r"|(?<![^\W_])_|_(?![^\W_])|&(?=#?\w+;)")
_TICKS = re.compile("`+")
# What opens a block at the start of a line once md_text has escaped the rest (``>``,
# ``*``, backticks, ``~``, ``<`` and ``_`` are escaped already): an ATX heading (``#`` to
# ``######``, then a space or the end), a bullet (``-``, ``+``), a thematic break or
# setext underline (``---``, ``===``), and an ordered list item (``1.``, ``1)``).
_LEAD = re.compile(r"#{1,6}(?= |$)|[-+=](?=[-+= ]|$)")
_ORDERED = re.compile(r"\d{1,9}(?=[.)](?: |$))")


def md_text(value: object) -> str:
    """``value`` as Markdown inline text (a table cell, a list item) that renders as
    the value itself: ``web|01`` becomes ``web\\|01``; control characters as escapes."""
    return _INLINE.sub(_escape, printable(value))


def _escape(match: re.Match[str]) -> str:
    return "&amp;" if match.group() == "&" else "\\" + match.group()


def md_line(value: object) -> str:
    """``value`` as Markdown text that starts a line or a list item (``- {value}``):
    as :func:`md_text`, and a start that would open a block (``# x``, ``- x``, ``1. x``,
    ``---``) is escaped too. Spaces at either end are dropped: four at the start would
    open a code block, two at the end break the line, and Markdown shows neither."""
    text = md_text(value).strip(" ")
    ordered = _ORDERED.match(text)
    if ordered:
        return f"{text[:ordered.end()]}\\{text[ordered.end():]}"
    return "\\" + text if _LEAD.match(text) else text


def md_code(value: object) -> str:
    """``value`` as a Markdown code span, whatever backticks it holds (the fence is
    longer than any run of backticks in it). Not for a table cell: a ``|`` in a code
    span still ends the cell there."""
    text = printable(value)
    fence = "`" * (max((len(run) for run in _TICKS.findall(text)), default=0) + 1)
    # a code span drops one space at each end when both are there; a backtick at an
    # end needs a space between it and the fence
    pad = " " if text[:1] == "`" or text[-1:] == "`" or (
        text[:1] == " " and text[-1:] == " " and text.strip()) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


__all__ = ["md_code", "md_line", "md_text"]
