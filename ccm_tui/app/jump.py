"""``t``: jump into an agent's tmux session on its host.

Inside tmux, a new tmux window runs ``ssh … tmux attach -t ccm-<task>`` (through
libtmux, on the tmux server the app runs in). Outside tmux the app suspends, runs ssh
in the terminal, and comes back when the operator detaches. On the host the session is
looked for on the user's default tmux server, then on its private ones (``ccm daemon
--tmux-socket``); when ssh fails, its message stays on screen until enter.

ssh must reach the host the way the daemon does, with the same trust: through the
inventory's jump hosts (each hop with its own address, port, user and keys), with the
host's identity files, checking host keys against exactly the known_hosts files CCM
checks and refusing an unknown key (``StrictHostKeyChecking yes``). Command-line
``-o`` options do not reach the ssh that ``ProxyJump`` starts for a hop, but ``-F``
does, so :func:`attach_argv` writes a small ssh config (one ``Host`` block per hop and
one for the host) and points ssh at it; the operator's own ``~/.ssh/config`` is
included after it for everything CCM does not pin (keepalives, agent, ...).

Values from the inventory or the hub go into that file quoted and checked, never onto
the ssh command line: a host called ``-oProxyCommand=…`` is refused, not obeyed.
"""

from __future__ import annotations

import contextlib
import getpass
import math
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccm_tui.core.errors import CCMError
from ccm_tui.core.model import Host
from ccm_tui.daemon.remote import _TASK_ID, session_name
from ccm_tui.fleet.inventory import FleetHost

if TYPE_CHECKING:
    from ccm_tui.app.fleet_access import FleetAccess

#: A host name or address ssh can be given: DNS names, IPv4, IPv6 (a ``%zone`` too).
_ADDRESS = re.compile(r"[A-Za-z0-9_.:%]([A-Za-z0-9_.:%-]*)")
#: A login name: POSIX portable names, plus ``@`` and ``$`` (directory and machine accounts).
_USER = re.compile(r"[A-Za-z0-9_.]([A-Za-z0-9_.@$-]*)")
#: A host name that can stand as itself in the ssh config (so the operator's own
#: ``Host web-*`` blocks still apply to what CCM leaves unpinned).
_ALIAS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
#: An OpenSSH algorithm list (``+a,b``, ``-a*``, ``^a``), as inventories give them.
_ALGORITHMS = re.compile(r"[+^-]?[A-Za-z0-9@.*?_-]+(,[A-Za-z0-9@.*?_-]+)*")
#: A path ssh passes through a shell unquoted (``-F PATH`` of the ssh ``ProxyJump`` starts).
_SHELL_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+-]+")

#: Pinned for the host and every hop, whatever ~/.ssh/config says (first value wins):
#: no other trust than the files given, no proxy or shared connection CCM does not use.
_PINNED = (
    ("GlobalKnownHostsFile", "/dev/null"),
    ("StrictHostKeyChecking", "yes"),
    ("CheckHostIP", "no"),
    ("UpdateHostKeys", "no"),
    ("VerifyHostKeyDNS", "no"),
    ("KnownHostsCommand", "none"),
    ("CanonicalizeHostname", "no"),
    ("ControlMaster", "no"),
    ("ControlPath", "none"),
)


#: On the host: attach to the task's session on the user's default tmux server, else on
#: a private one (``ccm daemon --tmux-socket NAME`` runs the agents under ``tmux -L
#: NAME``); say so when there is none. The session arrives as ``$1``, never as code.
_ATTACH = """
s="$1"
if tmux has-session -t "=$s" 2>/dev/null; then exec tmux attach -t "=$s"; fi
for sock in "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)"/*; do
  if [ -S "$sock" ] && tmux -S "$sock" has-session -t "=$s" 2>/dev/null; then
    exec tmux -S "$sock" attach -t "=$s"
  fi
done
echo "ccm: no tmux session $s for $(id -un) on $(hostname): the agent does not run there now (it finished and its session was closed, or it never started)" >&2
exit 1
"""

