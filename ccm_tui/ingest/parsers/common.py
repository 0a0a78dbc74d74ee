"""What every parser needs: strict JSON, bounded label maps, RFC 3339 times, host names.

Every check raises :class:`~ccm_tui.core.errors.PayloadError` with a reason a human
can act on ("alerts[3].labels.instance: expected a string, got a list").
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from ccm_tui.core.errors import PayloadError

MAX_ALERTS = 1000
MAX_LABELS = 128
MAX_LABEL_VALUE = 4096
MAX_ANNOTATION_VALUE = 16 * 1024
MAX_NAME = 256

_RFC3339 = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]{0,255}")


def load_json(body: bytes) -> Any:
    """Decode a request body: UTF-8 JSON, with the reason when it is not."""
    if not body.strip():
        raise PayloadError("the body is empty; send a JSON document", reason="empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the body is not valid UTF-8 (byte {exc.start})",
                           reason="encoding") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise PayloadError("the JSON document is nested too deeply", reason="too_deep") from None
    except ValueError as exc:
        raise PayloadError(f"the body is not valid JSON: {exc}", reason="json") from None


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(value), "a value")


def need_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object, got {type_name(value)}",
                           reason="schema", status=422)
    return value


def need_list(value: Any, where: str, *, limit: int = MAX_ALERTS) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"{where}: expected a list, got {type_name(value)}",
                           reason="schema", status=422)
    if len(value) > limit:
        raise PayloadError(f"{where}: {len(value)} items, at most {limit} per request",
                           reason="too_many", status=422)
    return value


def need_str(value: Any, where: str, *, limit: int = MAX_NAME, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}: expected a string, got {type_name(value)}",
                           reason="schema", status=422)
    if required and not value.strip():
        raise PayloadError(f"{where}: must not be empty", reason="schema", status=422)
    if len(value) > limit:
        raise PayloadError(f"{where}: longer than {limit} characters", reason="too_long",
                           status=422)
    if "\x00" in value:
        raise PayloadError(f"{where}: contains a NUL character", reason="schema", status=422)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate, sent as a \udXXX escape
            raise PayloadError(f"{where}: contains a lone UTF-16 surrogate "
                               f"(\\u{ord(value[exc.start]):04x}), which is not text",
                               reason="encoding", status=422) from None
    return value


#: Label names already checked (they repeat across alerts: alertname, instance, …).
_GOOD_NAMES: set[str] = set()
_GOOD_NAMES_MAX = 4096


def _check_name(key: Any, where: str) -> None:
    if key in _GOOD_NAMES:
        return
    if not isinstance(key, str) or not _LABEL_NAME.fullmatch(key):
        raise PayloadError(f"{where}: {str(key)[:40]!r} is not a valid label name",
                           reason="schema", status=422)
    if len(_GOOD_NAMES) < _GOOD_NAMES_MAX:
        _GOOD_NAMES.add(key)


def string_map(value: Any, where: str, *, annotations: bool = False) -> dict[str, str]:
    """A label or annotation map: string keys to string values, bounded."""
    if value is None:
        return {}
    obj = need_object(value, where)
    if len(obj) > MAX_LABELS:
        raise PayloadError(f"{where}: {len(obj)} entries, at most {MAX_LABELS}",
                           reason="too_many", status=422)
    limit = MAX_ANNOTATION_VALUE + 20 if annotations else MAX_LABEL_VALUE
    fast_limit = MAX_ANNOTATION_VALUE if annotations else MAX_LABEL_VALUE
    out: dict[str, str] = {}
    for key, raw in obj.items():
        _check_name(key, where)
        if raw.__class__ is str and len(raw) <= fast_limit and raw.isascii() \
                and "\x00" not in raw:
            out[key] = raw  # the common case, checked in place
            continue
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and annotations:
            raw = str(raw)
        if raw is None and not annotations:  # would be stored as "", not as what was sent
            raise PayloadError(f"{where}.{key}: expected a string, got null", reason="schema",
                               status=422)
        if annotations and isinstance(raw, str) and len(raw) > MAX_ANNOTATION_VALUE:
            raw = raw[:MAX_ANNOTATION_VALUE] + "…(truncated)"
        out[key] = need_str(raw, f"{where}.{key}", required=False, limit=limit)
    return out


#: Recently parsed times (a re-sent alert repeats its own): text → result.
_TIMES: dict[str, datetime | None] = {}
_TIMES_MAX = 4096


def parse_time(value: Any, where: str, *, required: bool = False) -> datetime | None:
    """An RFC 3339 time (nanoseconds allowed); Go's zero time and "" mean none."""
    if value in (None, ""):
        if required:
            raise PayloadError(f"{where}: a time is required", reason="schema", status=422)
        return None
    if value.__class__ is str:
        cached = _TIMES.get(value, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
    parsed = _parse_time(value, where)
    if len(_TIMES) >= _TIMES_MAX:
        _TIMES.clear()
    _TIMES[value] = parsed
    return parsed


_MISSING = object()


def _parse_time(value: Any, where: str) -> datetime | None:
    text = need_str(value, where, limit=64)
    m = _RFC3339.fullmatch(text.strip())
    if not m:
        raise PayloadError(f"{where}: {text[:40]!r} is not an RFC 3339 time", reason="time",
                           status=422)
    year, month, day, hour, minute, second, frac, zone = m.groups()
    if year == "0001":
        return None
    try:
        if zone in ("Z", "z"):
            tz: timezone = UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        micro = int((frac or "0")[:6].ljust(6, "0"))
        return datetime(int(year), int(month), int(day), int(hour), int(minute),
                        min(int(second), 59), micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise PayloadError(f"{where}: {text[:40]!r} is not a valid time ({exc})",
                           reason="time", status=422) from None


def fingerprint_of(labels: dict[str, str]) -> str:
    """A stable 16-hex-digit fingerprint of a label set (for sources that send none)."""
    blob = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+))(?::\d{1,5})?$")


def strip_port(instance: str) -> str:
    """``web-01:9100`` → ``web-01``; ``[::1]:9100`` → ``::1``; bare IPv6 stays as it is.

    A URL (the ``instance`` of a blackbox-exporter probe, ``https://web-01:8443/health``)
    gives its host name: the probed service runs there.
    """
    value = instance.strip()
    if "://" in value:
        try:
            host = urlsplit(value).hostname
        except ValueError:  # a malformed URL (bad port, bad IPv6): keep it whole
            return value
        return host or value
    if value.count(":") > 1 and not value.startswith("["):
        return value
    m = _PORT.match(value)
    if not m:
        return value
    return m.group("v6") or m.group("host") or value


HOST_LABELS = ("host", "hostname", "nodename", "instance")


def host_candidates(labels: dict[str, str]) -> list[str]:
    """Host names an alert's labels point at, most explicit first."""
    found: list[str] = []
    for name in HOST_LABELS:
        value = labels.get(name, "").strip()
        if not value:
            continue
        value = strip_port(value) if name == "instance" else value
        if value and value not in found:
            found.append(value)
    return found
