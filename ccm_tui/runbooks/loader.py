"""Load runbook YAML files, keeping the position of every key for error messages.

Search path: the built-in ``runbooks/`` folder (next to the package in a source
checkout, ``ccm_tui/_data/runbooks`` in a wheel) and then the user's folders;
a user runbook with the same ``id`` as a built-in one replaces it.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent_runtime.runbook import Issue, PathPart, validate

SUFFIXES = (".yaml", ".yml")
_PACKAGE = Path(__file__).resolve().parent.parent


def builtin_dir() -> Path:
    """The built-in runbooks folder (repo checkout first, then the wheel's data)."""
    for candidate in (_PACKAGE.parent / "runbooks", _PACKAGE / "_data" / "runbooks"):
        if candidate.is_dir():
            return candidate
    return _PACKAGE / "_data" / "runbooks"


@dataclass
class FileError:
    """A problem tied to a place in a file (line and column are 1-based; 0 = unknown)."""

    file: Path
    line: int
    column: int
    reason: str


@dataclass
class LoadedRunbook:
    """One runbook file: its data (``None`` if it did not parse) and its problems."""

    path: Path
    data: dict[str, Any] | None
    errors: list[FileError] = field(default_factory=list)
    builtin: bool = False

    @property
    def id(self) -> str:
        """The runbook id (the file stem when the data has none)."""
        if self.data and isinstance(self.data.get("id"), str):
            return str(self.data["id"])
        return self.path.stem

    @property
    def ok(self) -> bool:
        """True when the file parsed and validated."""
        return self.data is not None and not self.errors


def _locate(node: yaml.Node | None, path: Sequence[PathPart]) -> yaml.Node | None:
    """The deepest node along ``path`` (so an error on a missing key points at its parent)."""
    current = node
    for index, part in enumerate(path):
        if isinstance(current, yaml.MappingNode) and isinstance(part, str):
            nxt = None
            for key_node, value_node in current.value:
                if key_node.value == part:
                    # an unknown-key error is about the key itself
                    nxt = key_node if index == len(path) - 1 else value_node
                    break
            if nxt is None:
                return current
            current = nxt
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                return current
            current = current.value[part]
        else:
            return current
    return current


def _plain(value: Any) -> Any:
    """YAML data made JSON-clean (dates become ISO text, keys become strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value


def _issue_error(file: Path, root: yaml.Node | None, issue: Issue) -> FileError:
    node = _locate(root, issue.path)
    line = node.start_mark.line + 1 if node is not None else 1
    col = node.start_mark.column + 1 if node is not None else 1
    return FileError(file, line, col, f"{issue.where()}: {issue.message}")


def load_file(path: Path, actions: Any = None, builtin: bool = False) -> LoadedRunbook:
    """Parse and validate one YAML file; every error carries file, line and reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return LoadedRunbook(path, None, [FileError(path, 0, 0, f"cannot read: {exc}")], builtin)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        detail = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        reason = f"YAML syntax: {detail}"
        return LoadedRunbook(path, None, [FileError(path, line, col, reason)], builtin)
    except yaml.YAMLError as exc:
        return LoadedRunbook(path, None, [FileError(path, 0, 0, f"YAML: {exc}")], builtin)
    nodes = [n for n in nodes if n is not None]
    if len(nodes) != 1:
        line = nodes[1].start_mark.line + 1 if len(nodes) > 1 else 1
        return LoadedRunbook(path, None, [FileError(
            path, line, 1, f"a runbook file holds exactly one YAML document, found {len(nodes)}")], builtin)
    root = nodes[0]
    try:
        data = _plain(yaml.SafeLoader(text).get_single_data())
    except yaml.YAMLError as exc:  # e.g. an unhashable key
        return LoadedRunbook(path, None, [FileError(path, 1, 1, f"YAML: {exc}")], builtin)
    issues = validate(data, actions)
    errors = [_issue_error(path, root, i) for i in issues]
    errors.sort(key=lambda e: (e.line, e.column))
    return LoadedRunbook(path, data if isinstance(data, dict) else None, errors, builtin)


def discover(paths: Iterable[Path]) -> list[Path]:
    """The runbook files in ``paths`` (files as given, folders searched recursively)."""
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file()))
        else:
            found.append(p)
    return found


@dataclass
class Catalog:
    """Every loaded runbook, in search-path order, plus cross-file problems."""

    runbooks: list[LoadedRunbook]
    errors: list[FileError] = field(default_factory=list)

    def valid(self) -> list[LoadedRunbook]:
        """The effective runbooks: valid ones, later folders overriding earlier ids."""
        by_id: dict[str, LoadedRunbook] = {}
        for rb in self.runbooks:
            if rb.ok:
                by_id[rb.id] = rb
        return list(by_id.values())

    def get(self, runbook_id: str) -> LoadedRunbook | None:
        """The effective runbook with this id (valid or not, later wins)."""
        hit = None
        for rb in self.runbooks:
            if rb.id == runbook_id:
                hit = rb if rb.ok or hit is None or not hit.ok else hit
        return hit

    def all_errors(self) -> list[FileError]:
        """File errors first, then the cross-file ones."""
        return [e for rb in self.runbooks for e in rb.errors] + self.errors


def load_catalog(user_dirs: Sequence[Path] = (), include_builtin: bool = True,
                 actions: Any = None) -> Catalog:
    """Load the built-in runbooks and then each user folder (or file)."""
    runbooks: list[LoadedRunbook] = []
    if include_builtin:
        runbooks += [load_file(f, actions, builtin=True) for f in discover([builtin_dir()])]
    runbooks += [load_file(f, actions) for f in discover(user_dirs)]
    return Catalog(runbooks, duplicate_errors(runbooks))


def duplicate_errors(runbooks: Sequence[LoadedRunbook]) -> list[FileError]:
    """Two files of the same origin (both built-in, or both user) with one id."""
    seen: dict[tuple[bool, str], LoadedRunbook] = {}
    errors: list[FileError] = []
    for rb in runbooks:
        if rb.data is None:
            continue
        key = (rb.builtin, rb.id)
        if key in seen:
            errors.append(FileError(rb.path, 1, 1, f"id: duplicate runbook id {rb.id!r} (also in {seen[key].path})"))
        else:
            seen[key] = rb
    return errors


def to_agent_json(runbook: LoadedRunbook | dict[str, Any]) -> dict[str, Any]:
    """The runbook as the JSON object a task spec carries (round-tripped through JSON)."""
    data = runbook.data if isinstance(runbook, LoadedRunbook) else runbook
    if data is None:
        raise ValueError("runbook did not load")
    result: dict[str, Any] = json.loads(json.dumps(_plain(data)))
    return result
