"""Fan-out: `uptime` on 100 and 200 loopback SSH hosts — ccm run vs Ansible vs parallel-ssh.

All tools run against the same hosts (asyncssh servers on 127.0.0.1, served by
separate processes, one port each, real key exchange and public-key login) and
read the same Ansible INI inventory written here:

* **ccm cold** — ``ccm run uptime --hosts all --json`` as a fresh process (imports,
  inventory, connecting, the hub record: everything a user waits for), with its
  defaults: the hosts spread over one process per CPU (``--procs``); for information,
  a run per turn with ``--procs 1`` shows what one process does;
* **ccm warm** — the same broadcast through one long-lived :class:`SSHPool` whose
  connections are already open (what the daemon and the TUI use); the pool runs
  repeated broadcasts in one warm shell per host (see ``ccm_tui/fleet/warm_shell.py``);
  two untimed broadcasts (connections, then shells) come before the timed ones;
* **ansible** — ``ansible all -m raw -a uptime -f FORKS`` (installs ansible-core into
  the venv when missing), host keys checked against the same known_hosts;
* **parallel-ssh** — ``ParallelSSHClient.run_command('uptime')`` in a fresh process
  (installs parallel-ssh when missing). It does not check host keys, and its libssh2
  has no post-quantum key exchange: it negotiates curve25519-sha256, where CCM (like
  OpenSSH 10) negotiates the hybrid mlkem768x25519-sha256, which costs both ends
  more. For information, a third cold run per turn gives CCM pssh's key exchange
  (``CCM_SSH__KEX_ALGS=curve25519-sha256``); the goals are judged on CCM's defaults.

CCM's own modules are byte-compiled first, as ``pip install`` does for an installed
CCM (and for ansible and parallel-ssh here): a checkout run with
``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile them on every cold start
(~200M instructions, ~13% of a one-host ``ccm run``), which no user pays.

Cold ``ccm run`` and parallel-ssh take turns ``--repeat`` times per size (default 9)
and their medians are compared: one run of either varies by ±15% on a shared
machine, more than the difference being measured.

Goals (issue 5): cold ≥ 4× faster than Ansible and no slower than parallel-ssh;
warm ≥ 20× faster than Ansible. Run: ``python bench/fanout.py [--sizes 100 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.ssh import (  # noqa: E402
    make_keypair,
    write_ansible_ini,
    write_known_hosts,
)

BIN = Path(sys.executable).parent
#: The key exchange parallel-ssh's libssh2 negotiates with these servers.
PSSH_KEX = "curve25519-sha256"
PSSH_SCRIPT = textwrap.dedent("""
    import sys, json
    from pssh.clients import ParallelSSHClient
    from pssh.config import HostConfig
    ports = json.loads(sys.argv[1]); key, user, forks = sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = ParallelSSHClient(["127.0.0.1"] * len(ports), user=user, pkey=key,
                               host_config=[HostConfig(port=p) for p in ports],
                               pool_size=forks, num_retries=1, timeout=30)
    out = client.run_command("uptime", stop_on_errors=False)
    client.join(out)
    ok = 0
    for h in out:
        lines = list(h.stdout or [])
        ok += h.exit_code == 0 and bool(lines)
    print(ok)
