"""``python -m ccm_tui``: the same as the ``ccm`` command."""

from __future__ import annotations

from ccm_tui.cli import main

if __name__ == "__main__":
    main()
