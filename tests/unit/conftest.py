"""Fixtures of the unit tests that run ``ccm`` (``test_cli*.py`` use them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No user config, no user hub: HOME and the XDG folders point into tmp_path."""
    for key in list(os.environ):
        if key.startswith("CCM_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("USER", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    yield home


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A real SQLite hub file (created on first use)."""
    return f"sqlite:///{tmp_path / 'hub.db'}"
