"""CCM: a terminal control centre for fleet monitoring and auto-remediation.

The packages, from the bottom up (imports only go down this list):

- :mod:`agent_runtime` — what runs on each server (stdlib only).
- :mod:`ccm_tui.core` — domain types and rules, no I/O.
- :mod:`ccm_tui.hub` — the store (SQLite, PostgreSQL) behind one ``Hub`` protocol.
- :mod:`ccm_tui.cli` — the ``ccm`` command.
"""

from __future__ import annotations

__version__ = "0.1.0"
