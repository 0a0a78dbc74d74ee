"""Hypothesis strategies for whole webhook requests: the bytes, Content-Type and
Content-Encoding to send, built on the documents of :mod:`.strategies`.

Every strategy draws a :class:`Body`: the raw bytes to POST, the headers, and, when
the bytes are a JSON document, that document (so a test can tell what was sent):
valid and mutated documents, invalid UTF-8 and NUL bytes spliced in, huge and deeply
nested documents, wrong content types, and compressed, cut or mislabelled bodies.
"""

from __future__ import annotations

import copy
import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.functional.ingest.strategies import (
    SOURCES,
    json_values,
    mutated_documents,
    poisoned_documents,
    valid_documents,
    value_paths,
)


@dataclass(frozen=True)
class Body:
    """What one request sends."""

    raw: bytes
    content_type: str | None = "application/json"
    doc: Any = None
    kind: str = ""
    content_encoding: str | None = None
    plain: bytes | None = None  # what the receiver reads once it has decoded ``raw``


def encode(doc: Any, *, ascii_only: bool) -> bytes:
    """JSON bytes; lone surrogates become ``\\udXXX`` escapes or (invalid) CESU-8 bytes."""
    text = json.dumps(doc, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def json_bodies(draw: st.DrawFn, documents: st.SearchStrategy[Any], kind: str) -> Body:
    doc = draw(documents)
    return Body(encode(doc, ascii_only=draw(st.booleans())), doc=doc, kind=kind)


@st.composite
def corrupted_bodies(draw: st.DrawFn, source: str) -> Body:
    """A valid document's bytes with invalid UTF-8, a NUL, or a cut, spliced in."""
    raw = encode(draw(valid_documents(source)), ascii_only=False)
    at = draw(st.integers(0, len(raw)))
    bad = draw(st.sampled_from((
        b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\x28",
        b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x00", b"\x00" * 16,
        b"\\u0000", b"\"\x00\"", b"\n", b"\x1b[2J", b"}", b"]]]", b"")))
    mode = draw(st.sampled_from(("insert", "truncate", "replace")))
    if mode == "truncate":
        out = raw[:at]
    elif mode == "replace":
        out = raw[:at] + bad + raw[at + len(bad):]
    else:
        out = raw[:at] + bad + raw[at:]
    return Body(out, kind=f"corrupted-{mode}")


@st.composite
def encoded_bodies(draw: st.DrawFn, source: str) -> Body:
    """A valid document sent with a Content-Encoding: truly compressed, compressed and
    then cut short, or not compressed at all (a lie); some encodings aiohttp cannot
    decode (br, zstd) and some it does not know (passed through as they are)."""
    plain = encode(draw(valid_documents(source)), ascii_only=True)
    enc = draw(st.sampled_from(("gzip", "deflate", "br", "zstd", "identity", "x-unknown",
                                "gzip, gzip", "GZIP")))
    mode = draw(st.sampled_from(("honest", "lie", "cut")))
    data = plain
    if enc.lower() in ("gzip", "deflate") and mode != "lie":
        data = gzip.compress(plain) if enc.lower() == "gzip" else zlib.compress(plain)
        if mode == "cut":
            data = data[:draw(st.integers(0, len(data) - 1))]
    return Body(data, content_encoding=enc, plain=plain, kind=f"encoded-{enc}-{mode}")


@st.composite
def huge_bodies(draw: st.DrawFn, source: str) -> Body:
    """Deep nesting, enormous label maps, too many alerts, huge strings, huge numbers."""
    kind = draw(st.sampled_from(("deep-list", "deep-object", "deep-in-labels", "many-labels",
                                 "many-alerts", "long-value", "too-large", "big-number",
                                 "long-name")))
    depth = draw(st.sampled_from((50, 500, 990, 1000, 1100, 5000, 100_000)))
    n = draw(st.sampled_from((129, 1000, 5000)))
    base: Any = None
    if kind in ("long-value", "too-large", "long-name"):
        base = copy.deepcopy(draw(valid_documents(source)))
    if kind == "deep-list":
        return Body(b"[" * depth + b"]" * depth, kind=kind)
    if kind == "deep-object":
        return Body(b'{"a":' * depth + b"1" + b"}" * depth, kind=kind)
    if kind == "deep-in-labels":
        nested = b"[" * depth + b"]" * depth
        raw = b'{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X","host":' \
            + nested + b"}}]}"
        return Body(raw, kind=kind)
    if kind == "many-labels":
        labels = {f"l{i}": "; rm -rf / #" for i in range(n)}
        labels["alertname"] = "Enormous"
        doc: Any = ({"version": "4", "alerts": [{"status": "firing", "labels": labels}]}
                    if source in ("alertmanager", "grafana") else
                    {"rule": {"id": "r", "name": "n"}, "labels": labels}
                    if source == "kibana" else {"name": "Enormous", "labels": labels})
        if source == "grafana":
            doc["version"] = "1"
        return Body(encode(doc, ascii_only=True), doc=doc, kind=kind)
    if kind == "many-alerts":
        one = {"status": "firing", "labels": {"alertname": "Many", "host": "web-01"}}
        if source == "generic":
            one = {"name": "Many", "host": "web-01"}
        doc = {"version": "1" if source == "grafana" else "4", "alerts": [one] * 1001}
        return Body(encode(doc, ascii_only=True), doc=doc, kind=kind)
    if kind == "long-value":
        return Body(encode(_set_first_string(base, "z" * draw(st.sampled_from(
            (4097, 20_000, 500_000)))), ascii_only=True), kind=kind)
    if kind == "too-large":
        pad = b" " * (1024 * 1024 + draw(st.integers(1, 4096)))
        return Body(encode(base, ascii_only=True) + pad, kind=kind)
    if kind == "big-number":
        digits = draw(st.sampled_from((20, 400, 4301, 50_000)))
        return Body(b'{"version": ' + b"9" * digits + b', "alerts": []}', kind=kind)
    return Body(encode(_set_first_key(base, "k" * 300), ascii_only=True), kind=kind)


def _set_first_string(doc: Any, value: str) -> Any:
    for path in value_paths(doc):
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent[path[-1]], str):
            parent[path[-1]] = value
            return doc
    return doc


