"""CCM's settings: ``config.toml`` plus ``CCM_*`` environment variables, validated.

Where a value comes from, strongest first:

1. command-line flags (``--hub``, ``--inventory``; passed to :func:`load_settings` as
   ``overrides``),
2. environment variables: ``CCM_HUB``, ``CCM_ACTOR``, ``CCM_RUNBOOK_DIRS`` (paths joined
   with ``:``), and nested ones with ``__``: ``CCM_POLICY__AUTO_THRESHOLD=0.95``,
3. the config file: ``--config PATH``, else ``$CCM_CONFIG``, else
   ``$XDG_CONFIG_HOME/ccm/config.toml`` (``~/.config/ccm/config.toml``),
4. the defaults below.

Relative paths in the config file are relative to the file's folder. Any invalid
value raises :class:`~ccm_tui.core.errors.ConfigError` whose message is one line that
names the source (file, variable or flag), the field and what is wrong.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from ccm_tui.config.sections import (
    NotifySettings,
    PolicySettings,
    SSHSettings,
    TuiSettings,
    WebhookSettings,
)
from ccm_tui.core.errors import ConfigError

ENV_PREFIX = "CCM_"
CONFIG_FILE_NAME = "config.toml"


# -- where things live ----------------------------------------------------------------
def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # The XDG spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    """CCM's config folder: ``$XDG_CONFIG_HOME/ccm`` (default ``~/.config/ccm``)."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "ccm"


def data_dir() -> Path:
    """CCM's data folder: ``$XDG_DATA_HOME/ccm`` (default ``~/.local/share/ccm``)."""
    return _xdg("XDG_DATA_HOME", ".local/share") / "ccm"


def default_config_path() -> Path:
    """The config file used when neither ``--config`` nor ``$CCM_CONFIG`` names one."""
    return config_dir() / CONFIG_FILE_NAME


def default_hub_url() -> str:
    """The embedded default hub: an SQLite file under the XDG data folder."""
    from ccm_tui.hub import default_hub_url as hub_default

    return hub_default()


def default_actor() -> str:
    """Who this operator is in approvals and the audit log: ``$USER@hostname``."""
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname() or 'localhost'}"


def resolve_config_path(config_path: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """The config file to read and whether it was named explicitly (flag or ``$CCM_CONFIG``)."""
    if config_path:
        return Path(config_path).expanduser(), True
    env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if env:
        return Path(env).expanduser(), True
    return default_config_path(), False


# -- the settings -----------------------------------------------------------------------
_FILE_DATA: ContextVar[Mapping[str, Any] | None] = ContextVar("_FILE_DATA", default=None)


class Settings(BaseSettings):
    """Everything CCM can be configured with. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        validate_default=True,
    )

    hub: str = Field(
        default_factory=default_hub_url,
        description="Where tasks, events and approvals live: sqlite:///PATH, "
        "postgresql://USER@HOST/DB (a Supabase project's database connection string). "
        "sqlite:///PATH?synchronous=full fsyncs every commit, so an acknowledged alert "
        "survives a power cut too (the default survives a killed process).",
    )
    inventory: Path = Field(
        default_factory=lambda: config_dir() / "inventory.yaml",
        description="The fleet: a CCM inventory.yaml or an Ansible inventory.",
    )
    runbook_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [config_dir() / "runbooks"],
        description="Folders of your own runbooks, searched after the built-in ones "
        "(in the environment: paths joined with ':').",
    )
    actor: str = Field(
        default_factory=default_actor,
        description="Who you are in approvals and the audit log.",
        min_length=1,
    )
    policy: PolicySettings = Field(
        default_factory=PolicySettings, description="Decision thresholds and safety rails."
    )
    webhook: WebhookSettings = Field(
        default_factory=WebhookSettings, description="The alert receiver."
    )
    notify: NotifySettings = Field(
        default_factory=NotifySettings, description="Slack, PagerDuty and quiet hours."
    )
    ssh: SSHSettings = Field(
        default_factory=SSHSettings, description="How CCM connects to the fleet over SSH."
    )
    tui: TuiSettings = Field(default_factory=TuiSettings, description="The control centre.")

    _config_file: Path | None = PrivateAttr(default=None)

    @property
    def config_file(self) -> Path | None:
        """The config file these settings were read from (``None``: no file)."""
        return self._config_file

    @field_validator("hub")
    @classmethod
    def _hub_nonempty(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("runbook_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v.lstrip().startswith("["):
                return json.loads(v)
            return [p for p in v.split(os.pathsep) if p]
        return v

    @field_validator("inventory")
    @classmethod
    def _expand_inventory(cls, v: Path) -> Path:
        return v.expanduser()

    @field_validator("runbook_dirs")
    @classmethod
    def _expand_dirs(cls, v: list[Path]) -> list[Path]:
        return [p.expanduser() for p in v]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init arguments) beat the environment, which beats the config file."""
        file_source = InitSettingsSource(settings_cls, init_kwargs=dict(_FILE_DATA.get() or {}))
        return (init_settings, env_settings, file_source)


# -- loading ----------------------------------------------------------------------------
#: Keys of the config file holding paths, resolved against the file's folder.
_PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("inventory",), ("webhook", "token_file"), ("webhook", "basic_auth_file"),
    ("webhook", "grafana_secret_file"),
)


