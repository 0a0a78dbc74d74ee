"""``ccm runbooks lint``: every problem in a set of runbook files, with file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent_runtime.runbook import Issue
from agent_runtime.runbook_safety import (
    deletion_warnings,
    option_warnings,
    threshold_warnings,
)
from ccm_tui.runbooks.loader import (
    FileError,
    LoadedRunbook,
    _issue_error,
    builtin_dir,
    discover,
    duplicate_errors,
    load_file,
)


@dataclass(frozen=True)
class LintIssue:
    """One lint finding: ``file:line:column: reason``; ``severity`` is ``error`` (the
    agent refuses the runbook) or ``warning`` (a reason starting "warning:")."""

    file: str
    line: int
    column: int
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"file": self.file, "line": self.line, "column": self.column,
                "reason": self.reason, "severity": self.severity}


@dataclass
class LintReport:
    """The files checked and the issues found."""

    files: list[str]
    issues: list[LintIssue]

    @property
    def ok(self) -> bool:
        """True when no error was found (warnings do not count)."""
        return not [i for i in self.issues if i.severity == "error"]


def _issue(err: FileError) -> LintIssue:
    return LintIssue(str(err.file), err.line, err.column, err.reason)


def _warnings(rb: LoadedRunbook) -> list[LintIssue]:
    """Warnings for a valid runbook: shell slots that could take an option-looking value,
    thresholds a label sets with no default of the runbook's own, and files to delete
    that a label picks."""
    found = option_warnings(rb.data) + threshold_warnings(rb.data) \
        + deletion_warnings(rb.data) if rb.data is not None and not rb.errors else []
    if not found:
        return []
    try:
        root = yaml.compose(Path(rb.path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        root = None
    out = []
    for path, message in found:
        err = _issue_error(Path(rb.path), root, Issue(path, message))
        out.append(LintIssue(str(err.file), err.line, err.column, f"warning: {err.reason}",
                             "warning"))
    return sorted(out, key=lambda i: (i.line, i.column))


def lint_paths(paths: Sequence[Path] = (), actions: Any = None) -> LintReport:
    """Lint the runbook files in ``paths`` (default: the built-in folder)."""
    targets = list(paths) or [builtin_dir()]
    missing = [p for p in targets if not Path(p).exists()]
    files = discover([p for p in targets if Path(p).exists()])
    # A user runbook may replace a built-in one of the same id: not a duplicate.
    shipped = builtin_dir().resolve()
    loaded = [load_file(f, actions, builtin=Path(f).resolve().is_relative_to(shipped))
              for f in files]
    issues = [LintIssue(str(p), 0, 0, "no such file or folder") for p in missing]
    for rb in loaded:
        issues.extend(_issue(e) for e in rb.errors)
        issues.extend(_warnings(rb))
    issues.extend(_issue(e) for e in duplicate_errors(loaded))
    return LintReport([str(f) for f in files], issues)
