"""The config.toml ``ccm init`` writes: every commented line can be uncommented as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.commands.init import UNSET_NOTE
from ccm_tui.config import Settings, load_settings

#: HOME, XDG folders and CCM_* settings isolated (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_env")

#: A commented setting line: ``# name = value``.
SETTING = re.compile(r"^# (?P<name>[a-z_]+) = (?P<value>.*)$")


@pytest.fixture
def written(tmp_path: Path) -> Path:
    """The config file a real ``ccm init`` wrote (with a real SQLite hub)."""
    result = CliRunner().invoke(app, ["init", "--hub", f"sqlite:///{tmp_path / 'hub.db'}"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "home" / ".config" / "ccm" / "config.toml"
    assert path.is_file()
    return path


def _uncommented(text: str, index: int) -> str:
    lines = text.splitlines()
    lines[index] = lines[index].removeprefix("# ")
    return "\n".join(lines) + "\n"


def test_no_template_line_has_the_value_none(written: Path) -> None:
    text = written.read_text()
    assert [line for line in text.splitlines() if re.search(r"=\s*\"?None\"?(\s|$)", line)] == []
    assert "None" not in text


def test_the_template_as_written_loads(written: Path) -> None:
    s = load_settings(written)
    defaults = Settings()
    assert s.webhook == defaults.webhook and s.notify == defaults.notify
    assert s.policy == defaults.policy and s.ssh == defaults.ssh and s.tui == defaults.tui


def test_every_unset_setting_shows_a_marked_example(written: Path) -> None:
    """An optional setting has a value of the right form to fill in, and says it is one."""
    text = written.read_text()
    unset = {
        name for section in ("webhook", "notify")
        for name, value in getattr(Settings(), section).model_dump().items() if value is None
    }
    assert {"basic_auth_file", "grafana_secret_file", "quiet_timezone", "grafana_url",
            "grafana_token", "transcript_url"} <= unset
    examples = {m["name"]: m["value"] for line in text.splitlines()
                if (m := SETTING.match(line)) and m["name"] in unset}
    assert set(examples) == unset  # (not "# name: unset by default" with nothing to fill in)
    for name, value in examples.items():
        assert value.endswith(UNSET_NOTE), (name, value)


def test_each_setting_uncommented_on_its_own_loads(written: Path) -> None:
    text = written.read_text()
    settings_lines = [i for i, line in enumerate(text.splitlines()) if SETTING.match(line)]
    assert len(settings_lines) >= 40
    for index in settings_lines:
        line = text.splitlines()[index]
        written.write_text(_uncommented(text, index))
        try:
            s = load_settings(written)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"uncommenting {line!r} gives: {exc}")
        name = SETTING.match(line)["name"]  # type: ignore[index]
        if name.endswith("_file"):  # an example file sits next to the config, not "…/None"
            got = getattr(s.webhook, name)
            assert got is not None and got.parent == written.parent and got.name != "None"


def test_an_uncommented_example_names_its_file_not_none(written: Path) -> None:
    """The reviewer's trap: uncommenting basic_auth_file gave `cannot read …/ccm/None`."""
    text = written.read_text()
    index = next(i for i, line in enumerate(text.splitlines())
                 if line.startswith("# basic_auth_file = "))
    written.write_text(_uncommented(text, index))
    result = CliRunner().invoke(app, ["--config", str(written), "webhook",
                                      "--listen", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert "webhook.users" in result.stderr and "None" not in result.stderr
