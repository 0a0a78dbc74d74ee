"""``[ssh] kex_algs`` and ``ciphers`` reach the wire: a real OpenSSH sshd that accepts one
key exchange and one cipher lets CCM in only when CCM offers them, and a host with
nothing in common is reported once (not retried) with the setting to change."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app
from tests.support.ssh import (
    KeyFiles,
    Sshd,
    SshdUnavailable,
    write_ccm_inventory,
    write_known_hosts,
)

STRICT = "KexAlgorithms curve25519-sha256\nCiphers aes256-gcm@openssh.com"


@pytest.fixture(scope="module")
def strict_sshd(client_key: KeyFiles, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Sshd]:
    """An sshd that accepts only curve25519-sha256 and aes256-gcm."""
    try:
        server = Sshd(tmp_path_factory.mktemp("strict-sshd"), [client_key.public_line],
                      extra_config=STRICT).start()
    except SshdUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


def run(strict_sshd: Sshd, client_key: KeyFiles, home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, **ssh: str) -> tuple[int, dict[str, object], str]:
    for key, value in ssh.items():
        monkeypatch.setenv(f"CCM_SSH__{key.upper()}", value)
    write_known_hosts(home / ".ssh" / "known_hosts",
                      [(strict_sshd.port, strict_sshd.host_public_line)])
    inventory = write_ccm_inventory(tmp_path / "inventory.yaml", [("strict", strict_sshd.port)],
                                    user=strict_sshd.user, identity=client_key.private)
    result = CliRunner().invoke(app, [
        "run", "echo in", "--hosts", "all", "--inventory", str(inventory),
        "--hub", f"sqlite:///{tmp_path / 'hub.db'}", "--json"])
    doc = json.loads(result.stdout) if result.stdout.startswith("{") else {}
    return result.exit_code, doc, result.output


def refusals(sshd: Sshd) -> int:
    return sum("Unable to negotiate" in line for line in sshd.log)


def test_the_defaults_negotiate_with_a_strict_server(
        strict_sshd: Sshd, client_key: KeyFiles, isolated_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, doc, output = run(strict_sshd, client_key, isolated_home, tmp_path, monkeypatch)
    assert code == 0, output
    assert doc["summary"] == "1 identical"


def test_a_key_exchange_the_server_refuses_fails_once_and_names_the_setting(
        strict_sshd: Sshd, client_key: KeyFiles, isolated_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = refusals(strict_sshd)
    code, doc, output = run(strict_sshd, client_key, isolated_home, tmp_path, monkeypatch,
                            kex_algs="mlkem768x25519-sha256")
    assert code == 1, output
    assert doc["summary"] == "1 no common algorithm"
    assert doc["counts"]["no_common_algorithm"] == 1  # type: ignore[index]
    (host,) = doc["hosts"]  # type: ignore[misc]
    assert host["error_kind"] == "algorithms"
    assert "has no SSH algorithm in common with CCM (No matching key exchange" in host["error"]
    assert "sent mlkem768x25519-sha256 and received curve25519-sha256" in host["error"]
    assert host["error"].endswith("KexAlgorithms / Ciphers in its ~/.ssh/config block)")
    assert "[ssh] kex_algs / ciphers in CCM's config" in host["error"]
    # sshd's log reaches us through a pipe after the client is done: wait for the refusal,
    # then give a (wrong) retry's refusal as long again to show up before counting
    deadline = time.monotonic() + 15
    while refusals(strict_sshd) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    assert refusals(strict_sshd) - before == 1  # not retried: a retry cannot succeed


def test_kex_algs_and_ciphers_are_offered_as_set(
        strict_sshd: Sshd, client_key: KeyFiles, isolated_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, doc, output = run(strict_sshd, client_key, isolated_home, tmp_path, monkeypatch,
                            kex_algs="mlkem768x25519-sha256,curve25519-sha256",
                            ciphers="aes256-gcm@openssh.com")
    assert code == 0, output
    code, doc, output = run(strict_sshd, client_key, isolated_home, tmp_path, monkeypatch,
                            ciphers="aes128-gcm@openssh.com,chacha20-poly1305@openssh.com")
    assert code == 1 and "has no SSH algorithm in common" in str(doc["hosts"]), output


@pytest.mark.parametrize(("kex_algs", "ciphers", "ok"), [
    ("^curve25519-sha256", "", True),            # preferred first: what the server takes
    ("-curve25519*", "", False),                 # removed from the defaults: nothing left
    ("", "-aes256*", False),
    ("mlkem*,curve25519-sha256", "+aes256-cbc", True),
])
def test_openssh_list_syntax_reaches_the_wire(
        kex_algs: str, ciphers: str, ok: bool, strict_sshd: Sshd, client_key: KeyFiles,
        isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {k: v for k, v in (("kex_algs", kex_algs), ("ciphers", ciphers)) if v}
    code, doc, output = run(strict_sshd, client_key, isolated_home, tmp_path, monkeypatch,
                            **settings)
    assert (code == 0) is ok, output
    assert doc["summary"] == ("1 identical" if ok else "1 no common algorithm"), output


def test_a_name_ccm_does_not_know_stops_before_any_connection(
        strict_sshd: Sshd, client_key: KeyFiles, isolated_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    connections = sum("Accepted publickey" in line for line in strict_sshd.log)
    code, _, output = run(strict_sshd, client_key, isolated_home, tmp_path, monkeypatch,
                          kex_algs="curve25519-sha999")
    assert code != 0
    assert ("[ssh] kex_algs: 'curve25519-sha999' is not a key exchange algorithm this CCM "
            "supports") in output
    assert "curve25519-sha256" in output  # the hint lists the names that work
    assert sum("Accepted publickey" in line for line in strict_sshd.log) == connections


def test_a_hosts_own_list_reaches_that_host_alone(
        strict_sshd: Sshd, client_key: KeyFiles, isolated_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """[ssh] leaves curve25519 out for the fleet; the one host that needs it says so in
    its ~/.ssh/config block, as with ssh."""
    monkeypatch.setenv("CCM_SSH__KEX_ALGS", "-curve25519*")
    write_known_hosts(isolated_home / ".ssh" / "known_hosts",
                      [(strict_sshd.port, strict_sshd.host_public_line)])
    (isolated_home / ".ssh" / "config").write_text(
        "Host legacy\n  KexAlgorithms ^curve25519-sha256\n")
    inventory = write_ccm_inventory(
        tmp_path / "inventory.yaml", [("legacy", strict_sshd.port), ("modern", strict_sshd.port)],
        user=strict_sshd.user, identity=client_key.private)
    result = CliRunner().invoke(app, [
        "run", "echo in", "--hosts", "all", "--inventory", str(inventory),
        "--hub", f"sqlite:///{tmp_path / 'hub.db'}", "--json"])
    doc = json.loads(result.stdout)
    outcome = {h["host"]: h["error_kind"] or "ok" for h in doc["hosts"]}
    assert outcome == {"legacy": "ok", "modern": "algorithms"}, result.output
