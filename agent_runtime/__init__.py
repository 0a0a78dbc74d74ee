"""The CCM agent: the remediation loop that runs on each server.

Standard library only (Python >= 3.9), shipped to hosts as one zipapp.
"""

__version__ = "0.1.0"