""")


def ensure(module: str, package: str) -> bool:
    """Import check in the venv; pip install ``package`` when missing."""
    probe = [sys.executable, "-c", f"import {module}"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return True
    print(f"   installing {package} into the venv …", flush=True)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"   could not install {package}: {r.stderr.strip()[-300:]}")
        return False
    return subprocess.run(probe, capture_output=True).returncode == 0


class Servers:
    """``total`` asyncssh servers in ``procs`` separate processes."""

    def __init__(self, work: Path, total: int, procs: int, authorized: Path) -> None:
        import asyncssh

        host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key_file = work / "host_key"
        host_key.write_private_key(str(self.host_key_file))
        self.host_public_line = host_key.export_public_key().decode().strip()
        self.procs: list[subprocess.Popen[bytes]] = []
        files = []
        per = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
        for i, n in enumerate(per):
            pf = work / f"ports-{i}"
            files.append(pf)
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "tests.support.ssh", "--count", str(n),
                 "--authorized-keys", str(authorized), "--host-key", str(self.host_key_file),
                 "--ports-file", str(pf)], cwd=ROOT))
        deadline = time.monotonic() + 60
        while not all(f.exists() for f in files):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self.stop()
                raise SystemExit("bench: the SSH servers did not start")
            time.sleep(0.05)
        # Interleaved, so the first N ports (a 100-host run of a 200-server fleet) are
        # spread over every server process like the whole fleet is, instead of all
        # landing on the first process and measuring that one process's handshakes.
        per_proc = [[int(x) for x in f.read_text().split()] for f in files]
        self.ports = [p for row in itertools.zip_longest(*per_proc) for p in row
                      if p is not None]

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(10)


def spread(times: list[float]) -> str:
    """``(n runs, min–max)`` for a line of the report."""
    if len(times) < 2:
        return ""
    return f"({len(times)} runs, {min(times):.2f}–{max(times):.2f})"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    return time.perf_counter() - t0, r


async def create_hub(url: str) -> None:
    """Create the hub ``ccm run`` records its broadcasts in."""
    from ccm_tui.hub import open_hub

    async with open_hub(url, create=True):
        pass


def ccm_cold(inv: Path, env: dict[str, str], hub: str, forks: int, n: int,
             *extra: str) -> float:
    secs, r = timed([str(BIN / "python"), "-m", "ccm_tui", "run", "uptime", "--hosts", "all",
                     "--inventory", str(inv), "--hub", hub, "--forks", str(forks), "--json",
                     *extra], env)
    doc = json.loads(r.stdout or "{}")
    ok = doc.get("counts", {}).get("ok")
    if ok != n:
        raise SystemExit(f"bench: ccm run reached {ok}/{n} hosts: {r.stderr[-500:]}")
    return secs


def ccm_warm(inv: Path, known_hosts: Path, forks: int, n: int, reps: int = 5) -> float:
    from ccm_tui.fleet.broadcast import broadcast
    from ccm_tui.fleet.inventory import load_inventory
    from ccm_tui.fleet.known_hosts import TrustStore
    from ccm_tui.fleet.ssh import SSHPool

    inventory = load_inventory(inv, ssh_config=None)
    hosts = list(inventory)

    async def go() -> list[float]:
        times = []
        async with SSHPool(inventory, trust=TrustStore([known_hosts])) as pool:
            first = await broadcast(pool, hosts, "uptime", forks=forks)  # opens the connections
            if first.counts()["ok"] != n:
                raise SystemExit(f"bench: warm-up reached {first.counts()['ok']}/{n} hosts")
            await broadcast(pool, hosts, "uptime", forks=forks)  # starts the warm shells
            for _ in range(reps):
                t0 = time.perf_counter()
                rep = await broadcast(pool, hosts, "uptime", forks=forks)
                times.append(time.perf_counter() - t0)
                assert rep.counts()["ok"] == n
        return times

    return statistics.median(asyncio.run(go()))


def ansible(inv: Path, env: dict[str, str], forks: int, n: int) -> float | None:
    exe = BIN / "ansible" if (BIN / "ansible").exists() else shutil.which("ansible")
    if exe is None:
        if not ensure("ansible", "ansible-core"):
            return None
        exe = BIN / "ansible"
    secs, r = timed([str(exe), "all", "-i", str(inv), "-m", "raw", "-a", "uptime",
                     "-f", str(forks), "-o"], env)
    ok = sum(1 for line in r.stdout.splitlines() if "| CHANGED |" in line and "rc=0" in line)
    if ok != n:
        raise SystemExit(f"bench: ansible reached {ok}/{n} hosts: {(r.stdout + r.stderr)[-800:]}")
    return secs


def pssh(ports: list[int], key: Path, env: dict[str, str], forks: int, n: int) -> float | None:
    if not ensure("pssh", "parallel-ssh"):
        return None
    secs, r = timed([sys.executable, "-c", PSSH_SCRIPT, json.dumps(ports), str(key),
                     os.environ.get("USER", "root"), str(forks)], env)
    if r.returncode != 0 or r.stdout.strip() != str(n):
        raise SystemExit(f"bench: parallel-ssh reached {r.stdout.strip()}/{n}: {r.stderr[-800:]}")
    return secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200])
    ap.add_argument("--forks", type=int, default=50, help="parallelism of every tool")
    ap.add_argument("--server-procs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=9,
                    help="cold ccm run and parallel-ssh runs per size (medians compared)")
    args = ap.parse_args()
    for package in ("ccm_tui", "agent_runtime"):
        compileall.compile_dir(ROOT / package, quiet=1)
    print(f"fanout: uptime on {' and '.join(map(str, args.sizes))} loopback SSH hosts, "
          f"forks {args.forks}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="ccm-fanout-") as tmp:
        work = Path(tmp)
        key = make_keypair(work / "home" / ".ssh" / "id_ed25519")
        authorized = work / "authorized_keys"
        authorized.write_text(key.public_line + "\n")
        servers = Servers(work, max(args.sizes), args.server_procs, authorized)
        try:
            home = work / "home"
            kh = write_known_hosts(home / ".ssh" / "known_hosts",
                                   [(p, servers.host_public_line) for p in servers.ports])
            env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                   "XDG_DATA_HOME": str(home / ".local/share"), "PYTHONPATH": str(ROOT),
                   "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_LOCAL_TEMP": str(work / "at"),
                   "ANSIBLE_HOME": str(work / "ansible"), "ANSIBLE_NOCOLOR": "1",
                   "ANSIBLE_SSH_ARGS": "-F /dev/null -o ControlMaster=no",
                   "ANSIBLE_PYTHON_INTERPRETER": "auto_silent"}
            env.pop("SSH_AUTH_SOCK", None)
            rows = []
            for n in args.sizes:
                ports = servers.ports[:n]
                inv = write_ansible_ini(work / f"hosts-{n}.ini",
                                        [(f"h{i:03d}", p) for i, p in enumerate(ports)],
                                        identity=key.private, known_hosts=kh)
                hub = f"sqlite:///{work / f'hub-{n}.db'}"
                asyncio.run(create_hub(hub))  # as `ccm init` would have; `ccm run` only records
                print(f"-- {n} hosts", flush=True)
                # cold and parallel-ssh take turns, so a noisy neighbour slows both alike;
                # each is the median of its runs
                colds: list[float] = []
                same_kex: list[float] = []
                one_proc: list[float] = []
                classic = {**env, "CCM_SSH__KEX_ALGS": PSSH_KEX}
                pts: list[float] = []
                for _ in range(args.repeat):
                    colds.append(ccm_cold(inv, env, hub, args.forks, n))
                    same_kex.append(ccm_cold(inv, classic, hub, args.forks, n))
                    one_proc.append(ccm_cold(inv, env, hub, args.forks, n, "--procs", "1"))
                    p = pssh(ports, key.private, env, args.forks, n)
                    if p is not None:
                        pts.append(p)
                cold = statistics.median(colds)
                print(f"   ccm run (cold)      {cold:7.2f} s  {spread(colds)}", flush=True)
                cold_kex = statistics.median(same_kex)
                print(f"   … with pssh's kex   {cold_kex:7.2f} s  {spread(same_kex)}"
                      f"  ({PSSH_KEX}, for information)", flush=True)
                print(f"   … in one process    {statistics.median(one_proc):7.2f} s  "
                      f"{spread(one_proc)}  (--procs 1, for information)", flush=True)
                warm = ccm_warm(inv, kh, args.forks, n)
                print(f"   ccm run (warm pool) {warm:7.2f} s", flush=True)
                pt = statistics.median(pts) if pts else None
                print(f"   parallel-ssh        {pt:7.2f} s  {spread(pts)}" if pt
                      else "   parallel-ssh  n/a", flush=True)
                at = ansible(inv, env, args.forks, n)
                print(f"   ansible -m raw      {at:7.2f} s" if at else "   ansible       n/a",
                      flush=True)
                rows.append((n, cold, warm, pt, at, cold_kex))
        finally:
            servers.stop()
    print("\nhosts   ccm cold   ccm warm   parallel-ssh   ansible   ansible/cold  "
          "ansible/warm  pssh/cold  (same kex)")
    verdict = True
    for n, cold, warm, pt, at, cold_kex in rows:
        r_ac = at / cold if at else None
        r_aw = at / warm if at else None
        r_pc = pt / cold if pt else None
        r_pk = pt / cold_kex if pt else None

        def f(x: float | None, unit: str = "") -> str:
            return "n/a" if x is None else f"{x:.2f}{unit}"

        print(f"{n:5d} {cold:9.2f}s {warm:9.3f}s {f(pt, 's'):>13} {f(at, 's'):>9} "
              f"{f(r_ac, '×'):>13} {f(r_aw, '×'):>13} {f(r_pc, '×'):>10} {f(r_pk, '×'):>11}")
        verdict &= (r_ac or 0) >= 4 and (r_aw or 0) >= 20 and (r_pc or 0) >= 1
    print("goals: cold ≥ 4× faster than ansible, ≥ parallel-ssh; warm ≥ 20× faster than "
          f"ansible — {'met' if verdict else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
