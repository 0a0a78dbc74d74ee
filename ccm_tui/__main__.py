"""``python -m ccm_tui`` and the ``ccm`` console script."""

from __future__ import annotations

import gc
import os


def main() -> None:
    """Start ``ccm`` with the garbage collector paused until the command runs.

    Start-up imports build about a million long-lived objects and no garbage;
    collecting while they pile up costs ~4% of a short command's time. The root
    command turns collection back on (after freezing what start-up built) before
    the command itself runs. Pydantic's plugin discovery, which reads the entry
    points of every installed distribution, is skipped unless
    ``PYDANTIC_DISABLE_PLUGINS`` is set (to an empty value, to keep plugins).
    """
    gc.disable()
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from ccm_tui.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
