"""The fleet: inventory, the SSH connection pool, broadcast and agent install.

The only package that imports asyncssh. Modules, each with one job:

* :mod:`.inventory` — :class:`FleetHost`, :class:`Inventory`, :func:`load_inventory`
  (CCM YAML, Ansible INI/YAML via :mod:`.inventory_ansible`, ``~/.ssh/config`` via
  :mod:`.inventory_sshconfig`), :func:`sync_to_hub`;
* :mod:`.fields` — what an inventory's names, ports and algorithm lists may hold;
* :mod:`.patterns` — host patterns (``web-*``, ``group:db``, ``label:env=prod``,
  ``all``, ``a,b``, ``!x``, ``&y``);
* :mod:`.known_hosts` — :class:`TrustStore`: which host keys are trusted, and
  recording a new one (``ccm fleet trust``);
* :mod:`.ssh` — :class:`SSHPool` (``run``, ``connection``, ``close``), :class:`RunResult`;
* :mod:`.algorithms` — the SSH algorithms CCM offers: defaults, ``[ssh]``'s OpenSSH-style lists;
* :mod:`.broadcast` — :func:`broadcast` / :func:`broadcast_iter`, :class:`BroadcastReport`;
* :mod:`.install` — push and verify the agent zipapp.

Importing this package loads only the inventory layer; import :mod:`.ssh`,
:mod:`.broadcast` or :mod:`.install` for the asyncssh parts.
"""

from __future__ import annotations

from ccm_tui.fleet.inventory import FleetHost, Inventory, load_inventory, sync_to_hub

__all__ = ["FleetHost", "Inventory", "load_inventory", "sync_to_hub"]
