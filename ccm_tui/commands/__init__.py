"""The ``ccm`` subcommands, one module per command or group (mounted by :mod:`ccm_tui.cli`).

Modules import only typer, rich and the core at import time; hub adapters, the fleet
and the TUI are imported inside the command that needs them.
"""
