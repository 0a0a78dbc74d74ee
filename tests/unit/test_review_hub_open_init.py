"""``ccm init`` and the hub it records. A relative ``sqlite:hub.db`` was written as is,
so every later command, run from another folder, looked for the hub there; a hub URL
with a password was written into a config.toml every local user could read."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import pytest

from tests.unit.cli_support import ccm


def _config(home: Path) -> Path:
    return home / ".config" / "ccm" / "config.toml"


def test_a_relative_sqlite_hub_is_recorded_as_the_file_made(
        isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    made = ccm("init", "--hub", "sqlite:hub.db?synchronous=full")
    assert made.exit_code == 0, made.stderr
    hub = f"sqlite://{work / 'hub.db'}?synchronous=full"
    assert tomllib.loads(_config(isolated_env).read_text())["hub"] == hub
    assert f"hub      {hub} — schema applied" in made.stdout

    monkeypatch.chdir(tmp_path)  # elsewhere, the config still names that hub
    status = ccm("status", "--json")
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["hub"] == hub


def test_an_absolute_sqlite_hub_is_recorded_as_given(isolated_env: Path,
                                                      tmp_path: Path) -> None:
    hub = f"sqlite:///{tmp_path / 'hub.db'}"
    assert ccm("init", "--hub", hub).exit_code == 0
    assert tomllib.loads(_config(isolated_env).read_text())["hub"] == hub
    assert stat.S_IMODE(_config(isolated_env).stat().st_mode) != 0o600  # nothing secret


@pytest.mark.postgres
def test_a_config_holding_the_hubs_password_is_private(isolated_env: Path,
                                                       pg_url: str) -> None:
    with_password = pg_url.replace("postgres@", "postgres:s3cret@")
    made = ccm("init", "--hub", with_password)
    assert made.exit_code == 0, made.stderr
    config = _config(isolated_env)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert tomllib.loads(config.read_text())["hub"] == with_password
    assert "s3cret" not in made.stdout

    config.chmod(0o644)
    assert ccm("init", "--force", "--hub", with_password).exit_code == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # rewritten: private again
