"""Part of the control centre (see :mod:`ccm_tui.app`)."""
