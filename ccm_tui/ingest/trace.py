"""Traces: recorded webhook requests, one JSON object per line, for ``ccm ingest replay``.

A trace line is a request the receiver got (or would get)::

    {"ts": "2026-11-27T02:00:00Z", "endpoint": "alertmanager", "body": {...},
     "headers": {"User-Agent": "Alertmanager/0.25.0"}}

- ``ts`` (required): when it arrived, an RFC 3339 time. Replay uses it as the
  receiver's clock, so flap windows and silences follow the trace, not the wall clock.
  Times must not go backwards from one line to the next.
- ``endpoint`` (required): ``alertmanager``, ``grafana``, ``kibana`` or ``generic`` —
  the ``POST /alerts/<endpoint>`` the request went to — or one of the two control
  lines below.
- ``body``: the decoded JSON document as sent (any JSON value: a wrong one is
  replayed and rejected just as the receiver would reject it), **or** ``raw``: the
  body as a string, for a request that was not JSON. Exactly one of the two.
- ``headers`` (optional): request headers, string to string, for the record.
  Replay does not check credentials or signatures, and :class:`TraceWriter` never
  writes ``Authorization``, cookies or signature headers.

Two control lines put into the hub what the receiver would have found there:

- ``{"ts": …, "endpoint": "inventory", "body": {"hosts": [{"name": "web-01",
  "groups": ["web"], "address": "10.0.0.1", "labels": {…}, "managed": true}, …]}}``
  registers hosts (only ``name`` is required), so a replay into a fresh hub knows
  which hosts are managed. Hosts the hub already knows are left as they are.
- ``{"ts": …, "endpoint": "silence", "body": {"matchers": ["host=~web-.*"],
  "duration": "1h", "reason": "deploy"}}`` adds a silence from ``ts`` for
  ``duration`` (``30m``, ``2h``, ``1h30m``…), as ``ccm silence add`` would have.

Blank lines and lines starting with ``#`` are skipped. Errors name the file and
line: ``trace.jsonl:12: ts is not an RFC 3339 time``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from ccm_tui.core.errors import CCMError, DomainError, PayloadError
from ccm_tui.core.matchers import Matcher, parse_matcher
from ccm_tui.core.model import Host
from ccm_tui.ingest.parsers import SOURCES
from ccm_tui.ingest.parsers.common import parse_time

CONTROL_ENDPOINTS = ("inventory", "silence")
ENDPOINTS = (*SOURCES, *CONTROL_ENDPOINTS)
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie",
                            "x-grafana-alerting-signature"})
_KEYS = {"ts", "endpoint", "body", "raw", "headers"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class TraceError(CCMError):
    """A trace line that cannot be read; the message starts with ``FILE:LINE:``."""

    hint = ("fix that line: each line is {\"ts\": RFC 3339, \"endpoint\": …, \"body\": … "
            "or \"raw\": …} (see `python -m pydoc ccm_tui.ingest.trace`)")


@dataclass(frozen=True, slots=True)
class SilenceSpec:
    """What a ``silence`` line asks for."""

    matchers: tuple[Matcher, ...]
    duration: timedelta
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One line of a trace, checked."""

    lineno: int
    ts: datetime
    endpoint: str
    body: Any = None
    raw: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hosts: tuple[Host, ...] = ()
    silence: SilenceSpec | None = None

    @property
    def is_control(self) -> bool:
        """An ``inventory`` or ``silence`` line rather than a webhook request."""
        return self.endpoint in CONTROL_ENDPOINTS

    def payload(self) -> bytes:
        """The request body as the receiver would have read it."""
        if self.raw is not None:
            return self.raw.encode("utf-8", "surrogatepass")
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def parse_duration(text: str) -> timedelta:
    """``30s``, ``30m``, ``2h``, ``1d``, ``1h30m`` → a timedelta (``ValueError`` otherwise)."""
    s = text.strip().lower()
    pos, seconds = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s) or seconds <= 0:
        raise ValueError(f"{text[:40]!r} is not a positive duration such as 30m, 2h or 1h30m")
    return timedelta(seconds=seconds)


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return value


