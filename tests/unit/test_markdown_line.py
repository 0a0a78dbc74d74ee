"""md_line: a value that starts a line or a list item opens no block (heading, list,
quote, code, rule); md_text's entity escape survives apprise's own Markdown converter."""

from __future__ import annotations

import html

import pytest
from apprise import NotifyFormat
from apprise.conversion.format import convert_between
from markdown_it import MarkdownIt

from ccm_tui.core.markdown import md_line, md_text

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
STARTS = ["# h", "###### h", "- x", "+ x", "* x", "> q", "1. x", "7) x", "---", "===", "- - -",
          "___", "```", "~~~", "    code", "<div>", "[a]: http://e.example", "-", "#", "1."]


@pytest.mark.parametrize("value", STARTS)
def test_a_line_start_opens_no_block(value: str) -> None:
    shown = PARSER.render(md_line(value))
    assert shown == f"<p>{html.escape(value.strip(), quote=False)}</p>\n"
    item = PARSER.render("- " + md_line(value))
    assert item == f"<ul>\n<li>{html.escape(value.strip(), quote=False)}</li>\n</ul>\n"
    after = PARSER.render("intro\n" + md_line(value))  # no setext heading, no new block
    assert after == f"<p>intro\n{html.escape(value.strip(), quote=False)}</p>\n"


def test_ordinary_line_starts_stay_as_they_are() -> None:
    assert [md_line(v) for v in ("-1 errors", "10.0.0.1", "#7 in queue", "web_01")] == \
        ["-1 errors", "10.0.0.1", "#7 in queue", "web_01"]


@pytest.mark.parametrize("value", ["&amp; R&D", "&lt;b&gt;", "&#60;", "a\\*b*", "<b>x</b>"])
def test_apprise_markdown_shows_the_value(value: str) -> None:
    shown = convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML, md_text(value))
    assert shown.startswith("<p>") and html.unescape(shown[3:-4]) == value
