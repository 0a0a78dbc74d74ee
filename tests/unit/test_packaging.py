"""The wheel ships what an installed CCM needs: themes, runbooks, migrations, the agent."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_data_and_both_packages(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d",
                    str(tmp_path)], cwd=ROOT, check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("ccm-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, expected in (("themes", {"dark.tcss", "light.tcss", "high-contrast.tcss"}),
                             ("runbooks", {p.name for p in (ROOT / "runbooks").glob("*.yaml")}),
                             ("migrations", {p.name for p in
                                             (ROOT / "supabase" / "migrations").glob("*.sql")})):
        shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith(f"ccm_tui/_data/{folder}/")}
        assert expected <= shipped, (folder, expected - shipped)
    assert "agent_runtime/protocol.py" in names and "ccm_tui/cli.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "ccm = ccm_tui.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()
