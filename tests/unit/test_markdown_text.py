"""Markdown escapes render as the value itself, through a CommonMark + GFM parser."""

from __future__ import annotations

import html

import pytest
from markdown_it import MarkdownIt

from ccm_tui.core.markdown import md_code, md_text

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


@pytest.mark.parametrize("value", ["web|01", "a\\", "a\\*b*", "_x_ __y__ *z*", "<b>x</b>",
                                   "[x](http://e.example)", "~~x~~ $y$", "&amp; R&D", "`x`"])
def test_text_renders_as_it_is(value: str) -> None:
    shown = PARSER.renderInline(md_text(value) + "|")
    assert html.unescape(shown) == value + "|"


@pytest.mark.parametrize("value", ["a`b", "`a", "a``", " a ", "x|<y>"])
def test_code_renders_as_it_is(value: str) -> None:
    shown = PARSER.renderInline(md_code(value))
    assert shown.startswith("<code>") and html.unescape(shown[6:-7]) == value


def test_ordinary_names_stay_as_they_are() -> None:
    assert [md_text(n) for n in ("disk_cleanup", "web-01.example", "node:cpu")] == \
        ["disk_cleanup", "web-01.example", "node:cpu"]
