"""Hypothesis strategies for hostile webhook documents (the requests built from them
are in :mod:`.bodies`).

They cover wrong types everywhere, numbers where strings belong, enormous label
maps, shell metacharacters and Unicode oddities in label values, and valid-looking
Alertmanager / Grafana / Kibana / generic documents with one field mutated.
"""

from __future__ import annotations

import copy
import json
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

SOURCES = ("alertmanager", "grafana", "kibana", "generic")

#: Label values a shell, a template engine, SQL or a terminal might interpret.
HOSTILE_STRINGS: tuple[str, ...] = (
    "; rm -rf / #", "$(reboot)", "`reboot`", "$(curl http://127.0.0.1:1/x | sh)",
    "a\nb", "\r\n", "line1\nline2\rline3", "'; DROP TABLE ccm_alerts; --", "\" OR 1=1 --",
    "${jndi:ldap://127.0.0.1/a}", "{{7*7}}", "{% raw %}", "%s%s%n%x", "../../etc/passwd",
    "| cat /etc/shadow", "&& shutdown -h now", "> /dev/sda", "$HOME", "~root", "*", "?",
    "\\", "\\\\", "\"", "'", "\t", " ", "   ", "\x1b[2J\x1b[31mred", "\x07\x08\x7f",
    "\u202eevil\u202c", "\u200b", "\u200d", "\ufeff", "\u2028\u2029", "\U0001f525🔥",
    "e\u0301\u0301\u0301", "ﷺ", "İ", "ß", "\uffff", "\U0010ffff", "Ω≈ç√∫", "日本語",
    "web-01:9100", "[::1]:9100", "::1", "web-01.prod.example.com", "10.0.0.1",
    "\x00", "a\x00b", "\ud800", "a\udfffb",
)

#: Characters that make a string invalid for the receiver (NUL, lone surrogates).
SURROGATES = st.characters(categories=["Cs"])

label_names = st.one_of(
    st.sampled_from(("instance", "host", "hostname", "nodename", "severity", "job", "team",
                     "mountpoint", "__name__", "a.b/c-d")),
    st.tuples(st.sampled_from(string.ascii_letters + "_"),
              st.text(string.ascii_letters + string.digits + "_.-/", max_size=8)).map("".join),
)
"""Names the receiver accepts as label names."""

bad_label_names = st.one_of(
    st.sampled_from(("", "1abc", "has space", "semi;colon", "$(x)", "é", "a\n", "\x00",
                     "x" * 300, "label=value", "{}")),
    st.text(max_size=12),
)
"""Names that are (mostly) not label names."""

clean_text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
"""Any Unicode text a label value may hold (no NUL, no lone surrogate)."""

nonblank_text = st.tuples(
    clean_text,
    st.text(st.characters(exclude_categories=["Cs", "Cc", "Z"]), min_size=1, max_size=3),
    clean_text,
).map("".join)
"""Text with at least one character that is not whitespace."""

#: Lengths around the receiver's limits (names 256, label values 4096).
long_text = st.sampled_from((255, 256, 257, 4096, 4097)).map(lambda n: "x" * n)

label_values = st.one_of(
    st.sampled_from([s for s in HOSTILE_STRINGS
                     if "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)]),
    clean_text,
    long_text.filter(lambda s: len(s) <= 4096),
)
"""Valid but hostile label values: they must be stored verbatim, never interpreted."""

short_values = st.one_of(
    st.sampled_from([s for s in HOSTILE_STRINGS
                     if "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)]),
    clean_text,
)
"""Hostile label values short enough for names, hosts and tags (at most 128 characters)."""

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    long_text,
    st.text(max_size=12),
    st.text(SURROGATES, min_size=1, max_size=3),
    st.text(st.characters(codec="utf-8"), max_size=12),
)
"""Any string, including ones the receiver must refuse."""

alertnames = st.one_of(
    st.sampled_from(("DiskFull", "HighLoad", "InstanceDown", "$(reboot)", "; rm -rf / #",
                     "`id`", "name with spaces", "ΑλφαBeta", "🔥")),
    nonblank_text,
)

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(label_names, hostile_text), children, max_size=4),
    ),
    max_leaves=10,
)
"""Any JSON value (NaN and Infinity included, as Python's json module writes them)."""

