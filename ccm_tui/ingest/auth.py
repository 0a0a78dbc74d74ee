"""Who may post alerts: bearer tokens or basic auth, and Grafana's HMAC signature.

Every comparison is constant-time (``hmac.compare_digest``). Tokens and passwords
are read from files (one per line, ``#`` comments), never from the command line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ccm_tui.core.errors import ConfigError


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}",
                          hint="check the path and its permissions") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


@dataclass(frozen=True)
class Credentials:
    """Accepted bearer tokens and ``user:password`` pairs. Empty means open."""

    tokens: tuple[str, ...] = ()
    basic: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_files(cls, token_file: Path | None = None,
                   basic_file: Path | None = None) -> Credentials:
        tokens = tuple(_lines(token_file)) if token_file else ()
        pairs: list[tuple[str, str]] = []
        for line in _lines(basic_file) if basic_file else []:
            user, sep, password = line.partition(":")
            if not sep or not user:
                raise ConfigError(f"{basic_file}: lines must be user:password",
                                  hint="one user:password per line")
            pairs.append((user, password))
        if token_file and not tokens:
            raise ConfigError(f"{token_file} holds no token", hint="write one token per line")
        return cls(tokens, tuple(pairs))

    @property
    def required(self) -> bool:
        return bool(self.tokens or self.basic)

    def check(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value is accepted."""
        if not self.required:
            return True
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        ok = False
        if scheme.lower() == "bearer":
            for token in self.tokens:
                ok |= hmac.compare_digest(value.encode(), token.encode())
        elif scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return False
            for u, p in self.basic:
                ok |= hmac.compare_digest(user.encode(), u.encode()) & \
                    hmac.compare_digest(password.encode(), p.encode())
        return ok


@dataclass(frozen=True)
class GrafanaSigner:
    """Checks ``X-Grafana-Alerting-Signature``: hex HMAC-SHA256 of ``[timestamp ":"] body``."""

    secret: bytes
    signature_header: str = "X-Grafana-Alerting-Signature"
    timestamp_header: str = "X-Grafana-Alerting-Signature-Timestamp"
    tolerance_seconds: float = 300.0
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def sign(self, body: bytes, timestamp: str | None = None) -> str:
        """The signature Grafana would send (used by tests and the replay tool)."""
        signed = (timestamp.encode() + b":" + body) if timestamp else body
        return hmac.new(self.secret, signed, hashlib.sha256).hexdigest()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """``None`` when valid, else the reason it is not."""
        given = (headers.get(self.signature_header) or "").strip().lower()
        if not given:
            return f"missing {self.signature_header} header"
        timestamp = (headers.get(self.timestamp_header) or "").strip() or None
        if timestamp is not None:
            try:
                age = abs(self.clock() - float(timestamp))
            except ValueError:
                return f"{self.timestamp_header} is not a Unix time"
            if age > self.tolerance_seconds:
                return f"signature timestamp is {age:.0f}s away from now (replayed?)"
        if not hmac.compare_digest(given.encode(), self.sign(body, timestamp).encode()):
            return "signature does not match the body" + self._timestamp_hint(headers, timestamp)
        return None

    def _timestamp_hint(self, headers: Mapping[str, str], timestamp: str | None) -> str:
        """Why it may not match: a timestamp the contact point sends under another name."""
        if timestamp is not None:
            return ""
        now = self.clock()
        for name, value in headers.items():
            value = value.strip()
            # a header holding a Unix time of this week: most likely Grafana's timestamp
            if value.isdigit() and len(value) <= 12 and abs(now - int(value)) < 7 * 86400:
                return (f"; the request carries {name}: if that is the contact point's "
                        "Timestamp Header, set webhook.grafana_timestamp_header to it")
        return ""
