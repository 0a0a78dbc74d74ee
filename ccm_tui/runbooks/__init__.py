"""Runbooks on the central side: find, load (YAML with line numbers), lint, convert.

The schema itself lives in :mod:`agent_runtime.runbook` (shared with the agent);
this package adds files, YAML and line-numbered errors.
"""

from ccm_tui.runbooks.lint import LintIssue, lint_paths
from ccm_tui.runbooks.loader import (
    Catalog,
    LoadedRunbook,
    builtin_dir,
    discover,
    load_catalog,
    load_file,
    to_agent_json,
)

__all__ = [
    "Catalog",
    "LintIssue",
    "LoadedRunbook",
    "builtin_dir",
    "discover",
    "lint_paths",
    "load_catalog",
    "load_file",
    "to_agent_json",
]
