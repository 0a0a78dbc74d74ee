"""The daemon: takes tasks from the hub and runs them as agent sessions on their hosts.

- :mod:`.remote` — what the daemon does on a host: the agent's files, its tmux
  session ``ccm-<task>``, following its journal, writing control messages.
- :mod:`.spec` — the task spec an agent receives (alert, runbooks, policy, priors).
- :mod:`.rails` — safety rails: pause, the fleet-wide cap on automatic fixes,
  circuit breakers, runbook promotion and demotion.
- :mod:`.session` — one task, start (or re-attach) to finish.
- :mod:`.dispatcher` — claims tasks with leases and runs sessions.
"""
