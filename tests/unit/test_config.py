"""Settings: config.toml (XDG) + ``CCM_*`` environment + flags, validated, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from ccm_tui.commands.init import config_template
from ccm_tui.config import (
    Settings,
    config_dir,
    default_config_path,
    default_hub_url,
    load_settings,
)
from ccm_tui.core.errors import ConfigError
from ccm_tui.core.model import Risk


@pytest.fixture(autouse=True)
def env(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """conftest's isolated HOME, without XDG folders: the defaults under HOME are tested."""
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.delenv("XDG_DATA_HOME")
    yield isolated_env


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_of(*args: object, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(*args, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


# -- defaults and locations ----------------------------------------------------------------
def test_defaults_without_any_file(env: Path) -> None:
    s = load_settings()
    assert s.config_file is None
    assert s.hub == f"sqlite:///{env / '.local/share/ccm/hub.db'}"
    assert s.inventory == env / ".config/ccm/inventory.yaml"
    assert s.runbook_dirs == [env / ".config/ccm/runbooks"]
    assert s.actor.startswith("tester@")
    p = s.policy
    assert (p.auto_threshold, p.suggest_threshold, p.max_auto_risk) == (0.9, 0.5, Risk.MEDIUM)
    assert (p.max_concurrent_fixes, p.lease_seconds) == (5, 30)
    assert s.webhook.listen == "127.0.0.1:9797" and s.webhook.token_file is None
    assert (s.webhook.host, s.webhook.port) == ("127.0.0.1", 9797)
    assert s.notify.slack_webhook_url is None and s.notify.quiet_hours is None
    assert s.tui.theme == "dark"


def test_xdg_folders_are_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_config_path() == tmp_path / "cfg/ccm/config.toml"
    assert default_hub_url() == f"sqlite:///{tmp_path / 'data/ccm/hub.db'}"
    write(tmp_path / "cfg/ccm/config.toml", 'actor = "xdg"\n')
    s = load_settings()
    assert s.actor == "xdg" and s.config_file == tmp_path / "cfg/ccm/config.toml"
    assert s.hub == f"sqlite:///{tmp_path / 'data/ccm/hub.db'}"


def test_the_default_hub_matches_the_hubs_own_default() -> None:
    from ccm_tui.hub import default_hub_url as hub_default

    assert default_hub_url() == hub_default()


# -- sources and precedence ----------------------------------------------------------------
def test_file_values_and_relative_paths(tmp_path: Path) -> None:
    cfg = write(tmp_path / "etc/config.toml", """
hub = "sqlite:////srv/ccm/hub.db"
inventory = "fleet/inventory.yaml"
runbook_dirs = ["runbooks", "/opt/runbooks", "~/rb"]
actor = "alice"
[policy]
auto_threshold = 0.95
max_auto_risk = "low"
max_concurrent_fixes = 2
[webhook]
listen = "0.0.0.0:9000"
token_file = "token"
[notify]
slack_webhook_url = "https://hooks.slack.com/services/x"
pagerduty_routing_key = "abc"
quiet_hours = "22:00-07:00"
[tui]
theme = "high-contrast"
""")
    s = load_settings(cfg)
    assert s.hub == "sqlite:////srv/ccm/hub.db"
    assert s.inventory == tmp_path / "etc/fleet/inventory.yaml"
    assert s.runbook_dirs == [tmp_path / "etc/runbooks", Path("/opt/runbooks"),
                              Path.home() / "rb"]
    assert s.actor == "alice"
    assert s.policy.auto_threshold == 0.95 and s.policy.max_auto_risk is Risk.LOW
    assert s.webhook.token_file == tmp_path / "etc/token"
    assert s.webhook.port == 9000
    assert s.notify.pagerduty_routing_key is not None
    assert s.notify.pagerduty_routing_key.get_secret_value() == "abc"
    assert "abc" not in repr(s)  # secrets stay out of logs
    assert s.tui.theme == "high-contrast"
    policy = s.policy.to_policy()
    assert policy.auto_threshold == 0.95 and policy.max_auto_risk is Risk.LOW


def test_env_beats_file_and_flags_beat_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "config.toml",
                'hub = "sqlite:///file.db"\n[policy]\nauto_threshold = 0.95\nlease_seconds = 10\n')
    monkeypatch.setenv("CCM_HUB", "sqlite:///env.db")
    monkeypatch.setenv("CCM_POLICY__AUTO_THRESHOLD", "0.99")
    s = load_settings(cfg)
    assert s.hub == "sqlite:///env.db"
    assert s.policy.auto_threshold == 0.99
    assert s.policy.lease_seconds == 10  # the file still fills what env does not set
    s = load_settings(cfg, {"hub": "sqlite:///flag.db", "inventory": None})
    assert s.hub == "sqlite:///flag.db"


def test_ccm_config_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "other.toml", 'actor = "from-env-file"\n')
    monkeypatch.setenv("CCM_CONFIG", str(cfg))
    assert load_settings().actor == "from-env-file"
    other = write(tmp_path / "flag.toml", 'actor = "from-flag-file"\n')
    assert load_settings(other).actor == "from-flag-file"


