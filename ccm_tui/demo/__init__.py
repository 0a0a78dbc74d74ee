"""``ccm demo``: the whole pipeline on one machine (simulated fleet, injected faults).

:mod:`.runner` assembles it, :mod:`.faults` injects the incidents, :mod:`.outcome`
judges what became of them; ``runbooks/`` holds the demo's own runbook.
"""
