"""tls_cert_expiry on a PEM generated with openssl, and on a live loopback TLS server."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from agent_runtime.actions import ActionContext, ActionError, run_action
from agent_runtime.hostroot import HostRoot

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@pytest.fixture()
def cert(tmp_path: Path) -> tuple[Path, Path]:
    etc = tmp_path / "etc" / "ssl"
    etc.mkdir(parents=True)
    crt, key = etc / "site.pem", etc / "site.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "10",
         "-subj", "/CN=ccm.test/O=CCM", "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60)
    return crt, key


def test_pem_file(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    res = run_action("tls_cert_expiry", {"path": "/etc/ssl/site.pem"},
                     ActionContext(root=HostRoot(str(tmp_path))))
    assert res.ok, res.error
    assert 9.9 < res.data["days_left"] <= 10.0
    assert "commonName=ccm.test" in res.data["subject"]
    assert res.data["issuer"] == res.data["subject"]  # self-signed
    assert res.data["not_after"].endswith("Z") and res.data["expired"] is False


def test_live_server(cert: tuple[Path, Path]) -> None:
    crt, key = cert
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(crt), str(key))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        res = run_action("tls_cert_expiry", {"host": "127.0.0.1", "port": port, "server_name": "ccm.test"},
                         ActionContext())
    finally:
        t.join(timeout=5)
        listener.close()
    assert res.ok, res.error
    assert 9.9 < res.data["days_left"] <= 10.0 and "ccm.test" in res.data["subject"]


def test_exactly_one_source() -> None:
    with pytest.raises(ActionError, match="exactly one"):
        run_action("tls_cert_expiry", {}, ActionContext())