#: Around ssh, where the operator runs it: when it fails (a refused host key, no
#: session), keep its words on screen until enter, instead of a window that vanishes.
_HOLD = """
name="$1"; shift
"$@"
status=$?
if [ "$status" -ne 0 ]; then
  if [ -n "$TMUX_PANE" ]; then  # so that t again opens a fresh window, not this one
    w=$(tmux display-message -p -t "$TMUX_PANE" "#W" 2>/dev/null) &&
      tmux rename-window -t "$TMUX_PANE" "$w (failed)" 2>/dev/null
  fi
  echo
  if [ "$status" -eq 255 ]; then  # ssh's own failure: it did not get in
    echo "ccm: ssh could not get into $name (or a jump host on the way). If it timed out or the connection was refused, check that the host is up and that sshd listens at the address and port 'ccm fleet list' shows for it."
    echo "ccm: if ssh refused a host key above, check its fingerprint, then trust it with: ccm fleet trust $name (or the jump host it names)"
  fi
  echo "ccm: ssh exited with status $status (see above). Press enter to close."
  read -r _
fi
exit "$status"
"""


class AttachError(CCMError):
    """The ``t`` key cannot build an ssh command for this host."""


def attach_command(fleet: FleetAccess | None, host: Host, task_id: str, *,
                   config_dir: Path | None = None) -> list[str]:
    """The ssh command for ``t`` on ``host``: reached as the inventory of ``fleet`` says
    (when the app has one, it exists and it names the host; else as the hub says),
    checked against ``fleet``'s known_hosts files (default: the daemon's defaults).
    Raises :class:`CCMError` when the inventory cannot be read or a value cannot be
    given to ssh safely."""
    from ccm_tui.fleet.known_hosts import TrustStore

    known_hosts = fleet.known_hosts if fleet is not None else None
    options = fleet.ssh if fleet is not None else None
    trust = TrustStore(list(known_hosts) if known_hosts is not None else None,
                       write_to=fleet.trust_write_to if fleet is not None else None)
    hops: Mapping[str, FleetHost] = {}
    target = FleetHost(name=host.name, address=host.address, port=host.port, user=host.user)
    # No inventory here (the daemon runs elsewhere, on a shared hub): the hub's address,
    # port and user are all there is. One that exists but cannot be read is said.
    if fleet is not None and fleet.inventory.expanduser().exists():
        inventory = fleet.load()
        hops = {**inventory.hops, **inventory.hosts}
        target = inventory.hosts.get(host.name, target)
    return attach_argv(target, task_id, hops=hops, known_hosts=trust.files,
                       config_dir=config_dir,
                       connect_timeout=options.connect_timeout if options else None)


def attach_argv(host: Host | FleetHost, task_id: str, *,
                hops: Mapping[str, FleetHost] | None = None,
                known_hosts: Sequence[Path] | None = None,
                config_dir: Path | None = None,
                connect_timeout: float | None = None) -> list[str]:
    """The ssh command that attaches to a task's agent session on ``host``.

    ``hops`` are the hosts a jump chain may name (the inventory's hosts and its ssh
    config hops); ``known_hosts`` the files whose keys are trusted (default: what the
    daemon checks). The ssh config it needs is written to ``config_dir`` (default: a
    private folder under ``$XDG_RUNTIME_DIR`` or ``~/.cache/ccm``). ``connect_timeout``
    is how long ssh may take to connect to each host and hop and exchange its greeting
    (default: the daemon's default, ``ssh.connect_timeout`` in the settings), so an
    unreachable host fails in that time rather than in the system's TCP timeout, or
    never for a host that accepts the connection and says nothing.
    """
    from ccm_tui.fleet.jump import route
    from ccm_tui.fleet.known_hosts import TrustStore
    from ccm_tui.fleet.ssh_types import PoolOptions

    if not _TASK_ID.fullmatch(task_id):  # the daemon starts no agent for such an id
        raise AttachError(f"task id {task_id[:80]!r} names no tmux session on a host",
                          hint="task ids come from the hub (t-<hex>); check what wrote it")
    h = host if isinstance(host, FleetHost) else FleetHost(
        name=host.name, address=host.address, port=host.port, user=host.user)
    files = tuple(known_hosts) if known_hosts is not None else TrustStore().files
    # ssh takes whole seconds; a fraction is rounded up, never down to "no timeout"
    seconds = max(1, math.ceil(connect_timeout if connect_timeout is not None
                               else PoolOptions().connect_timeout))
    try:
        path = route(h, hops or {})
    except CCMError as exc:
        raise AttachError(str(exc), hint=exc.hint) from None
    names = _aliases([*path, h])
    blocks = []
    for i, step in enumerate([*path, h]):
        via = names[i - 1] if i else None
        blocks.append(_host_block(names[i], step, via, files, seconds))
    text = _header(h) + "\n".join(blocks) + _INCLUDES
    config = _write_config([config_dir] if config_dir else _config_dirs(), task_id, text)
    remote = shlex.join(["sh", "-c", _ATTACH, "ccm-attach", session_name(task_id)])
    return ["ssh", "-F", str(config), "-t", "--", names[-1], remote]


