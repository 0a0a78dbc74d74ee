"""The inventory ``ccm webhook`` gives the hub, so alerts find their hosts.

An alert's host is matched against the hosts the hub knows (see
:mod:`ccm_tui.ingest.hosts`); a host it does not know makes an unmanaged task, which
escalates instead of starting an agent. ``ccm up`` and ``ccm daemon`` write the
inventory to the hub when they start; a receiver run on its own does the same, so
that ``ccm init`` then ``ccm webhook`` does not mark every alert unmanaged.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ccm_tui.core.errors import HubError
from ccm_tui.core.text import plural

if TYPE_CHECKING:
    from ccm_tui.config import Settings
    from ccm_tui.fleet.inventory import Inventory
    from ccm_tui.hub.base import Hub

log = logging.getLogger("ccm.webhook")


def inventory_for_ingest(s: Settings) -> Inventory | None:
    """The settings' inventory, or ``None`` when its file does not exist.

    A file that exists but does not parse is an error now (:class:`InventoryError`),
    as for ``ccm daemon``: a receiver that silently knew no hosts would escalate every
    alert.
    """
    from ccm_tui.fleet.inventory import load_inventory

    path = Path(s.inventory).expanduser()
    if not path.exists():
        return None
    return load_inventory(path)


def hosts_note(s: Settings, inventory: Inventory | None) -> str:
    """What the start-up line says about hosts."""
    if inventory is None:
        return (f"no inventory at {s.inventory}: alerts match only the hosts the hub already "
                "knows (`ccm fleet sync --inventory FILE` adds them)")
    return f"{plural(len(inventory), 'inventory host')} given to the hub"


async def sync_when_connected(hub: Hub, inventory: Inventory,
                              connecting: asyncio.Task[bool] | None) -> None:
    """Write the inventory's hosts to the hub, once the hub is connected."""
    from ccm_tui.fleet.inventory import sync_to_hub

    if connecting is not None and not await connecting:
        return
    try:
        changed = await sync_to_hub(hub, inventory)
    except HubError as exc:
        log.warning("could not give the hub the inventory's hosts (%s): alerts for them "
                    "count as unmanaged until `ccm fleet sync` or `ccm up` does", exc)
        return
    if changed:
        log.info("%s added to or changed in the hub from %s", plural(changed, "host"),
                 ", ".join(inventory.sources) or "the inventory")


__all__ = ["hosts_note", "inventory_for_ingest", "sync_when_connected"]
