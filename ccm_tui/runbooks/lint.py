"""``ccm runbooks lint``: every problem in a set of runbook files, with file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccm_tui.runbooks.loader import (
    FileError,
    builtin_dir,
    discover,
    duplicate_errors,
    load_file,
)


@dataclass(frozen=True)
class LintIssue:
    """One lint error: ``file:line:column: reason``."""

    file: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"file": self.file, "line": self.line, "column": self.column,
                "reason": self.reason}


@dataclass
class LintReport:
    """The files checked and the issues found."""

    files: list[str]
    issues: list[LintIssue]

    @property
    def ok(self) -> bool:
        """True when no issue was found."""
        return not self.issues


def _issue(err: FileError) -> LintIssue:
    return LintIssue(str(err.file), err.line, err.column, err.reason)


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
    issues.extend(_issue(e) for e in duplicate_errors(loaded))
    return LintReport([str(f) for f in files], issues)
