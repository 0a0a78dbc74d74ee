"""The stand-in commands of a simulated host (see :mod:`ccm_tui.fleet.simulator`).

Small Python programs (standard library only) written into each host's ``bin/``:
``systemctl`` and ``journalctl`` keep unit state and journals in the host's
``units/`` folder, ``apt``/``apt-get`` its pending updates in ``updates``.
"""

from __future__ import annotations

SYSTEMCTL = r'''
"""Stand-in systemctl: unit state in ../units/<unit>.json next to this script."""
import json, os, sys, time
UNITS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "units")
MB = 1024 * 1024
def unit(name):
    return name if "." in name else name + ".service"
def path(name):
    return os.path.join(UNITS, unit(name) + ".json")
def load(name):
    try:
        with open(path(name)) as fh:
            return json.load(fh)
    except OSError:
        return None
def save(name, state):
    tmp = path(name) + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(state, fh)
    os.replace(tmp, path(name))
    declare_memory()
def declare_memory():
    """As SimHost.declare: the OS plus the running units, into the quota file."""
    quota = os.path.join(os.path.dirname(UNITS), "root", ".ccm-host.json")
    try:
        with open(quota) as fh:
            doc = json.load(fh)
    except OSError:
        return
    mem = doc.get("memory")
    if not mem:
        return
    used = mem.get("os_bytes", 0)
    for f in os.listdir(UNITS):
        if f.endswith(".json"):
            s = load(f[:-5])
            if s and s.get("active"):
                used += s.get("mem_mb", 0) * MB
    mem["used_bytes"] = min(used, mem["total_bytes"])
    with open(quota + ".tmp", "w") as fh:
        json.dump(doc, fh)
    os.replace(quota + ".tmp", quota)
def journal(name, line):
    with open(os.path.join(UNITS, unit(name)[:-len(".service")] + ".log"), "a") as fh:
        fh.write(time.strftime("%Y-%m-%dT%H:%M:%S") + " " + line + "\n")
args = [a for a in sys.argv[1:] if not a.startswith("--")]
if "--failed" in sys.argv:
    for f in sorted(os.listdir(UNITS)):
        if f.endswith(".json"):
            s = load(f[:-5])
            if s and not s.get("active"):
                print("\u25cf %s loaded failed failed %s" % (f[:-5], s.get("description", "")))
    sys.exit(0)
if len(args) < 2:
    sys.exit(1)
verb, name = args[0], args[1]
state = load(name)
if state is None:
    if verb == "show":
        print("ActiveState=inactive\nSubState=dead\nLoadState=not-found\nMainPID=0\nNRestarts=0")
        sys.exit(0)
    print("Unit %s could not be found." % name, file=sys.stderr)
    sys.exit(4 if verb in ("status", "is-active") else 5)
active = bool(state.get("active"))
if verb == "show":
    print("ActiveState=" + ("active" if active else "failed"))
    print("SubState=" + ("running" if active else "failed"))
    print("LoadState=loaded")
    print("MainPID=%d" % (state.get("pid", 4242) if active else 0))
    print("NRestarts=%d" % state.get("restarts", 0))
elif verb in ("is-active", "status"):
    print("active" if active else "failed")
    sys.exit(0 if active else 3)
elif verb in ("restart", "start"):
    state.update(active=True, mem_mb=state.get("base_mem_mb", 120), pid=state.get("pid", 4242) + 1)
    save(name, state)
    journal(name, "systemd[1]: Started %s (restarted)." % name)
elif verb == "stop":
    state["active"] = False
    save(name, state)
else:
    sys.exit(1)
'''

JOURNALCTL = r'''
"""Stand-in journalctl: ``journalctl -u UNIT -n N`` prints ../units/<unit>.log."""
import os, sys
UNITS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "units")
argv, unit, lines = sys.argv[1:], "", 10
for i, a in enumerate(argv):
    if a == "-u" and i + 1 < len(argv):
        unit = argv[i + 1]
    if a == "-n" and i + 1 < len(argv) and argv[i + 1].isdigit():
        lines = int(argv[i + 1])
base = unit[:-len(".service")] if unit.endswith(".service") else unit
try:
    with open(os.path.join(UNITS, base + ".log")) as fh:
        print("".join(fh.readlines()[-lines:]), end="")
except OSError:
    print("-- No entries --")
'''

APT = r'''
"""Stand-in apt/apt-get: ``list --upgradable`` and ``install --only-upgrade PKG`` / ``upgrade``."""
import os, sys
UPDATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "updates")
try:
    with open(UPDATES) as fh:
        pending = [l for l in fh.read().splitlines() if l.strip()]
except OSError:
    pending = []
args = sys.argv[1:]
if args[:1] == ["list"]:
    print("Listing... Done")
    for line in pending:
        print(line)
elif args[:1] in (["install"], ["upgrade"], ["full-upgrade"]):
    wanted = [a for a in args[1:] if not a.startswith("-")]
    done = [l for l in pending if not wanted or l.split("/")[0] in wanted]
    with open(UPDATES, "w") as fh:
        fh.write("".join(l + "\n" for l in pending if l not in done))
    for line in done:
        print("Setting up %s ..." % line.split("/")[0])
    print("%d upgraded, 0 newly installed, 0 to remove." % len(done))
else:
    sys.exit(1)
'''


__all__ = ["APT", "JOURNALCTL", "SYSTEMCTL"]
