"""A hub file that does not exist: commands that read or act on the hub stop and say so
(naming the file, where its name came from and what to do); only the commands that set
CCM up or serve make it. Before, every command made a new, empty hub at a mistyped path:
``ccm tasks list`` showed nothing and ``ccm pause`` paused a hub no daemon used."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ccm_tui.core.errors import HubError
from ccm_tui.hub import default_hub_path, open_hub, sqlite_path
from tests.unit.cli_support import ccm, ccm_proc, hub_call, one_line, seed

pytestmark = pytest.mark.usefixtures("isolated_env")

#: Commands that only read or act on an existing hub, each as a user types it.
READ_OR_ACT = [
    ("status",), ("status", "--json"), ("tasks", "list"), ("tasks", "list", "--json"),
    ("tasks", "show", "t-1"), ("pause", "--reason", "deploy"), ("resume",),
    ("approve", "t-1"), ("reject", "t-1"), ("escalate", "t-1"), ("silence", "list"),
    ("silence", "add", "host=web-01", "--for", "1h", "--reason", "x"), ("report",),
    ("runbooks", "stats"), ("notify", "list"), ("db", "status"),
]


@pytest.mark.parametrize("args", READ_OR_ACT, ids=" ".join)
def test_a_mistyped_hub_path_is_an_error_and_no_hub_is_made(tmp_path: Path,
                                                             args: tuple[str, ...]) -> None:
    typo = tmp_path / "hbu.db"
    result = ccm("--hub", f"sqlite:///{typo}", *args)
    assert result.exit_code == 1, result.output
    line = one_line(result.stderr)
    assert line.startswith(f"ccm: error: there is no hub at {typo} (from --hub) — check "
                           "the path"), line
    assert f"ccm --hub sqlite:///{typo} db migrate" in line
    assert result.stdout == ""
    assert not typo.exists()


def test_a_fresh_machine_has_no_hub_yet_until_ccm_init(isolated_env: Path) -> None:
    proc = ccm_proc("status")
    assert proc.returncode == 1 and proc.stdout == ""
    line = one_line(proc.stderr)
    assert f"there is no hub yet: {default_hub_path()} does not exist" in line
    assert "run `ccm init`" in line and "--hub or CCM_HUB" in line
    assert not default_hub_path().parent.exists()

    assert ccm("init").exit_code == 0
    status = ccm("status", "--json")
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["paused"] is False


def test_the_error_says_where_the_hub_name_came_from(tmp_path: Path,
                                                     isolated_env: Path) -> None:
    from_env = tmp_path / "env.db"
    result = ccm("tasks", "list", env={"CCM_HUB": f"sqlite:///{from_env}"})
    assert f"there is no hub at {from_env} (from CCM_HUB)" in one_line(result.stderr)

    from_file = tmp_path / "file.db"
    config = isolated_env / ".config" / "ccm" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'hub = "sqlite:///{from_file}"\n')
    result = ccm("pause")
    assert f"there is no hub at {from_file} (from `hub` in {config})" \
        in one_line(result.stderr)
    assert not from_env.exists() and not from_file.exists()


def test_set_up_commands_make_the_hub_then_the_others_use_it(tmp_path: Path) -> None:
    made = tmp_path / "new" / "hub.db"
    url = f"sqlite:///{made}"
    assert ccm("--hub", url, "db", "migrate").exit_code == 0
    assert made.is_file()
    paused = ccm("--hub", url, "pause", "--reason", "deploy", "--as", "ana")
    assert paused.exit_code == 0, paused.stderr
    assert hub_call(url, "get_control").actor == "ana"


def test_the_four_slash_spelling_is_one_absolute_path(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite:///{tmp_path}/hub.db") == tmp_path / "hub.db"
    assert str(sqlite_path(f"sqlite:///{tmp_path}/hub.db")) == f"{tmp_path}/hub.db"  # one /
    seed(f"sqlite:///{tmp_path}/hub.db", [])
    listed = ccm("--hub", f"sqlite:///{tmp_path}/hub.db", "tasks", "list", "--json")
    assert listed.exit_code == 0 and listed.stdout == "[]\n"


def test_the_adapter_without_create_neither_makes_the_file_nor_its_folder(
        tmp_path: Path) -> None:
    missing = tmp_path / "folder" / "hub.db"

    async def go() -> None:
        async with open_hub(f"sqlite:///{missing}", create=False):
            pass

    with pytest.raises(HubError, match="there is no hub at") as caught:
        asyncio.run(go())
    assert "ccm init" in caught.value.hint
    assert not missing.parent.exists()

    asyncio.run(_make(f"sqlite:///{missing}"))  # the default: services make it
    asyncio.run(go())  # and now it opens without create


async def _make(url: str) -> None:
    async with open_hub(url):
        pass


def test_a_service_that_makes_a_new_hub_says_so_in_its_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    with caplog.at_level(logging.INFO, logger="ccm.hub"):
        asyncio.run(_make(url))
        asyncio.run(_make(url))  # it exists now: nothing to say
    said = [r.getMessage() for r in caplog.records if r.name == "ccm.hub"]
    assert said == [f"no hub at {tmp_path / 'hub.db'}: made a new, empty one"]


def test_with_a_config_but_no_hub_the_advice_is_not_init(isolated_env: Path) -> None:
    """`ccm init` would refuse an existing config (or, with --force, rewrite it)."""
    config = isolated_env / ".config" / "ccm" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('actor = "sam"\n')
    line = one_line(ccm("status").stderr)
    assert f"there is no hub yet: {default_hub_path()} does not exist" in line
    assert "run `ccm db migrate` to make it" in line and "ccm init" not in line
    assert ccm("db", "migrate").exit_code == 0
    assert ccm("status").exit_code == 0
