"""What the control centre needs to reach the fleet (no textual): the inventory and trust.

``ccm tui`` builds a :class:`FleetAccess` from the settings and hands it to the app;
the broadcast screen loads the inventory, opens an :class:`~ccm_tui.fleet.ssh.SSHPool`
checking host keys against the given known_hosts files, and records each run in the
hub's audit log exactly like ``ccm run`` does (so ``ccm run --retry-failed`` sees it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccm_tui.fleet.broadcast import AUDIT_OUTPUT_CHARS, BroadcastReport
from ccm_tui.fleet.inventory import Inventory, load_inventory
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.ssh_types import PoolOptions

#: The audit action of a broadcast: the same as ``ccm run`` (``ccm_tui.commands.run``).
AUDIT_ACTION = "run"


@dataclass(frozen=True, slots=True)
class FleetAccess:
    """The inventory file, the known_hosts files to trust, and broadcast limits.

    ``known_hosts`` ``None`` means the defaults (``~/.ssh/known_hosts`` and CCM's own
    file); ``trust_write_to`` is CCM's own file (default ``$XDG_CONFIG_HOME/ccm``).
    ``ssh_config`` fills in what the inventory leaves unset (``None`` skips it).
    """

    inventory: Path
    known_hosts: tuple[Path, ...] | None = None
    trust_write_to: Path | None = None
    ssh_config: Path | None = Path("~/.ssh/config")
    forks: int = 50
    timeout: float = 30.0
    ssh: PoolOptions | None = None

    def load(self) -> Inventory:
        """Read the inventory (raises :class:`~ccm_tui.core.errors.InventoryError`)."""
        return load_inventory(self.inventory, ssh_config=self.ssh_config)

    def pool(self, inventory: Inventory) -> SSHPool:
        """A connection pool over ``inventory`` that checks host keys."""
        trust = TrustStore(list(self.known_hosts) if self.known_hosts is not None else None,
                           write_to=self.trust_write_to)
        return SSHPool(inventory, trust=trust, options=self.ssh)


def audit_detail(report: BroadcastReport, forks: int, timeout: float) -> dict[str, Any]:
    """The audit entry's detail, as ``ccm run`` writes it (outputs cut short)."""
    return {**report.to_dict(output_chars=AUDIT_OUTPUT_CHARS),
            "failed": report.failed_hosts(), "forks": forks, "timeout": timeout}


__all__ = ["AUDIT_ACTION", "FleetAccess", "audit_detail"]
