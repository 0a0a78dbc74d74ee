"""Network actions (read-only): HTTP and TCP checks, TCP connection counts from ``/proc/net``."""

from __future__ import annotations

import socket
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

from agent_runtime.actions.base import ActionContext, ActionResult, action, require

__all__ = ["TCP_STATES", "http_check", "read_proc_tcp", "tcp_check", "tcp_connections"]

#: Kernel TCP state codes (``include/net/tcp_states.h``).
TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
    "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
    "0B": "CLOSING", "0C": "NEW_SYN_RECV",
}
_BODY_LIMIT = 1024 * 1024


@action("http_check", read_only=True, params={
    "url": "str", "expect_status": "int=200", "timeout": "float=5", "contains": "str?=null",
    "follow_redirects": "bool=true",
})
def http_check(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """GET ``url``; ok when the status is ``expect_status`` (and the body holds ``contains``)."""
    import urllib.error  # deferred: urllib.request is slow to import (the probe must be fast)
    import urllib.parse
    import urllib.request

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        """Report a redirect as its own status instead of following it."""

        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    url = params["url"]
    require(urllib.parse.urlsplit(url).scheme in ("http", "https"), "param 'url': must be http(s)://")
    handlers: List[urllib.request.BaseHandler] = [] if params["follow_redirects"] else [_NoRedirect()]
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(url, headers={"User-Agent": "ccm-agent/1"})
    t0 = time.monotonic()
    status: Optional[int] = None
    body = b""
    error = ""
    try:
        with opener.open(req, timeout=params["timeout"]) as resp:
            status = resp.status
            body = resp.read(_BODY_LIMIT)
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            body = exc.read(_BODY_LIMIT)
        except OSError:
            body = b""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        error = f"{type(exc).__name__}: {reason}"
    latency = round((time.monotonic() - t0) * 1000, 1)
    if not error and status != params["expect_status"]:
        error = f"status {status}, expected {params['expect_status']}"
    if not error and params["contains"] is not None \
            and params["contains"] not in body.decode("utf-8", "replace"):
        error = f"body does not contain {params['contains']!r}"
    ok = not error
    data = {"url": url, "ok": ok, "status": status, "latency_ms": latency, "error": error}
    return ActionResult(ok, f"{url}: {'ok' if ok else error} ({status}, {latency} ms)", data, error=error)


@action("tcp_check", read_only=True, params={"host": "str", "port": "int", "timeout": "float=3"})
def tcp_check(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Open a TCP connection to ``host:port``; ok when it connects within ``timeout``."""
    require(0 < params["port"] < 65536, "param 'port': must be 1..65535")
    t0 = time.monotonic()
    error = ""
    try:
        with socket.create_connection((params["host"], params["port"]), timeout=params["timeout"]):
            pass
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"
    latency = round((time.monotonic() - t0) * 1000, 1)
    ok = not error
    where = f"{params['host']}:{params['port']}"
    return ActionResult(ok, f"{where}: {'connected' if ok else error} in {latency} ms",
                        {"host": params["host"], "port": params["port"], "ok": ok,
                         "latency_ms": latency, "error": error}, error=error)


def _addr(hexaddr: str) -> Tuple[str, int]:
    """Decode a ``/proc/net/tcp`` address ``0100007F:1F90`` to ("127.0.0.1", 8080)."""
    host, _, port = hexaddr.partition(":")
    raw = bytes.fromhex(host)
    # the kernel prints each 32-bit word in host (little-endian) order
    swapped = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) == 4:
        ip = socket.inet_ntop(socket.AF_INET, swapped)
    else:
        ip = socket.inet_ntop(socket.AF_INET6, swapped)
        if ip.startswith("::ffff:") and "." in ip:
            ip = ip[7:]
    return ip, int(port, 16)


def read_proc_tcp(paths: Tuple[str, ...] = ("/proc/net/tcp", "/proc/net/tcp6")) -> List[Dict[str, Any]]:
    """Every TCP socket: ``{local, local_port, remote, remote_port, state}``."""
    out: List[Dict[str, Any]] = []
    for path in paths:
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) < 4:
                        continue
                    (lip, lport), (rip, rport) = _addr(parts[1]), _addr(parts[2])
                    out.append({"local": lip, "local_port": lport, "remote": rip,
                                "remote_port": rport, "state": TCP_STATES.get(parts[3], parts[3])})
        except (OSError, ValueError):
            continue
    return out


@action("tcp_connections", read_only=True, params={"port": "int?=null", "limit": "int=10"})
def tcp_connections(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """TCP sockets by state and the busiest remote addresses (optionally only local ``port``)."""
    socks = [s for s in read_proc_tcp() if params["port"] is None or s["local_port"] == params["port"]]
    by_state = Counter(s["state"] for s in socks)
    remotes = Counter(s["remote"] for s in socks if s["state"] != "LISTEN")
    top = [{"addr": a, "count": n} for a, n in remotes.most_common(params["limit"])]
    scope = f" on port {params['port']}" if params["port"] is not None else ""
    return ActionResult(True, f"{len(socks)} TCP sockets{scope}", {
        "total": len(socks), "by_state": dict(sorted(by_state.items())), "top_remote": top,
        "port": params["port"],
    })