def _times() -> tuple[str, ...]:
    """RFC 3339 times in the forms Alertmanager and Grafana write (a fixed, varied sample)."""
    out = ["0001-01-01T00:00:00Z", ""]
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    fracs = ("", ".5", ".123456", ".123456789")
    zones = ("Z", "+00:00", "+05:30", "-08:00")
    for i in range(48):
        when = epoch + timedelta(seconds=(i * 7_919_993_111) % (40 * 365 * 86400))
        out.append(when.strftime("%Y-%m-%dT%H:%M:%S") + fracs[i % 4] + zones[(i // 4) % 4])
    return tuple(out)


times = st.sampled_from(_times())
"""An RFC 3339 time (or Go's zero time, or empty), in one draw."""


STATUSES = st.sampled_from(("firing", "resolved"))
INSTANCES = st.one_of(
    st.sampled_from(("web-01:9100", "db-01", "[::1]:9100", "; rm -rf / #:9100")), label_values)
extra_labels = st.dictionaries(label_names, label_values, max_size=3)


def _merge(*maps: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in maps:
        out.update(m)
    return out


label_maps = st.builds(_merge, extra_labels, st.fixed_dictionaries(
    {"alertname": alertnames}, optional={"instance": INSTANCES}))
"""A valid, hostile label map with an alertname."""

host_label_maps = st.builds(_merge, extra_labels, st.fixed_dictionaries(
    {}, optional={"instance": INSTANCES}))
"""A valid, hostile label map without an alertname (Kibana's ``labels``)."""

am_alerts = st.fixed_dictionaries({
    "status": STATUSES,
    "labels": label_maps,
    "annotations": st.dictionaries(label_names, label_values, max_size=2),
    "startsAt": times,
    "endsAt": times,
    "generatorURL": st.sampled_from(
        (None, "", "http://prometheus:9090/graph?g0.expr=up%3D%3D0", "$(reboot)")),
})
"""One alert of the Alertmanager / Grafana shape (no fingerprint: derived from labels)."""


def _notification(alerts: list[dict[str, Any]], message: str, version: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "receiver": "ccm", "status": alerts[0]["status"], "alerts": alerts,
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "version": version,
        "groupKey": "{}:{}", "truncatedAlerts": 0,
    }
    if version == "1":
        doc.update(orgId=1, title="[FIRING:1]", state="alerting", message=message)
    return doc


def am_documents(version: str = "4") -> st.SearchStrategy[dict[str, Any]]:
    """A valid Alertmanager (version 4) or Grafana (version 1) notification."""
    return st.builds(_notification, st.lists(am_alerts, min_size=1, max_size=2),
                     label_values, st.just(version))


kibana_documents = st.fixed_dictionaries({
    "rule": st.fixed_dictionaries({
        "id": nonblank_text, "name": alertnames,
        "tags": st.one_of(st.lists(short_values, max_size=3), clean_text)}),
    "alert": st.fixed_dictionaries({
        "id": clean_text, "actionGroup": st.sampled_from(("query matched", "recovered", ""))}),
    "context": st.fixed_dictionaries({"title": label_values, "message": label_values}),
    "date": times,
    "severity": st.sampled_from(("critical", "warning", "info", "")),
}, optional={"labels": host_label_maps})
"""A valid body of CCM's documented Kibana webhook template."""

generic_alerts = st.fixed_dictionaries({"name": alertnames}, optional={
    "host": st.one_of(st.sampled_from(("web-01", "db-01", "$(reboot)")), short_values),
    "status": STATUSES,
    "severity": st.sampled_from(("critical", "warning", "info", "P1", "")),
    "labels": st.dictionaries(label_names, label_values, max_size=4),
    "summary": label_values,
    "description": label_values,
    "starts_at": times,
})
"""One alert of CCM's generic schema."""

generic_documents = st.one_of(
    generic_alerts,
    st.fixed_dictionaries({"alerts": st.lists(generic_alerts, min_size=1, max_size=3)}),
)
"""One generic alert, or ``{"alerts": [...]}``."""

_VALID: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "alertmanager": am_documents("4"),
    "grafana": am_documents("1"),
    "kibana": kibana_documents,
    "generic": generic_documents,
}


def valid_documents(source: str) -> st.SearchStrategy[dict[str, Any]]:
    """Documents the receiver should accept (modulo flapping and dedupe)."""
    return _VALID[source]


def value_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(value_paths(child, path))
    return found


ACTIONS = st.sampled_from(("replace", "replace", "delete", "add", "stringify"))
NEW_KEYS = st.one_of(bad_label_names, label_names, hostile_text)


@st.composite
def mutated_documents(draw: st.DrawFn, source: str) -> dict[str, Any]:
    """A valid document with one field replaced by a hostile value, deleted, or added."""
    doc = copy.deepcopy(draw(valid_documents(source)))
    paths = value_paths(doc)
    path = paths[draw(st.integers(0, len(paths) - 1))]
    *parents, last = path
    parent: Any = doc
    for key in parents:
        parent = parent[key]
    action = draw(ACTIONS)
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[draw(NEW_KEYS)] = draw(json_values)
    elif action == "stringify":
        parent[last] = json.dumps(parent[last], allow_nan=True)
    else:
        parent[last] = draw(json_values)
    return doc


POISON = st.one_of(hostile_text, scalars)


@st.composite
def poisoned_documents(draw: st.DrawFn, source: str) -> dict[str, Any]:
    """A valid document with one label or annotation value set to any hostile string."""
    doc = copy.deepcopy(draw(valid_documents(source)))
    maps = [p for p in value_paths(doc) if p[-1] in ("labels", "annotations")
            and isinstance(_get(doc, p), dict)]
    value = draw(POISON)
    if maps:
        target = _get(doc, maps[draw(st.integers(0, len(maps) - 1))])
        keys = sorted(target)
        if draw(st.booleans()) and keys:
            key = keys[draw(st.integers(0, len(keys) - 1))]
        else:
            key = draw(label_names)
        target[key] = value
    else:  # a generic alert without labels: poison its name, host or summary instead
        alert = doc["alerts"][0] if "alerts" in doc else doc
        alert[draw(st.sampled_from(("name", "host", "summary", "severity")))] = value
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc
