"""End to end: ``ccm tui`` in a real tmux server, driven with send-keys.

Proves the installed command starts against a real hub, shows a host, an
incident and the approval bar (read back with ``capture-pane``), that ``a``
stores an approval in the hub, and that ``t`` inside tmux opens a new tmux window
``ccm-<task>`` running ``ssh -F CONFIG -t -- HOST …`` that attaches to ``ccm-<task>`` there.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ccm_tui.hub import open_hub
from tests.functional.tui.seed import APPROVAL_TASK, seed

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]
CCM = Path(sys.executable).parent / "ccm"


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """A private tmux server (its own socket); yields a ``tmux(*args)`` runner."""
    sock = f"ccm-tui-{secrets.token_hex(4)}"

    def run(*args: str) -> str:
        out = subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *args],
                             capture_output=True, text=True, timeout=10, check=True)
        return out.stdout

    try:
        yield run
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, check=False)


def _until(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _showing(needle: str, fetch: Callable[[], str]) -> Callable[[], str]:
    def check() -> str:
        text = fetch()
        return text if needle in text else ""

    return check


def test_ccm_tui_in_tmux(tmp_path: Path, tmux: Callable[..., str]) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"

    async def prepare() -> None:
        async with open_hub(url) as hub:
            await seed(hub)

    asyncio.run(prepare())
    env = {"CCM_HUB": url, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "CCM_ACTOR": "e2e-operator",
           "TERM": "xterm-256color", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    # COLUMNS/LINES from the test runner would override the pane's real size; t writes
    # its ssh config under XDG_RUNTIME_DIR when there is one, the cache folder otherwise.
    command = " ".join(["env", "-u", "COLUMNS", "-u", "LINES", "-u", "XDG_RUNTIME_DIR",
                        *(f"{k}={v}" for k, v in env.items()), str(CCM), "tui"])
    tmux("new-session", "-d", "-s", "ccm", "-x", "160", "-y", "48", command)
    tmux("set-option", "-g", "remain-on-exit", "on")

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "ccm:0")

    text = str(_until(_showing("worker-03", screen), 30, "the app at 160×48"))
    text = str(_until(_showing("[a] approve", screen), 10, "the approval bar"))
    assert "web-02" in text and "worker-03" in text  # hosts
    assert "DiskFull" in text and "ReplicationLag" in text  # incidents
    assert "t-00000appr1 on web-02" in text and "[a] approve" in text  # the approval bar

    tmux("send-keys", "-t", "ccm:0", "a")

    async def approvals() -> list[str]:
        async with open_hub(url) as hub:
            return [f"{a.kind}:{a.actor}" for a in await hub.list_approvals(APPROVAL_TASK)]

    found = _until(lambda: asyncio.run(approvals()), 10, "the approval in the hub")
    assert found == ["approve:e2e-operator"]
    _until(lambda: "approved by e2e-operator" in screen(), 5, "the decision on screen")

    tmux("send-keys", "-t", "ccm:0", "t")
    windows = str(_until(_showing(f"ccm-{APPROVAL_TASK}", lambda: tmux(
        "list-windows", "-t", "ccm", "-F", "#{window_name}|#{pane_start_command}")),
        10, "the jump window"))
    config = tmp_path / "cache" / "ccm" / "attach" / f"{APPROVAL_TASK}.ssh_config"
    assert f"ssh -F {config} -t -- web-02 " in windows  # held open if it fails
    assert "ccm-attach ccm-t-00000appr1" in windows  # the session, an argument on the host
    text = config.read_text()  # the hub's address and user for web-02 (no inventory here)
    assert 'HostName "10.0.0.2"' in text and "User ops" in text

    tmux("send-keys", "-t", "ccm:0", "q")
    _until(lambda: tmux("display-message", "-p", "-t", "ccm:0", "#{pane_dead}").strip() == "1",
           10, "the app to quit")
