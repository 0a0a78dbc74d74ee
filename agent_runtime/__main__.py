"""``python3 -m agent_runtime``: the agent's command line (see :mod:`agent_runtime.cli`)."""

import sys

from agent_runtime.cli import main

if __name__ == "__main__":
    sys.exit(main())
