"""``t`` on a host ssh cannot reach: the command the TUI runs (real ``ssh`` through
:func:`held`, the operator pressing enter) ends with ssh's error and CCM's words naming
the host and what to check, within the connect timeout the daemon uses
(``ssh.connect_timeout``), also for a host that takes the connection and says nothing
(without a timeout, ssh would wait for its greeting for good)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccm_tui.app.fleet_access import FleetAccess
from ccm_tui.app.jump import attach_command, held
from ccm_tui.config.sections import SSHSettings
from ccm_tui.core.model import Host
from tests.support.ssh import free_port, write_ccm_inventory

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose kernel takes connections that nobody ever answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def t_on(tmp_path: Path, port: int, connect_timeout: float) -> subprocess.CompletedProcess[str]:
    """What the operator sees after ``t`` on web-01 at 127.0.0.1:``port``, then enter."""
    inventory = write_ccm_inventory(tmp_path / "inventory.yaml", [("web-01", port)])
    fleet = FleetAccess(inventory, known_hosts=(tmp_path / "known_hosts",),
                        ssh=SSHSettings(connect_timeout=connect_timeout).pool_options())
    argv = attach_command(fleet, Host(name="web-01"), "t-77", config_dir=tmp_path / "c")
    # a guard only: the connect timeout is what ends it
    return subprocess.run(held(["ssh", "-o", "BatchMode=yes", *argv[1:]]), input="\n",
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_closed_port_names_the_host_and_what_to_check(tmp_path: Path) -> None:
    done = t_on(tmp_path, free_port(), 10)
    assert done.returncode == 255
    assert "Connection refused" in done.stderr
    said = done.stdout
    assert "ssh could not get into web-01" in said
    assert "check that the host is up and that sshd listens" in said and "ccm fleet list" in said
    assert "Press enter to close." in said


def test_a_host_that_never_answers_fails_within_the_connect_timeout(
        tmp_path: Path, silent_port: int) -> None:
    done = t_on(tmp_path, silent_port, 0.5)  # a fraction: rounded up to 1 s, never 0
    assert done.returncode == 255
    assert "timed out" in done.stderr
    assert "ssh could not get into web-01" in done.stdout
    config = next((tmp_path / "c").glob("t-77.ssh_config")).read_text()
    assert "  ConnectTimeout 1\n" in config
