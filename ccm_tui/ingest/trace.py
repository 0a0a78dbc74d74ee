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
- ``headers`` (optional): request headers, string to string. Replay refuses a
  ``Content-Type`` that is not JSON as the receiver does (415), but does not check
  credentials or signatures, and :class:`TraceWriter` never
  writes ``Authorization``, cookies or signature headers.

Two control lines put into the hub what the receiver would have found there:

- ``{"ts": …, "endpoint": "inventory", "body": {"hosts": [{"name": "web-01",
  "groups": ["web"], "address": "10.0.0.1", "labels": {…}, "managed": true}, …]}}``
  registers hosts (only ``name`` is required), so a replay into a fresh hub knows
  which hosts are managed. Hosts the hub already knows are left as they are.
- ``{"ts": …, "endpoint": "silence", "body": {"matchers": ["host=~web-.*"],
  "duration": "1h", "reason": "deploy"}}`` adds a silence from ``ts`` for
  ``duration`` (``30m``, ``2h``, ``1h30m``…), as ``ccm silence add`` would have.

Blank lines and lines starting with ``#`` are skipped. A trace may be gzip-compressed
(``trace.jsonl.gz``; recognised by its content, not its name), and ``-`` reads it from
standard input. The whole trace is checked before anything is replayed: a bad line
stops the replay with nothing played, and the error names the file and line
(``trace.jsonl:12: ts '2am' is not an RFC 3339 time …``) and how many other lines are bad.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
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
    """A trace that cannot be read; the message names the file (and the line: ``FILE:LINE:``)."""

    hint = ("nothing was replayed; fix that line and run again: each line is {\"ts\": RFC 3339, "
            "\"endpoint\": …, \"body\": … or \"raw\": …} "
            "(docs/ingest.md, \"The trace format\")")


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
    except json.JSONDecodeError as exc:  # its "line 1" would be confused with the trace's
        raise ValueError(f"not a JSON object ({exc.msg} at column {exc.colno})") from None
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
        raise ValueError(f"ts {str(obj['ts'])[:40]!r} is not an RFC 3339 time with a zone "
                         "(e.g. 2026-11-27T02:00:00Z)")
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


def parse_trace(lines: Iterable[str | bytes], name: str = "trace", *,
                ordered: bool = True) -> list[TraceLine]:
    """Check every line; :class:`TraceError` ``name:LINE: reason`` naming the first bad one.

    Lines may be ``bytes`` (UTF-8). With ``ordered=False`` lines whose ``ts`` goes
    backwards are accepted and the result is sorted by ``ts`` (stable: lines with the
    same ``ts`` keep their order).
    """
    out: list[TraceLine] = []
    first: TraceError | None = None
    others: list[int] = []
    for lineno, item in enumerate(lines, 1):
        try:
            text = item.decode("utf-8") if isinstance(item, bytes) else item
        except UnicodeDecodeError as exc:
            error = TraceError(
                f"{name}:{lineno}: not UTF-8 text (byte {exc.start + 1} of the line)",
                hint="nothing was replayed; a trace is UTF-8 JSON lines: put a body that is "
                     "not JSON in \"raw\" as a string")
        else:
            if lineno == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            try:
                line = parse_line(text, lineno)
            except ValueError as exc:
                error = TraceError(f"{name}:{lineno}: {exc}")
            else:
                if not ordered or not out or line.ts >= out[-1].ts:
                    out.append(line)
                    continue
                error = TraceError(
                    f"{name}:{lineno}: ts {format_ts(line.ts)} is earlier than line "
                    f"{out[-1].lineno}'s {format_ts(out[-1].ts)}",
                    hint="nothing was replayed; replay follows the trace's clock: sort the "
                         "trace by ts, or pass --sort to have replay do it")
        if first is None:
            first = error
        else:
            others.append(lineno)
    if first is not None:
        if others:
            shown = ", ".join(map(str, others[:5])) + (", …" if len(others) > 5 else "")
            first.args = (f"{first} ({len(others)} more bad line"
                          f"{'' if len(others) == 1 else 's'}: {shown})",)
        raise first
    if not ordered:
        out.sort(key=lambda x: x.ts)
    return out


#: Other compressors' magic numbers, to say what to do rather than "not UTF-8".
_OTHER_COMPRESSION = {b"BZh": ("bzip2", "bzcat"), b"\xfd7zXZ\x00": ("xz", "xzcat"),
                      b"\x28\xb5\x2f\xfd": ("zstd", "zstdcat")}


def _binary_lines(stream: IO[bytes], name: str) -> Iterator[bytes]:
    """The lines of ``stream``, gunzipped when it starts with gzip's magic number."""
    head = stream.peek(6)[:6] if isinstance(stream, io.BufferedReader) else b""
    for magic, (kind, cat) in _OTHER_COMPRESSION.items():
        if head.startswith(magic):
            shown = "trace" if name == "<stdin>" else name
            raise TraceError(f"{name}: compressed with {kind}; only gzip is read",
                             hint=f"decompress it on the way in: {cat} {shown} | "
                                  "ccm ingest replay -")
    if head[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=stream) as unzipped:
            yield from unzipped
    else:
        yield from stream


def read_trace(path: Path | str, *, ordered: bool = True) -> list[TraceLine]:
    """Read and check a trace: a file (UTF-8 JSON lines, maybe gzip'd) or ``-`` for stdin."""
    name = "<stdin>" if str(path) == "-" else str(path)
    if str(path) == "-" and sys.stdin.isatty():
        raise TraceError("- reads the trace from standard input, which is a terminal",
                         hint="pipe the trace in (`zcat trace.jsonl.gz | ccm ingest replay -`) "
                              "or give its path")
    try:
        if str(path) == "-":
            lines = parse_trace(_binary_lines(sys.stdin.buffer, name), name, ordered=ordered)
        else:
            with Path(path).open("rb") as f:
                lines = parse_trace(_binary_lines(f, name), name, ordered=ordered)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise TraceError(f"{name}: a damaged or incomplete gzip file ({exc})",
                         hint="nothing was replayed; check the file with `gzip -t` "
                              "(was it copied while still being written?)") from None
    except OSError as exc:
        raise TraceError(f"cannot read {name}: {exc.strerror or exc}",
                         hint="check the path of the trace file") from None
    if not lines:
        raise TraceError(f"{name}: no trace lines (the trace is empty, or holds only blank "
                         "lines and # comments)",
                         hint="point at a recorded trace (see docs/ingest.md, "
                              "\"Replaying a trace\")")
    return lines


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
