"""What ``ccm`` spares asyncssh's import: X.509 support (unless asked for), the liboqs probe."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, sys, ctypes.util\n"
    "from ccm_tui.commands._quick_probe import install\n"
    "install(); install()\n"
    "import asyncssh, asyncssh.public_key as pk\n"
    "print(json.dumps({'x509': pk._x509_available,\n"
    "                  'loaded': 'cryptography.x509' in sys.modules,\n"
    "                  'wrapped': getattr(ctypes.util.find_library, '_ccm_quick', False)}))\n"
)


def _probe(**env: str) -> dict[str, bool]:
    base = {k: v for k, v in os.environ.items() if k != "CCM_SSH_X509"}
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={**base, "PYTHONPATH": str(ROOT), **env}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_x509_is_left_out_by_default() -> None:
    assert _probe() == {"x509": False, "loaded": False, "wrapped": True}


@pytest.mark.parametrize("value", ["1", "yes", "TRUE"])
def test_ccm_ssh_x509_keeps_it(value: str) -> None:
    with_openssl = importlib.util.find_spec("OpenSSL") is not None  # asyncssh needs it
    assert _probe(CCM_SSH_X509=value) == {"x509": with_openssl, "loaded": True,
                                          "wrapped": True}


def _oqs_answer(tmp_path: Path, files: list[str]) -> dict[str, object]:
    for name in files:
        (tmp_path / name).write_bytes(b"")
    code = ("import json, ctypes.util\n"
            "from ccm_tui.commands._quick_probe import install, liboqs_present\n"
            "install()\n"
            "print(json.dumps({'present': liboqs_present(),\n"
            "                  'oqs': ctypes.util.find_library('oqs') is None}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "LD_LIBRARY_PATH": str(tmp_path)}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_no_liboqs_is_answered_without_asking_the_linker(tmp_path: Path) -> None:
    assert _oqs_answer(tmp_path, ["libfoo.so.1", "oqs.so"]) == {"present": False, "oqs": True}


def test_a_versioned_liboqs_on_the_library_path_is_seen(tmp_path: Path) -> None:
    # present: ctypes is asked as before (an empty file is no library, so it answers None)
    assert _oqs_answer(tmp_path, ["liboqs.so.5"])["present"] is True
