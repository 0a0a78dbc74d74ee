"""The Textual application (``ccm tui``): the only package that imports textual.

:class:`~ccm_tui.app.app.CCMApp` is the app; :func:`run` opens a hub and runs it.
"""

from __future__ import annotations

from ccm_tui.app.app import CCMApp

__all__ = ["CCMApp", "run"]


def run(hub_url: str, *, actor: str, theme: str) -> None:
    """Open the hub at ``hub_url`` and run the control centre until the operator quits."""
    import os
    from pathlib import Path

    from ccm_tui.hub import open_hub

    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    app = CCMApp(open_hub(hub_url), actor=actor, theme=theme, own_hub=True,
                 last_visit=state / "ccm" / "tui-last-visit")
    app.run()
