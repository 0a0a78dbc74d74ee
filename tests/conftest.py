"""Shared fixtures: real hubs (an SQLite file and a throwaway PostgreSQL cluster).

Under ``CI=true`` a skipped test is reported as a failure: CI has every service,
so a skip there means a missing install step, not a missing feature.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import hypothesis  # noqa: F401  (imported early: see CPython gh-106905 with lazy rewrites)
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.postgres import PgCluster, PostgresUnavailable, running_cluster  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (CI has every service): {reason}"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A real PostgreSQL for the whole session (or ``CCM_TEST_PG_URL``'s server)."""
    external = os.environ.get("CCM_TEST_PG_PORT")
    if external:
        yield PgCluster(port=int(external), datadir=Path("/nonexistent"))
        return
    try:
        with running_cluster() as cluster:
            yield cluster
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty database on the test cluster."""
    name = "t_" + secrets.token_hex(6)
    pg_cluster.psql(f"CREATE DATABASE {name}")
    return pg_cluster.url(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


def make_hub_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty hub: ``sqlite``, ``sqlite-full`` (fsync'ed commits) or ``postgres``."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    if kind == "sqlite-full":
        return f"sqlite:///{tmp_path / 'hub.db'}?synchronous=full"
    url: str = request.getfixturevalue("pg_url")
    import asyncio

    from ccm_tui.hub import open_hub

    async def migrate() -> None:
        hub = open_hub(url)
        try:
            await hub.migrate()
        finally:
            await hub.close()

    asyncio.run(migrate())
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def hub_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty hub of each adapter."""
    return make_hub_url(request.param, request, tmp_path)


@pytest.fixture
async def hub(hub_url: str) -> AsyncIterator[object]:
    from ccm_tui.hub import open_hub

    h = open_hub(hub_url)
    async with h:
        yield h


# -- the command line: an isolated user, a hub file -----------------------------------------
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
    """A real SQLite hub file, made (and migrated) here: commands that read or act on a
    hub refuse one that does not exist, as they do for a user."""
    import asyncio

    from ccm_tui.hub.sqlite import SqliteHub

    path = tmp_path / "hub.db"

    async def make() -> None:
        async with SqliteHub(path):
            pass

    asyncio.run(make())
    return f"sqlite:///{path}"
