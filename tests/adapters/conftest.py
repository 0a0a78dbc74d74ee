"""The hub contract runs on SQLite in both durability modes, and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_hub_url


@pytest.fixture(params=["sqlite", "sqlite-full", "postgres"])
def hub_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty hub of each adapter (SQLite also with ``synchronous=full``)."""
    return make_hub_url(request.param, request, tmp_path)
