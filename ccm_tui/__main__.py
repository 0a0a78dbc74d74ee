"""``python -m ccm_tui`` and the ``ccm`` console script."""

from __future__ import annotations

import gc
import os
import sys

from ccm_tui.open_files import raise_limit


def main() -> None:
    """Start ``ccm`` with the garbage collector paused until the command runs.

    Start-up imports build about a million long-lived objects and no garbage;
    collecting while they pile up costs ~4% of a short command's time. The root
    command turns collection back on (after freezing what start-up built) before
    the command itself runs. Pydantic's plugin discovery, which reads the entry
    points of every installed distribution, is skipped unless
    ``PYDANTIC_DISABLE_PLUGINS`` is set (to an empty value, to keep plugins). ``ccm
    run`` forks its broadcast helper first, to import SSH while the command line is
    parsed (:mod:`ccm_tui.fleet.broadcast_helper`). The open-file limit is raised
    first, so the helper and every command inherit it (:mod:`ccm_tui.open_files`).
    """
    gc.disable()
    raise_limit()
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if "run" in sys.argv[1:]:  # load SSH beside the command line (see broadcast_helper)
        from ccm_tui.fleet import broadcast_helper

        broadcast_helper.start(sys.argv[1:])
    from ccm_tui.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
