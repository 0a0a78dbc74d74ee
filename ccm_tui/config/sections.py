"""The sections of CCM's settings: ``[policy]``, ``[webhook]``, ``[notify]``, ``[ssh]``, ``[tui]``.

Each is a pydantic model whose fields are documented; :class:`ccm_tui.config.Settings`
holds one of each, and :mod:`ccm_tui.config` loads them from the config file and the
environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from ccm_tui.core.model import Risk
from ccm_tui.core.policy import Policy

if TYPE_CHECKING:
    from ccm_tui.fleet.ssh_types import PoolOptions


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class PolicySettings(_Section):
    """How boldly CCM fixes things on its own."""

    auto_threshold: float = Field(
        default=0.9, ge=0.0, le=1.0,
        description="Calibrated confidence at or above which a fix runs without asking.",
    )
    suggest_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Confidence at or above which a fix is suggested and waits for approval; "
        "below it the task escalates.",
    )
    max_auto_risk: Risk = Field(
        default=Risk.MEDIUM,
        description="The riskiest runbook class (low, medium, high) allowed to run without "
        "approval.",
    )
    max_concurrent_fixes: int = Field(
        default=5, ge=1, description="Fleet-wide cap on automatic fixes running at the same time."
    )
    lease_seconds: float = Field(
        default=30.0, gt=0, description="How long a daemon's claim on a task lasts unless renewed."
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> PolicySettings:
        if self.suggest_threshold > self.auto_threshold:
            raise ValueError(
                f"suggest_threshold ({self.suggest_threshold}) must not exceed "
                f"auto_threshold ({self.auto_threshold})"
            )
        return self

    def to_policy(self) -> Policy:
        """The domain :class:`~ccm_tui.core.policy.Policy` these settings describe."""
        return Policy(
            auto_threshold=self.auto_threshold,
            suggest_threshold=self.suggest_threshold,
            max_auto_risk=self.max_auto_risk,
        )


_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^:\s]+):(?P<port>\d{1,5})$")


class WebhookSettings(_Section):
    """The alert receiver (``ccm webhook``, ``ccm up``)."""

    listen: str = Field(
        default="127.0.0.1:9797", description="HOST:PORT the alert receiver listens on."
    )
    token_file: Path | None = Field(
        default=None,
        description="File holding the bearer token senders must present; unset means no "
        "authentication (only sensible on 127.0.0.1).",
    )
    basic_auth_file: Path | None = Field(
        default=None,
        description="File of user:password lines accepted as HTTP basic auth (Grafana, Kibana).",
    )
    grafana_secret_file: Path | None = Field(
        default=None,
        description="File holding the HMAC secret Grafana signs webhook bodies with "
        "(X-Grafana-Alerting-Signature); unset means signatures are not checked.",
    )
    grafana_signature_header: str = Field(
        default="X-Grafana-Alerting-Signature",
        description="The contact point's HMAC 'Header' setting: where Grafana puts the "
        "signature.",
    )
    grafana_timestamp_header: str = Field(
        default="X-Grafana-Alerting-Signature-Timestamp",
        description="The contact point's HMAC 'Timestamp Header' setting (Grafana has no "
        "default); when the request carries it, the signature covers 'TIMESTAMP:BODY' and the "
        "time must be within 5 minutes.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    flap_threshold: int = Field(
        default=3, ge=1,
        description="An alert firing more often than this within flap_window_minutes is held "
        "as flapping instead of making new tasks.",
    )
    flap_window_minutes: int = Field(
        default=30, ge=1, description="The window flap detection counts firings in."
    )

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, v: str) -> str:
        m = _LISTEN.match(v.strip())
        if not m or not 0 < int(m["port"]) < 65536:
            raise ValueError(f"expected HOST:PORT such as 127.0.0.1:9797, got {v!r}")
        return v.strip()

    @field_validator("grafana_signature_header", "grafana_timestamp_header")
    @classmethod
    def _check_header(cls, v: str) -> str:
        if not _HEADER.match(v):
            raise ValueError(f"expected an HTTP header name such as X-Grafana-Alerting-Signature "
                             f"(letters, digits and -, no spaces or colons), got {v!r}")
        return v

    @field_validator("token_file", "basic_auth_file", "grafana_secret_file")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return v.expanduser() if v is not None else None

    @property
    def host(self) -> str:
        """The host part of :attr:`listen` (IPv6 brackets removed)."""
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        """The port part of :attr:`listen`."""
        return int(self.listen.rsplit(":", 1)[1])


_QUIET = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


class NotifySettings(_Section):
    """Where notifications go."""

    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming-webhook URL for summaries; unset disables Slack."
    )
    pagerduty_routing_key: SecretStr | None = Field(
        default=None,
        description="PagerDuty Events API v2 routing key for pages; unset disables paging.",
    )
    quiet_hours: str | None = Field(
        default=None,
        description="Local time range HH:MM-HH:MM (may wrap midnight) in which only "
        "critical pages are sent.",
    )
    quiet_timezone: str | None = Field(
        default=None,
        description="IANA time zone quiet_hours are read in, e.g. Europe/Berlin "
        "(default: this machine's local time).",
    )
    escalate_after_minutes: float = Field(
        default=15.0, gt=0,
        description="In quiet hours, a suggestion for a critical alert still unfixed after "
        "this many minutes pages anyway.",
    )
    pagerduty_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue",
        description="PagerDuty Events API v2 endpoint (change only for a proxy or a test "
        "double).",
    )
    page_min_severity: Literal["info", "warning", "critical"] = Field(
        default="warning",
        description="Escalations of alerts below this severity go to Slack, never to the pager.",
    )
    page_groups: list[str] = Field(
        default_factory=list,
        description="Host groups whose escalations page (e.g. [\"db\"]); empty: every group "
        "pages. Others are posted to Slack only.",
    )
    slack_min_interval: float = Field(
        default=1.0, ge=0,
        description="Least seconds between two Slack messages; what arrives faster is batched.",
    )
    grafana_url: str | None = Field(
        default=None,
        description="Grafana base URL for annotations of each automatic fix, e.g. "
        "https://grafana.example.com; unset disables annotations.",
    )
    grafana_token: SecretStr | None = Field(
        default=None, description="Grafana service-account token (sent as a bearer token)."
    )
    apprise_urls: list[SecretStr] = Field(
        default_factory=list,
        description="Apprise URLs (Teams, email, ntfy, Discord…) that get incident summaries "
        "and the morning digest.",
    )
    transcript_url: str | None = Field(
        default=None,
        description="Link to a task's transcript with {task} in it, e.g. "
        "https://ccm.example.com/tasks/{task}; default: the `ccm tasks show` command.",
    )
    max_attempts: int = Field(
        default=10, ge=1,
        description="Delivery attempts of one notification before it is given up (dead).",
    )
    backoff_seconds: float = Field(
        default=2.0, gt=0,
        description="First retry delay after a 429 or 5xx; doubles on each failure.",
    )
    backoff_max_seconds: float = Field(
        default=600.0, gt=0, description="Longest delay between two delivery attempts."
    )

    @field_validator("slack_webhook_url")
    @classmethod
    def _https(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("expected an https:// URL")
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet(cls, v: str | None) -> str | None:
        if v is not None and not _QUIET.match(v.strip()):
            raise ValueError(f"expected HH:MM-HH:MM such as 22:00-07:00, got {v!r}")
        return v.strip() if v is not None else None

    @field_validator("pagerduty_url", "grafana_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError("expected an https:// URL")
        return v.rstrip("/") if v is not None else None

    @field_validator("quiet_timezone")
    @classmethod
    def _check_tz(cls, v: str | None) -> str | None:
        if v is None:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as "
                             "Europe/Berlin") from None
        return v


class TuiSettings(_Section):
    """The control centre (``ccm tui``)."""

    theme: Literal["dark", "light", "high-contrast"] = Field(
        default="dark", description="Colour theme: dark, light or high-contrast."
    )


class SSHSettings(_Section):
    """How CCM connects to the fleet (``ccm run``, ``ccm daemon``, ``ccm fleet``, the TUI)."""

    connect_timeout: float = Field(
        default=10.0, gt=0, le=600,
        description="Seconds to open a connection (TCP and the SSH handshake) before "
        "counting the host unreachable for this attempt.",
    )
    login_timeout: float = Field(
        default=30.0, gt=0, le=600,
        description="Seconds the host may take to accept a login once connected.",
    )
    connect_retries: int = Field(
        default=2, ge=0, le=10,
        description="Further attempts after a failed connection (with backoff) before a "
        "host counts as unreachable. A refused login or host key is never retried.",
    )
    keepalive_interval: float = Field(
        default=15.0, ge=0, le=3600,
        description="Seconds between keepalives on an idle connection (0: none); the "
        "daemon's pool finds a dead host this way.",
    )
    keepalive_count_max: int = Field(
        default=3, ge=1, le=100,
        description="Unanswered keepalives after which a connection is closed.",
    )
    max_output: int = Field(
        default=1 << 20, ge=1024, le=1 << 30,
        description="Characters of each host's stdout and of its stderr a command keeps "
        "(`ccm run`, broadcasts, probes); the rest is read and counted, not kept, so a "
        "command printing gigabytes on many hosts cannot exhaust this machine's memory.",
    )
    kex_algs: str = Field(
        default="",
        description="Key exchange algorithms to offer, in OpenSSH's KexAlgorithms syntax "
        "(see `ssh -Q kex`): names (wildcards allowed) most preferred first, or the "
        "defaults changed: '+NAMES' appends, '-NAMES' removes, '^NAMES' puts first. Empty "
        "means the defaults, which start with the post-quantum hybrid "
        "mlkem768x25519-sha256 as OpenSSH 10 does. A TOML list is joined with ','.",
    )
    ciphers: str = Field(
        default="",
        description="Ciphers to offer, in OpenSSH's Ciphers syntax (see `ssh -Q cipher`; "
        "'+', '-', '^' and wildcards as for kex_algs). Empty means CCM's default: "
        "aes128-gcm@openssh.com, aes256-gcm@openssh.com, chacha20-poly1305@openssh.com, "
        "then AES-CTR.",
    )

    @field_validator("kex_algs", "ciphers", mode="before")
    @classmethod
    def _join_list(cls, v: object) -> object:
        if isinstance(v, list | tuple) and all(isinstance(x, str) for x in v):
            return ",".join(v)
        return v

    @field_validator("kex_algs", "ciphers")
    @classmethod
    def _check_syntax(cls, v: str) -> str:
        from ccm_tui.fleet.fields import ALGORITHM_LIST  # the inventory's syntax too

        v = ",".join(part.strip() for part in v.strip().split(",")) if v.strip() else ""
        if v and not ALGORITHM_LIST.match(v):
            raise ValueError(f"{v[:70]!r} is not a list of SSH algorithm names (like "
                             "'curve25519-sha256,mlkem768x25519-sha256', '+NAME', '-chacha20*')")
        return v

    def pool_options(self) -> PoolOptions:
        """The SSH pool's options with these settings (the rest at their defaults)."""
        from ccm_tui.fleet.ssh_types import PoolOptions

        return PoolOptions(
            connect_timeout=self.connect_timeout, login_timeout=self.login_timeout,
            connect_retries=self.connect_retries, keepalive_interval=self.keepalive_interval,
            keepalive_count_max=self.keepalive_count_max, kex_algs=self.kex_algs,
            encryption_algs=self.ciphers, max_output=self.max_output,
        )


__all__ = ["NotifySettings", "PolicySettings", "SSHSettings", "TuiSettings", "WebhookSettings"]