def held(argv: list[str]) -> list[str]:
    """``argv`` run so that a failure stays on screen until the operator presses enter
    (with CCM's remedy for a refused host key, for the host :func:`attach_argv` names)."""
    name = argv[argv.index("--") + 1] if "--" in argv[:-1] else "HOST"
    return ["sh", "-c", _HOLD, "ccm-attach", "HOST" if name.startswith("ccm-hop-") else name,
            *argv]


def _aliases(steps: Sequence[FleetHost]) -> list[str]:
    """A ``Host`` name for each step: its own name when safe and unique, else ``ccm-hop-N``."""
    out: list[str] = []
    for i, step in enumerate(steps):
        name = step.name
        ok = _ALIAS.fullmatch(name) and name not in out and not name.startswith("ccm-hop-")
        out.append(name if ok else f"ccm-hop-{i}")
    return out


def _host_block(alias: str, h: FleetHost, via: str | None, known_hosts: Sequence[Path],
                connect_timeout: int) -> str:
    address = _checked_address(h)
    user = h.user or getpass.getuser()  # what the daemon logs in as (asyncssh's default)
    if not _USER.fullmatch(user):
        raise AttachError(f"{h.name}: user {user!r} is not a login name ssh can be given",
                          hint="fix the host's user in the inventory (letters, digits, . _ - @)")
    if not 0 < h.port < 65536:
        raise AttachError(f"{h.name}: port {h.port} is not a number from 1 to 65535",
                          hint="fix the host's port in the inventory")
    lines = [f"Host {alias}",
             f"  HostName {_quoted(address.replace('%', '%%'), h.name)}",
             f"  Port {h.port}",
             f"  User {user}",
             f"  ConnectTimeout {connect_timeout}",
             "  UserKnownHostsFile " + (" ".join(_path(Path(p), h.name) for p in known_hosts)
                                        or "/dev/null")]  # no file: no key is trusted
    if h.port == 22:  # the name ssh looks up anyway, pinned against a HostKeyAlias in
        # ~/.ssh/config; on another port an alias [addr]:port would also be the name a
        # host certificate must hold, refusing the @cert-authority keys CCM accepts
        lines.append(f"  HostKeyAlias {_quoted(address, h.name)}")
    lines += [f"  IdentityFile {_path(Path(f), h.name)}" for f in h.identity_files]
    lines.append(f"  ProxyJump {via}" if via else "  ProxyCommand none")
    # the host's own lists, as the pool offers them to it (an old server's +dh-group1)
    for key, value in (("KexAlgorithms", h.kex_algs), ("Ciphers", h.ciphers)):
        if value and _ALGORITHMS.fullmatch(value):
            lines.append(f"  {key} {value}")
    lines += [f"  {k} {v}" for k, v in _PINNED]
    return "\n".join(lines) + "\n"


def _checked_address(h: FleetHost) -> str:
    address = h.target
    if address.startswith("[") and address.endswith("]"):  # [IPv6] from a hub row
        address = address[1:-1]
    if not _ADDRESS.fullmatch(address):
        raise AttachError(f"{h.name}: {address!r} is not a host name or address ssh can be "
                          "given", hint="fix the host's address in the inventory (a DNS name, "
                          "IPv4 or IPv6 address; it must not start with '-')")
    return address


def _quoted(value: str, host: str) -> str:
    if any(c in value for c in "\"'\\") or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise AttachError(f"{host}: {value!r} cannot be written to an ssh config safely",
                          hint="remove quotes, backslashes and control characters from it")
    return f'"{value}"'


