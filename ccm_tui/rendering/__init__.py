"""Rich renderings of domain objects, shared by the command line and the control centre.

Pure functions from :mod:`ccm_tui.core` objects to :mod:`rich` text: no textual, no I/O,
so ``ccm tasks show`` and the TUI's transcript pane say the same thing the same way.
"""