def _resolve_relative(data: dict[str, Any], base: Path) -> dict[str, Any]:
    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not value.startswith("~"):
            p = Path(value)
            return str(p if p.is_absolute() else base / p)
        return value

    for key in _PATH_KEYS:
        parent: Any = data
        for part in key[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and key[-1] in parent:
            parent[key[-1]] = fix(parent[key[-1]])
    dirs = data.get("runbook_dirs")
    if isinstance(dirs, list):
        data["runbook_dirs"] = [fix(d) for d in dirs]
    elif isinstance(dirs, str):
        data["runbook_dirs"] = [fix(dirs)]
    return data


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a config file; :class:`ConfigError` naming the file on a syntax error."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}", hint="fix the syntax, or rewrite it with "
            "`ccm init --force`"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read: {exc.strerror or exc}",
            hint="check the path and its permissions, or pass another with --config",
        ) from None
    return _resolve_relative(data, path.parent)


def _env_name(loc: tuple[str, ...]) -> str | None:
    """The environment variable that set the value at ``loc``, if one did."""
    env = {k.upper(): k for k in os.environ}
    for depth in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(loc[:depth]).upper()
        if name in env:
            return env[name]
    return None


def _show(value: Any) -> str:
    if isinstance(value, str | int | float | bool) or value is None:
        return json.dumps(value)
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(exc: ValidationError, file: Path | None, overrides: Mapping[str, Any]) -> str:
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc = tuple(str(p) for p in err["loc"] if not isinstance(p, int))
    dotted = ".".join(loc) or "(top level)"
    if loc and loc[0] in overrides:
        source = f"--{loc[0].replace('_', '-')}"
    elif (env := _env_name(loc)) is not None:
        source = env
    else:
        source = str(file) if file is not None else "defaults"
    kind = err["type"]
    if kind == "extra_forbidden":
        what = "unknown setting (check the spelling; `ccm init --help` shows where "\
            "a documented config.toml is written)"
    else:
        msg = str(err["msg"]).split(", unable to")[0]
        msg = msg.removeprefix("Value error, ")
        what = msg if "input" not in err or kind.startswith("value_error") \
            else f"{msg}, got {_show(err['input'])}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {dotted}: {what}{more}"


@contextmanager
def _file_data(data: Mapping[str, Any]) -> Iterator[None]:
    token = _FILE_DATA.set(data)
    try:
        yield
    finally:
        _FILE_DATA.reset(token)


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the config file and the environment, apply ``overrides``, validate.

    ``config_path`` (``--config``) replaces ``$CCM_CONFIG`` and the XDG default; a
    file named explicitly must exist, the default one may be missing. ``overrides``
    are command-line values (``None`` values are ignored) and beat everything.
    Raises :class:`ConfigError` with a one-line message.
    """
    path, explicit = resolve_config_path(config_path)
    if path.is_file():
        data = read_config_file(path)
        source: Path | None = path
    elif explicit:
        raise ConfigError(
            f"config file {path} does not exist",
            hint="create it with `ccm init`, or point --config / CCM_CONFIG at an existing file",
        )
    else:
        data, source = {}, None
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        with _file_data(data):
            settings = Settings(**given)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, given)) from None
    except SettingsError as exc:
        raise ConfigError(f"environment: {exc}") from None
    settings._config_file = source
    return settings


__all__ = [
    "CONFIG_FILE_NAME",
    "NotifySettings",
    "PolicySettings",
    "SSHSettings",
    "Settings",
    "TuiSettings",
    "WebhookSettings",
    "config_dir",
    "data_dir",
    "default_actor",
    "default_config_path",
    "default_hub_url",
    "load_settings",
    "read_config_file",
    "resolve_config_path",
]
