"""The Textual application (``ccm tui``): the only package that imports textual.

:class:`~ccm_tui.app.app.CCMApp` is the app; :func:`run` opens a hub and runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ccm_tui.app.app import CCMApp

if TYPE_CHECKING:
    from ccm_tui.fleet.ssh_types import PoolOptions

__all__ = ["CCMApp", "run"]


def run(hub_url: str, *, actor: str, theme: str, inventory: Path | None = None,
        known_hosts: Sequence[Path] | None = None, ssh: PoolOptions | None = None) -> None:
    """Open the hub at ``hub_url`` and run the control centre until the operator quits.

    ``inventory`` and ``known_hosts`` (default: ``~/.ssh/known_hosts`` and CCM's own
    file) are what "Broadcast a command…" in the palette runs on, with ``ssh``'s options.
    """
    import os

    from ccm_tui.app.fleet_access import FleetAccess
    from ccm_tui.hub import open_hub

    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    app = CCMApp(open_hub(hub_url), actor=actor, theme=theme, own_hub=True,
                 last_visit=state / "ccm" / "tui-last-visit",
                 fleet=FleetAccess(inventory, tuple(known_hosts) if known_hosts else None,
                                   ssh=ssh)
                 if inventory is not None else None)
    app.run()
