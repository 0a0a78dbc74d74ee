"""`ccm fleet list` as a user runs it: real process, piped or on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

CCM = [sys.executable, "-m", "ccm_tui"]
LONG_VARS = " ".join(f"setting_{i}=value-{i:02d}-of-a-long-group-variable" for i in range(8))


def ccm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CCM, *args], capture_output=True, text=True, env=env, check=False)


def on_terminal(*args: str, columns: int) -> str:
    """What a terminal `columns` wide shows."""
    parent, child = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb", "NO_COLOR": "1"}
    proc = subprocess.Popen([*CCM, *args], stdout=child, stderr=child, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(parent, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(parent)
    assert proc.wait() == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def ansible(tmp_path: Path, isolated_env: Path) -> Path:
    p = tmp_path / "hosts"
    p.write_text(f"""\
localhost ansible_connection=local
[web]
web-01.example.com ansible_host=10.0.0.1
web-02.example.com ansible_host=10.0.0.2
[web:vars]
{LONG_VARS.replace(" ", chr(10))}
[prod:children]
web
""")
    return p


def test_notes_go_to_stderr_and_json_stays_json(ansible: Path) -> None:
    res = ccm("fleet", "list", "--inventory", str(ansible), "--json")
    assert res.returncode == 0
    assert [h["name"] for h in json.loads(res.stdout)] == ["web-01.example.com",
                                                          "web-02.example.com"]
    assert res.stderr == (f"note: {ansible}:1: localhost left out: ansible_connection=local "
                          "is not SSH\n")


def test_piped_list_has_one_whole_line_per_host(ansible: Path) -> None:
    res = ccm("fleet", "list", "--inventory", str(ansible), env={**os.environ, "COLUMNS": "80"})
    lines = res.stdout.splitlines()
    assert len(lines) == 4 and lines[-1].startswith("2 of 2 hosts")
    assert all(f"setting_{i}=value-{i:02d}" in lines[1] for i in range(8))  # grep finds them


def test_on_a_terminal_long_labels_are_cut_not_wrapped(ansible: Path) -> None:
    for columns in (100, 160):
        out = on_terminal("fleet", "list", "--inventory", str(ansible), columns=columns)
        rows = [ln for ln in out.splitlines() if ln.startswith("web-0")]
        assert len(rows) == 2, out  # one line per host, not one per label
        assert all(len(r) <= columns and "…" in r and "10.0.0." in r for r in rows)
        assert "prod,web" in rows[0] or "web,prod" in rows[0]


def test_an_empty_inventory_says_so(tmp_path: Path, isolated_env: Path) -> None:
    empty = tmp_path / "hosts"
    empty.write_text("# nothing yet\n")
    res = ccm("fleet", "list", "--inventory", str(empty))
    assert res.returncode == 0
    assert res.stdout.startswith(f"no hosts in {empty} — add some")
    assert json.loads(ccm("fleet", "list", "--inventory", str(empty), "--json").stdout) == []


def test_the_ssh_config_fallback_with_only_patterns_says_why_it_lists_nothing(
        isolated_env: Path) -> None:
    (isolated_env / ".ssh").mkdir()
    cfg = isolated_env / ".ssh" / "config"
    cfg.write_text("Host *\n  User me\nHost *.prod !db.prod\n  User p\n")
    env = {k: v for k, v in os.environ.items() if k != "CCM_INVENTORY"}
    res = ccm("fleet", "list", env=env)  # no inventory.yaml: ~/.ssh/config is the fleet
    assert res.returncode == 0 and res.stdout.startswith(f"no hosts in {cfg}")
    assert res.stderr == (f"note: {cfg}: its Host lines are all patterns (*, ?, !), which "
                          "name no host to list\n")


def test_ipv6_addresses_are_listed_in_brackets(tmp_path: Path, isolated_env: Path) -> None:
    inv = tmp_path / "hosts"
    inv.write_text("[v6]\n[2001:db8::2]:2222\nv4 ansible_host=192.0.2.1\n")
    lines = ccm("fleet", "list", "--inventory", str(inv)).stdout.splitlines()
    assert lines[1].split()[:2] == ["2001:db8::2", "[2001:db8::2]:2222"]
    assert lines[2].split()[:2] == ["v4", "192.0.2.1:22"]