def test_runbook_dirs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCM_RUNBOOK_DIRS", "/a:/b")
    assert load_settings().runbook_dirs == [Path("/a"), Path("/b")]
    monkeypatch.setenv("CCM_RUNBOOK_DIRS", '["/c"]')
    assert load_settings().runbook_dirs == [Path("/c")]


def test_unrelated_ccm_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCM_DEBUG", "1")
    monkeypatch.setenv("CCM_SUPABASE_KEY", "k")
    load_settings()


# -- errors: one line naming the source, the field and what is wrong ----------------------
def test_wrong_type_in_the_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.toml", '[policy]\nauto_threshold = "high"\n')
    assert error_of(cfg) == (
        f'{cfg}: policy.auto_threshold: Input should be a valid number, got "high"')


def test_wrong_type_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCM_POLICY__MAX_CONCURRENT_FIXES", "many")
    message = error_of()
    assert message.startswith("CCM_POLICY__MAX_CONCURRENT_FIXES: policy.max_concurrent_fixes: ")
    assert '"many"' in message


@pytest.mark.parametrize(("toml", "field", "words"), [
    ("[policy]\nauto_threshold = 1.5\n", "policy.auto_threshold", "less than or equal to 1"),
    ("[policy]\nsuggest_threshold = 0.95\n", "policy", "must not exceed"),
    ('[policy]\nmax_auto_risk = "extreme"\n', "policy.max_auto_risk", "'low', 'medium'"),
    ("[policy]\nmax_concurrent_fixes = 0\n", "policy.max_concurrent_fixes", "greater than"),
    ('[webhook]\nlisten = "9797"\n', "webhook.listen", "HOST:PORT"),
    ('[webhook]\nlisten = "h:99999"\n', "webhook.listen", "HOST:PORT"),
    ('[notify]\nquiet_hours = "late"\n', "notify.quiet_hours", "HH:MM-HH:MM"),
    ('[notify]\nslack_webhook_url = "hooks"\n', "notify.slack_webhook_url", "https://"),
    ('[tui]\ntheme = "pink"\n', "tui.theme", "high-contrast"),
    ('[webhook]\ngrafana_timestamp_header = "X Time"\n', "webhook.grafana_timestamp_header",
     "an HTTP header name"),
    ('[webhook]\ngrafana_signature_header = ""\n', "webhook.grafana_signature_header",
     "an HTTP header name"),
    ('hub = ""\n', "hub", "must not be empty"),
    ('[policy]\nauto_treshold = 0.8\n', "policy.auto_treshold", "unknown setting"),
    ('colour = "red"\n', "colour", "unknown setting"),
    ("policy = 3\n", "policy", "valid dictionary"),
])
def test_invalid_values_name_the_field(tmp_path: Path, toml: str, field: str, words: str) -> None:
    cfg = write(tmp_path / "config.toml", toml)
    message = error_of(cfg)
    assert message.startswith(f"{cfg}: {field}: "), message
    assert words in message, message


def test_several_errors_are_counted_on_the_same_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.toml", '[policy]\nauto_threshold = "a"\nlease_seconds = "b"\n')
    assert error_of(cfg).endswith("(and 1 more)")


def test_not_toml(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.toml", "[policy\n")
    message = error_of(cfg)
    assert message.startswith(f"{cfg}: not valid TOML")


def test_explicit_file_must_exist(tmp_path: Path) -> None:
    assert "does not exist" in error_of(tmp_path / "missing.toml")


def test_config_error_has_a_hint() -> None:
    assert ConfigError("x").hint


# -- documentation -------------------------------------------------------------------------
def _all_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, object]]:
    for name, info in model.model_fields.items():
        yield prefix + name, info
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _all_fields(ann, prefix + name + ".")


def test_every_field_is_documented() -> None:
    fields = list(_all_fields(Settings))
    assert len(fields) >= 19
    for name, info in fields:
        assert getattr(info, "description", None), f"{name} has no description"


def test_the_init_template_documents_every_field_and_loads_back(tmp_path: Path) -> None:
    text = config_template(hub="sqlite:///x.db", inventory="inventory.yaml",
                           runbook_dirs=["runbooks"])
    for name, _ in _all_fields(Settings):
        key = name.rsplit(".", 1)[-1]
        assert key in text, key
    cfg = write(tmp_path / "config.toml", text)
    s = load_settings(cfg)
    assert s.hub == "sqlite:///x.db"
    assert s.inventory == tmp_path / "inventory.yaml"
    defaults = load_settings(None)
    assert s.policy == defaults.policy and s.webhook == defaults.webhook
    assert s.notify == defaults.notify and s.tui == defaults.tui
    assert config_dir() == Path.home() / ".config/ccm"
