"""The ``[ssh]`` settings: read from the file and the environment, checked, and handed
to the SSH pool (issue 5, part 2: how CCM connects is the operator's to tune), with
OpenSSH's syntax for the algorithm lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ccm_tui.config import load_settings
from ccm_tui.core.errors import ConfigError
from ccm_tui.fleet.algorithms import (
    DEFAULT_CIPHERS,
    default_algorithms,
    expand,
    resolve,
    supported_algorithms,
)
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.ssh_types import PoolOptions

pytestmark = pytest.mark.usefixtures("isolated_env")  # no user config, no CCM_* variables


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_pools_own() -> None:
    s = load_settings()
    assert s.ssh.kex_algs == "" and s.ssh.ciphers == ""
    options = s.ssh.pool_options()
    default = PoolOptions()
    for name in ("connect_timeout", "login_timeout", "connect_retries", "keepalive_interval",
                 "keepalive_count_max", "kex_algs", "encryption_algs", "max_output"):
        assert getattr(options, name) == getattr(default, name), name
    assert resolve(options) == (None, DEFAULT_CIPHERS)


def test_the_file_sets_every_field(tmp_path: Path) -> None:
    cfg = config(tmp_path, """
[ssh]
connect_timeout = 4.5
login_timeout = 12
connect_retries = 0
keepalive_interval = 0
keepalive_count_max = 5
max_output = 65536
kex_algs = ["curve25519-sha256", "mlkem768x25519-sha256"]
ciphers = "-chacha20*, aes*-ctr"
""")
    options = load_settings(cfg).ssh.pool_options()
    assert (options.connect_timeout, options.login_timeout, options.connect_retries) == (
        4.5, 12.0, 0)
    assert (options.keepalive_interval, options.keepalive_count_max) == (0.0, 5)
    assert options.max_output == 65536
    assert options.kex_algs == "curve25519-sha256,mlkem768x25519-sha256"  # a list is joined
    assert options.encryption_algs == "-chacha20*,aes*-ctr"
    assert resolve(options) == (("curve25519-sha256", "mlkem768x25519-sha256"),
                                ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com"))


def test_the_environment_takes_openssh_syntax(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCM_SSH__KEX_ALGS", "+diffie-hellman-group1-sha1")
    monkeypatch.setenv("CCM_SSH__CONNECT_TIMEOUT", "3")
    s = load_settings()
    assert s.ssh.kex_algs == "+diffie-hellman-group1-sha1" and s.ssh.connect_timeout == 3.0
    kex, _ = resolve(s.ssh.pool_options())
    assert kex is not None and kex[0] == "mlkem768x25519-sha256"
    assert kex[-1] == "diffie-hellman-group1-sha1"


@pytest.mark.parametrize(("toml", "field", "words"), [
    ("[ssh]\nconnect_timeout = 0\n", "ssh.connect_timeout", "greater than 0"),
    ("[ssh]\nconnect_retries = -1\n", "ssh.connect_retries", "greater than or equal to 0"),
    ("[ssh]\nmax_output = 10\n", "ssh.max_output", "greater than or equal to 1024"),
    ('[ssh]\nkex_algs = "curve25519-sha256; rm -rf /"\n', "ssh.kex_algs",
     "is not a list of SSH algorithm names"),
    ('[ssh]\nciphers = "aes128-gcm@openssh.com,,x"\n', "ssh.ciphers", "is not a list"),
    ('[ssh]\nciphers = "+-aes*"\n', "ssh.ciphers", "is not a list"),
    ('[ssh]\nkex = "curve25519-sha256"\n', "ssh.kex", "unknown setting"),
])
def test_bad_values_name_the_field(tmp_path: Path, toml: str, field: str, words: str) -> None:
    cfg = config(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    message = str(info.value)
    assert message.startswith(f"{cfg}: {field}: ") and words in message, message


CIPHERS = list(DEFAULT_CIPHERS)


@pytest.mark.parametrize(("spec", "expected"), [
    ("aes256-ctr,aes128-gcm@openssh.com", ("aes256-ctr", "aes128-gcm@openssh.com")),
    ("-chacha20*", tuple(c for c in CIPHERS if not c.startswith("chacha20"))),
    ("-aes*-ctr,aes192*", ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                           "chacha20-poly1305@openssh.com")),
    ("^chacha20-poly1305@openssh.com", ("chacha20-poly1305@openssh.com", *(
        c for c in CIPHERS if not c.startswith("chacha20")))),
    ("+aes128-cbc", (*CIPHERS, "aes128-cbc")),
    ("+aes128-gcm@openssh.com", tuple(CIPHERS)),  # already there: not twice
    ("aes*-gcm@openssh.com", ("aes256-gcm@openssh.com", "aes128-gcm@openssh.com")),
])
def test_openssh_list_syntax(spec: str, expected: tuple[str, ...]) -> None:
    assert expand(spec, CIPHERS, supported_algorithms("ciphers"), "cipher") == expected


@pytest.mark.parametrize(("spec", "words"), [
    ("aes512-gcm@openssh.com", "'aes512-gcm@openssh.com' is not a cipher algorithm this CCM "
                               "supports"),
    ("-*", "'-*' leaves no cipher algorithm to offer"),
])
def test_openssh_list_syntax_refusals(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        expand(spec, CIPHERS, supported_algorithms("ciphers"), "cipher")


@pytest.mark.parametrize(("options", "kind", "listed"), [
    (PoolOptions(kex_algs="curve25519-sha256,sntrup-who"), "kex_algs", "curve25519-sha256"),
    (PoolOptions(encryption_algs="aes512-gcm@openssh.com"), "ciphers",
     "aes128-gcm@openssh.com"),
])
def test_a_name_the_ssh_library_lacks_is_refused_with_the_names_it_has(
        options: PoolOptions, kind: str, listed: str) -> None:
    with pytest.raises(ConfigError) as info:
        SSHPool([], options=options)
    assert str(info.value).startswith(f"[ssh] {kind}: ")
    assert "this CCM supports" in str(info.value)
    assert listed in info.value.hint and "gss-" not in info.value.hint


def test_supported_names_include_the_defaults_and_openssh_10s_kex() -> None:
    assert set(DEFAULT_CIPHERS) <= set(supported_algorithms("ciphers"))
    assert "mlkem768x25519-sha256" in supported_algorithms("kex_algs")
    assert default_algorithms("kex_algs")[0] == "mlkem768x25519-sha256"
    assert set(default_algorithms("kex_algs")) <= set(supported_algorithms("kex_algs"))