def _hosts(body: Any) -> tuple[Host, ...]:
    if not isinstance(body, dict) or not isinstance(body.get("hosts"), list):
        raise ValueError('an inventory line needs "body": {"hosts": [{"name": …}, …]}')
    hosts: list[Host] = []
    for i, h in enumerate(body["hosts"]):
        if not isinstance(h, dict) or not isinstance(h.get("name"), str) or not h["name"].strip():
            raise ValueError(f"hosts[{i}] needs a non-empty \"name\"")
        labels = h.get("labels") or {}
        if not isinstance(labels, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise ValueError(f"hosts[{i}].labels must map strings to strings")
        managed = h.get("managed", True)
        if not isinstance(managed, bool):
            raise ValueError(f"hosts[{i}].managed must be true or false")
        address = h.get("address", "")
        if not isinstance(address, str):
            raise ValueError(f"hosts[{i}].address must be a string")
        hosts.append(Host(h["name"].strip(), address,
                          groups=tuple(_str_list(h.get("groups", []), f"hosts[{i}].groups")),
                          labels=dict(labels), managed=managed))
    return tuple(hosts)


def _silence(body: Any) -> SilenceSpec:
    if not isinstance(body, dict):
        raise ValueError('a silence line needs "body": {"matchers": [...], "duration": "1h"}')
    texts = _str_list(body.get("matchers"), "silence matchers")
    if not texts:
        raise ValueError("a silence needs at least one matcher")
    try:
        matchers = tuple(parse_matcher(t) for t in texts)
    except DomainError as exc:
        raise ValueError(str(exc)) from None
    duration = body.get("duration")
    if not isinstance(duration, str):
        raise ValueError('a silence needs "duration", e.g. "1h"')
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ValueError("silence reason must be a string")
    return SilenceSpec(matchers, parse_duration(duration), reason)


def parse_line(text: str, lineno: int) -> TraceLine:
    """One line of a trace (``ValueError`` with the reason, without the line number)."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not a JSON object ({exc})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    unknown = sorted(set(obj) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(repr(k[:30]) for k in unknown[:5])}")
    if "ts" not in obj:
        raise ValueError("no ts")
    try:
        ts = parse_time(obj["ts"], "ts", required=True)
    except PayloadError:
        ts = None
    if ts is None:
        raise ValueError("ts is not an RFC 3339 time")
    endpoint = obj.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint {str(endpoint)[:40]!r} is not one of {', '.join(ENDPOINTS)}")
    headers = obj.get("headers") or {}
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("headers must map strings to strings")
    if ("body" in obj) == ("raw" in obj):
        raise ValueError('give exactly one of "body" (JSON) and "raw" (a string)')
    raw = obj.get("raw")
    if "raw" in obj and not isinstance(raw, str):
        raise ValueError("raw must be a string")
    body = obj.get("body")
    line = TraceLine(lineno, ts, endpoint, body, raw, headers)
    if endpoint in CONTROL_ENDPOINTS and raw is not None:
        raise ValueError(f"a {endpoint} line needs a JSON body, not raw")
    if endpoint == "inventory":
        return TraceLine(lineno, ts, endpoint, body, hosts=_hosts(body))
    if endpoint == "silence":
        return TraceLine(lineno, ts, endpoint, body, silence=_silence(body))
    return line


def parse_trace(lines: Iterable[str], name: str = "trace") -> list[TraceLine]:
    """Check every line; :class:`TraceError` ``name:LINE: reason`` at the first bad one."""
    out: list[TraceLine] = []
    for lineno, text in enumerate(lines, 1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            line = parse_line(text, lineno)
        except ValueError as exc:
            raise TraceError(f"{name}:{lineno}: {exc}") from None
        if out and line.ts < out[-1].ts:
            raise TraceError(
                f"{name}:{lineno}: ts {line.ts:%Y-%m-%dT%H:%M:%SZ} is earlier than line "
                f"{out[-1].lineno}'s {out[-1].ts:%Y-%m-%dT%H:%M:%SZ}",
                hint="sort the trace by ts (replay follows the trace's clock)")
        out.append(line)
    return out


def read_trace(path: Path) -> list[TraceLine]:
    """Read and check a trace file (UTF-8 JSON lines)."""
    try:
        with path.open(encoding="utf-8") as f:
            return parse_trace(f, str(path))
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror}",
                         hint="check the path of the trace file") from None
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not UTF-8 text (byte {exc.start})",
                         hint="a trace is UTF-8 JSON lines; put a non-JSON body in \"raw\"") from None


def format_ts(when: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (microseconds only when there are some)."""
    when = when.astimezone(UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}"
    return text + "Z"


def dump_line(ts: datetime, endpoint: str, *, body: Any = None, raw: str | None = None,
              headers: dict[str, str] | None = None) -> str:
    """One trace line (without newline); secret headers are dropped."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint {endpoint!r} is not one of {', '.join(ENDPOINTS)}")
    obj: dict[str, Any] = {"ts": format_ts(ts), "endpoint": endpoint}
    if raw is not None:
        obj["raw"] = raw
    else:
        obj["body"] = body
    kept = {k: v for k, v in (headers or {}).items() if k.lower() not in SECRET_HEADERS}
    if kept:
        obj["headers"] = kept
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class TraceWriter:
    """Appends trace lines to a text stream, checking that time never goes backwards."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0
        self._last: datetime | None = None

    def write(self, ts: datetime, endpoint: str, *, body: Any = None, raw: str | None = None,
              headers: dict[str, str] | None = None) -> None:
        """Write one request (or control line) received at ``ts``."""
        if self._last is not None and ts < self._last:
            raise ValueError(f"{format_ts(ts)} is earlier than the previous line")
        self.out.write(dump_line(ts, endpoint, body=body, raw=raw, headers=headers) + "\n")
        self._last = ts
        self.count += 1

    def inventory(self, ts: datetime, hosts: Iterable[Host]) -> None:
        """An ``inventory`` line registering ``hosts``."""
        self.write(ts, "inventory", body={"hosts": [
            {"name": h.name, "groups": list(h.groups),
             **({"address": h.address} if h.address else {}),
             **({"labels": h.labels} if h.labels else {}),
             **({} if h.managed else {"managed": False})} for h in hosts]})

    def silence(self, ts: datetime, matchers: Iterable[str], duration: str,
                reason: str = "") -> None:
        """A ``silence`` line: matchers silenced from ``ts`` for ``duration``."""
        self.write(ts, "silence", body={"matchers": list(matchers), "duration": duration,
                                        "reason": reason})