def _set_first_key(doc: Any, key: str) -> Any:
    for path in [(), *value_paths(doc)]:
        target = doc
        for k in path:
            target = target[k]
        if isinstance(target, dict) and path and path[-1] == "labels":
            target[key] = "v"
            return doc
    if isinstance(doc, dict):
        doc[key] = "v"
    return doc


content_types = st.one_of(
    st.just("application/json"),
    st.sampled_from(("application/json; charset=utf-8", "text/plain", "application/octet-stream",
                     None, "text/xml", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=x", "application/json; charset=latin-1")),
)


@st.composite
def with_content_type(draw: st.DrawFn, bodies: st.SearchStrategy[Body]) -> Body:
    body = draw(bodies)
    ctype = draw(content_types)
    return Body(body.raw, ctype, body.doc, body.kind)


def bodies(source: str) -> st.SearchStrategy[Body]:
    """Every kind of body, for one endpoint."""
    other = st.sampled_from([s for s in SOURCES if s != source]).flatmap(valid_documents)
    return st.one_of(
        json_bodies(valid_documents(source), "valid"),
        json_bodies(mutated_documents(source), "mutated"),
        json_bodies(poisoned_documents(source), "poisoned"),
        json_bodies(other, "other-source"),
        json_bodies(json_values, "random-json"),
        st.builds(lambda b: Body(b, kind="binary"), st.binary(max_size=512)),
        corrupted_bodies(source),
        huge_bodies(source),
        encoded_bodies(source),
        with_content_type(json_bodies(valid_documents(source), "valid-ctype")),
    )