def _path(path: Path, host: str) -> str:
    # absolute as here (where the daemon would read it too): a tmux window starts elsewhere
    text = str(path.expanduser().absolute())
    if "${" in text:  # ssh would read it as an environment variable
        raise AttachError(f"{host}: the path {text!r} contains '${{', which ssh expands",
                          hint="rename the file or its folder")
    return _quoted(text.replace("%", "%%"), host)


def _header(h: FleetHost) -> str:
    return (f"# Written by ccm tui (t) to reach {h.name!r} as the CCM daemon does; "
            "rewritten on every t.\n")


#: After CCM's blocks (first value wins): the operator's usual ssh settings for the rest.
_INCLUDES = "\nMatch all\nInclude ~/.ssh/config\nInclude /etc/ssh/ssh_config\n"


def _config_dirs() -> list[Path]:
    """Where t's ssh configs may go, best first: ``$XDG_RUNTIME_DIR/ccm/attach`` (private,
    cleared at logout), then ``~/.cache/ccm/attach`` (``$XDG_CACHE_HOME`` respected)."""
    bases = (os.environ.get("XDG_RUNTIME_DIR"),
             os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"))
    return [Path(b) / "ccm" / "attach" for b in bases if b and os.path.isabs(b)]


def _write_config(folders: Sequence[Path], task_id: str, text: str) -> Path:
    """Write ``text`` as ``<folder>/<task>.ssh_config`` (private, atomically) in the first
    of ``folders`` that takes it, else in a new private folder under the temp folder."""
    failed = []
    for folder in [*folders, None]:
        try:
            if folder is None:  # last resort: one of our own
                folder = Path(tempfile.mkdtemp(prefix="ccm-attach-"))
            if not _SHELL_SAFE_PATH.fullmatch(str(folder)):
                failed.append(f"{folder}: ssh would pass the path to a shell unquoted")
                continue
            return _write_in(folder, task_id, text)
        except OSError as exc:
            failed.append(f"{folder or 'a temporary folder'}: {exc.strerror or exc}")
    raise AttachError("cannot write the ssh config for t: " + "; ".join(failed),
                      hint="make one of these folders writable (or set XDG_RUNTIME_DIR "
                      "to one that is)")


def _write_in(folder: Path, task_id: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ssh_config.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    final = folder / f"{task_id}.ssh_config"  # a checked task id: no '/' or '..'
    os.replace(tmp, final)
    _prune(folder)
    return final


#: How long a task's ssh config is kept after its last ``t`` (ssh reads it only while
#: it connects); older ones are removed, so a long-lived cache folder does not fill up.
CONFIG_KEEP_SECONDS = 86400.0


def _prune(folder: Path) -> None:
    cutoff = time.time() - CONFIG_KEEP_SECONDS
    for old in [*folder.glob("*.ssh_config"), *folder.glob(".ssh_config.*")]:
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()


def inside_tmux() -> bool:
    """Whether the app runs inside a tmux client."""
    return bool(os.environ.get("TMUX"))


def open_window(argv: list[str], name: str) -> str:
    """Open a tmux window named ``name`` running ``argv`` next to the app (held open
    when it fails, see :func:`held`); its id. A window of that name still attached
    is shown instead of a second one."""
    # libtmux reads sys.stdout.encoding (at import), which Textual's print capture lacks.
    with contextlib.redirect_stdout(sys.__stdout__):
        import libtmux

        return _open_window(libtmux, argv, name)


def _open_window(libtmux: Any, argv: list[str], name: str) -> str:
    socket_path = os.environ["TMUX"].split(",", 1)[0]
    server = libtmux.Server(socket_path=socket_path)
    pane = os.environ.get("TMUX_PANE", "")
    args = ["display-message", "-p"] + (["-t", pane] if pane else []) + ["#{session_id}"]
    session_id = server.cmd(*args).stdout[0]
    session = server.sessions.get(session_id=session_id)
    assert session is not None
    for window in list(session.windows):
        if window.window_name != name:
            continue
        pane = window.active_pane
        if pane is not None and pane.pane_dead != "1":  # still attached (a held one is
            window.select()                            # renamed): go there
            return str(window.window_id)
        window.kill()  # ended, kept by remain-on-exit: try afresh
    window = session.new_window(window_name=name, window_shell=shlex.join(held(argv)),
                                attach=True)
    return str(window.window_id)
