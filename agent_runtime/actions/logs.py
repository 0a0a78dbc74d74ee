"""Log actions (read-only): tail and grep of log files and of the systemd journal, bounded."""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Tuple

from agent_runtime.actions._exec import run_command, which
from agent_runtime.actions.base import (
    ActionContext,
    ActionError,
    ActionResult,
    action,
    require,
    resolve_path,
)
from agent_runtime.actions.services import check_unit_name

__all__ = ["journal_grep", "journal_tail", "log_grep", "log_tail", "read_tail"]

#: Longest line reported (characters); longer lines are cut and marked.
LINE_LIMIT = 4096
#: Most bytes read from the end of a file by ``log_tail``.
TAIL_BYTES = 4 * 1024 * 1024
#: Most bytes scanned from the end of a file by ``log_grep`` (default of ``max_bytes``).
GREP_BYTES = 64 * 1024 * 1024
#: Most journal lines fetched for ``journal_grep``.
JOURNAL_SCAN = 20000


def _cut(line: str) -> str:
    return line if len(line) <= LINE_LIMIT else line[:LINE_LIMIT] + " [...]"


def read_tail(path: str, lines: int, max_bytes: int) -> Tuple[List[str], bool]:
    """The last *lines* lines of *path*, reading at most *max_bytes* from its end.

    Returns ``(lines, truncated)``; truncated means the file holds more than was returned.
    """
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        pos = size
        buf = b""
        while pos > 0 and buf.count(b"\n") <= lines and size - pos < max_bytes:
            step = min(65536, pos, max_bytes - (size - pos))
            pos -= step
            fh.seek(pos)
            buf = fh.read(step) + buf
    text = buf.decode("utf-8", "replace")
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    if pos > 0 and parts:
        parts.pop(0)  # a partial first line
    out = parts[-lines:] if lines > 0 else []
    return [_cut(x) for x in out], pos > 0 or len(parts) > len(out)


def _compile(pattern: str) -> "re.Pattern[str]":
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ActionError(f"param 'pattern': invalid regex {pattern!r}: {exc}") from exc


@action("log_tail", read_only=True, params={"path": "str", "lines": "int=50"})
def log_tail(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """The last ``lines`` lines of a log file (reads at most 4 MiB from its end)."""
    require(0 < params["lines"] <= 10000, "param 'lines': must be 1..10000")
    real = resolve_path(ctx, params, "path")
    require(os.path.isfile(real), f"param 'path': {params['path']!r} is not a file")
    out, truncated = read_tail(real, params["lines"], TAIL_BYTES)
    return ActionResult(True, f"{len(out)} lines of {params['path']}",
                        {"path": params["path"], "lines": out, "count": len(out), "truncated": truncated})


@action("log_grep", read_only=True, params={
    "path": "str", "pattern": "str", "max_matches": "int=50", "max_bytes": f"int={GREP_BYTES}",
})
def log_grep(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Lines of a log file matching a regex: the most recent ``max_matches``, scanning at most ``max_bytes`` from the end."""
    require(params["max_matches"] > 0, "param 'max_matches': must be > 0")
    require(params["max_bytes"] > 0, "param 'max_bytes': must be > 0")
    rx = _compile(params["pattern"])
    real = resolve_path(ctx, params, "path")
    require(os.path.isfile(real), f"param 'path': {params['path']!r} is not a file")
    size = os.path.getsize(real)
    start = max(0, size - params["max_bytes"])
    found: List[str] = []
    total = 0
    with open(real, "rb") as fh:
        fh.seek(start)
        if start:
            fh.readline()  # skip the partial first line
        for raw in fh:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if rx.search(line):
                total += 1
                found.append(_cut(line))
                if len(found) > params["max_matches"]:
                    del found[0]
    truncated = start > 0 or total > len(found)
    return ActionResult(True, f"{total} matches in {params['path']}", {
        "path": params["path"], "lines": found, "count": len(found), "total_matches": total,
        "truncated": truncated, "scanned_bytes": size - start,
    })


def _journal(unit: str, lines: int, ctx: ActionContext) -> Tuple[List[str], str]:
    if not which("journalctl", ctx):
        return [], "journalctl not found"
    res = run_command(["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "short-iso"],
                      ctx, limit=8 * 1024 * 1024)
    if not res.ok:
        return [], res.error or (res.stderr.strip() or f"journalctl exited {res.exit_code}")[:500]
    out = [ln for ln in res.stdout.splitlines() if ln and not ln.startswith("-- ")]
    return [_cut(x) for x in out], ""


@action("journal_tail", read_only=True, params={"unit": "str", "lines": "int=50"})
def journal_tail(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """The last ``lines`` journal lines of a systemd unit (``journalctl -u``)."""
    check_unit_name(params["unit"], "unit")
    require(0 < params["lines"] <= 10000, "param 'lines': must be 1..10000")
    out, err = _journal(params["unit"], params["lines"], ctx)
    data = {"unit": params["unit"], "lines": out[-params["lines"]:], "count": len(out[-params["lines"]:]),
            "truncated": len(out) >= params["lines"]}
    if err:
        return ActionResult(False, f"journal of {params['unit']}: {err}", data, error=err)
    return ActionResult(True, f"{data['count']} journal lines of {params['unit']}", data)


@action("journal_grep", read_only=True, params={"unit": "str", "pattern": "str", "max_matches": "int=50"})
def journal_grep(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Recent journal lines of a unit matching a regex (scans the last 20000 lines)."""
    check_unit_name(params["unit"], "unit")
    require(params["max_matches"] > 0, "param 'max_matches': must be > 0")
    rx = _compile(params["pattern"])
    out, err = _journal(params["unit"], JOURNAL_SCAN, ctx)
    hits = [ln for ln in out if rx.search(ln)]
    data = {"unit": params["unit"], "lines": hits[-params["max_matches"]:],
            "count": len(hits[-params["max_matches"]:]), "total_matches": len(hits),
            "truncated": len(hits) > params["max_matches"] or len(out) >= JOURNAL_SCAN}
    if err:
        return ActionResult(False, f"journal of {params['unit']}: {err}", data, error=err)
    return ActionResult(True, f"{len(hits)} matching journal lines of {params['unit']}", data)
