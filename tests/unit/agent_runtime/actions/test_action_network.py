"""http_check, tcp_check and tcp_connections against loopback servers started here."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent_runtime.actions import ActionContext, run_action


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 503 if self.path == "/down" else 200
        body = b"status: healthy" if code == 200 else b"maintenance"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_server() -> Iterator[tuple[str, int]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_check(http_server: tuple[str, int]) -> None:
    host, port = http_server
    ctx = ActionContext()
    ok = run_action("http_check", {"url": f"http://{host}:{port}/health", "contains": "healthy"}, ctx)
    assert ok.ok and ok.data["ok"] and ok.data["status"] == 200 and ok.data["latency_ms"] >= 0
    down = run_action("http_check", {"url": f"http://{host}:{port}/down"}, ctx)
    assert not down.ok and down.data["status"] == 503 and "expected 200" in down.error
    expected = run_action("http_check", {"url": f"http://{host}:{port}/down", "expect_status": 503}, ctx)
    assert expected.ok
    missing = run_action("http_check", {"url": f"http://{host}:{port}/", "contains": "nope"}, ctx)
    assert not missing.ok and "does not contain" in missing.error


def test_tcp_check_and_connections() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    accepted = [listener.accept()[0] for _ in range(3)]
    try:
        ok = run_action("tcp_check", {"host": "127.0.0.1", "port": port}, ActionContext())
        assert ok.ok and ok.data["ok"] and ok.data["error"] == ""
        conns = run_action("tcp_connections", {"port": port}, ActionContext())
        assert conns.ok
        assert conns.data["by_state"].get("LISTEN") == 1
        assert conns.data["by_state"].get("ESTABLISHED", 0) >= 3
        assert conns.data["top_remote"][0]["addr"] == "127.0.0.1"
    finally:
        for s in clients + accepted:
            s.close()
        listener.close()
    closed = run_action("tcp_check", {"host": "127.0.0.1", "port": port, "timeout": 1}, ActionContext())
    assert not closed.ok and not closed.data["ok"] and "Refused" in closed.data["error"]
