"""TLS action (read-only): when a certificate expires, from a PEM file or a live server."""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timezone
from typing import Any, Dict, Tuple

from agent_runtime.actions.base import ActionContext, ActionResult, action, require, resolve_path

__all__ = ["decode_pem_file", "tls_cert_expiry"]


def decode_pem_file(path: str) -> Dict[str, Any]:
    """Decode the first certificate of a PEM file (``ssl._ssl._test_decode_cert``)."""
    import ssl

    decoder = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decoder is None:  # pragma: no cover - every CPython has it
        raise RuntimeError("this Python cannot decode certificates")
    cert: Dict[str, Any] = decoder(path)
    return cert


def _name(rdns: Any) -> str:
    """``((("commonName", "x"),), ...)`` to ``"commonName=x, ..."``."""
    parts = []
    for rdn in rdns or ():
        for key, value in rdn:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def _fetch_peer_cert(host: str, port: int, server_name: str, timeout: float) -> Dict[str, Any]:
    """Handshake with verification off (only to read the certificate) and decode it."""
    import ssl
    import tempfile
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we only read the certificate; nothing is trusted or sent
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            ctx.wrap_socket(sock, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ValueError("server sent no certificate")
    fd, tmp = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(ssl.DER_cert_to_PEM_cert(der))
        return decode_pem_file(tmp)
    finally:
        os.unlink(tmp)


def _expiry(cert: Dict[str, Any]) -> Tuple[str, float]:
    import ssl

    ts = ssl.cert_time_to_seconds(cert["notAfter"])
    iso = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return iso, round((ts - time.time()) / 86400.0, 2)


@action("tls_cert_expiry", read_only=True, params={
    "path": "str?=null", "host": "str?=null", "port": "int=443", "server_name": "str?=null",
    "timeout": "float=5",
})
def tls_cert_expiry(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Expiry, subject and issuer of a certificate: a PEM file (``path``) or a live server (``host``)."""
    require((params["path"] is None) != (params["host"] is None),
            "params 'path' and 'host': give exactly one")
    if params["path"] is not None:
        real = resolve_path(ctx, params, "path")
        require(os.path.isfile(real), f"param 'path': {params['path']!r} is not a file")
        source = params["path"]
        cert = decode_pem_file(real)
    else:
        require(0 < params["port"] < 65536, "param 'port': must be 1..65535")
        source = f"{params['host']}:{params['port']}"
        cert = _fetch_peer_cert(params["host"], params["port"],
                                params["server_name"] or params["host"], params["timeout"])
    not_after, days_left = _expiry(cert)
    data = {
        "source": source, "not_after": not_after, "days_left": days_left, "expired": days_left < 0,
        "subject": _name(cert.get("subject")), "issuer": _name(cert.get("issuer")),
        "serial": cert.get("serialNumber", ""),
        "san": [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"],
    }
    return ActionResult(True, f"{source}: certificate expires {not_after} ({days_left} days)", data)
