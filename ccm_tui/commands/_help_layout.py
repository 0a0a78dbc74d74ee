"""How ``ccm … --help`` lays a command's text out, where typer's own falls short."""

from __future__ import annotations

import inspect
import re
from typing import Any


def unwrap_help(cmd: Any) -> None:
    """Join the source-wrapped lines of each paragraph of a command's help and epilog.

    typer (0.29) joins the lines of a command's first paragraph but prints the later
    ones as written, so a docstring wrapped at 90 characters broke mid-sentence on an
    80-column terminal ("...once the hub has stored" / "it; while ..."). Joined, the
    terminal wraps them. A paragraph that is laid out on purpose stays as written: one
    starting with ``\b``, or with a line that is a list item or indented.
    """
    for attr in ("help", "epilog"):
        text = getattr(cmd, attr, None)
        if text:
            body, cut, rest = inspect.cleandoc(text).partition("\f")
            setattr(cmd, attr, "\n\n".join(_unwrapped(p) for p in body.split("\n\n"))
                    + cut + rest)


#: A line that is laid out on purpose: indented, a list item or a table row.
_LAID_OUT = re.compile(r"\s|[-*•|] |\d+[.)] ")


def _unwrapped(paragraph: str) -> str:
    laid_out = paragraph.startswith("\b") or any(
        _LAID_OUT.match(line) for line in paragraph.split("\n")[1:])
    return paragraph if laid_out else " ".join(paragraph.split())


def plain_flags(cmd: Any) -> None:
    """List a command's flags in ``--help`` without a value type.

    typer ≥ 0.27 writes every option's type next to it, flags included: ``--json
    <bool>`` reads as if the flag took a value (``--json true``). An empty metavar
    shows nothing there; ``--help`` itself is made on demand, so it gets the same
    treatment when it is.
    """
    for p in cmd.params:
        if getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
    made = cmd.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    cmd.get_help_option = get_help_option


__all__ = ["plain_flags", "unwrap_help"]
