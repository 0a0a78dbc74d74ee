"""Build ``agent.pyz``: the whole agent as one file, run by any ``python3 >= 3.9``.

::

    python3 -m agent_runtime.zipapp_build [-o dist/agent.pyz]
    python3 dist/agent.pyz --version

Only the ``agent_runtime`` package's ``.py`` files go in (no caches, no tests), so
the archive is small, deterministic in content, and pushes quickly over SSH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import zipapp
from pathlib import Path
from typing import List, Optional

PACKAGE_DIR = Path(__file__).resolve().parent

MAIN = '''"""CCM agent zipapp entry point."""
import sys

from agent_runtime.cli import main

sys.exit(main())
'''


def build(output: "os.PathLike[str] | str", interpreter: str = "/usr/bin/env python3") -> Path:
    """Write the zipapp to ``output`` and return its path."""
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ccm-agent-build-") as tmp:
        stage = Path(tmp) / "app"
        target = stage / "agent_runtime"
        for src in sorted(PACKAGE_DIR.rglob("*.py")):
            rel = src.relative_to(PACKAGE_DIR)
            if "__pycache__" in rel.parts:
                continue
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        (stage / "__main__.py").write_text(MAIN, encoding="utf-8")
        zipapp.create_archive(stage, target=out, interpreter=interpreter, compressed=True)
    out.chmod(0o755)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    """Command line: build the zipapp."""
    parser = argparse.ArgumentParser(prog="agent_runtime.zipapp_build",
                                     description="Build the CCM agent zipapp.")
    parser.add_argument("-o", "--output", default="dist/agent.pyz", help="output file")
    parser.add_argument("--python", default="/usr/bin/env python3", help="shebang interpreter")
    args = parser.parse_args(argv)
    path = build(args.output, args.python)
    sys.stdout.write("%s (%d bytes)\n" % (path, path.stat().st_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
