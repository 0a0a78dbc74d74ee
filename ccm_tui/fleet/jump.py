"""Jump hosts: OpenSSH ``ProxyJump`` values, and the hops the pool goes through.

A host's ``jump`` is a chain of hops, as in OpenSSH's ``ProxyJump a,b`` (or ``ssh -J
a,b``): connect to ``a``, from there to ``b``, from there to the host. Each hop is an
inventory host's name or a ``[user@]host[:port]`` spec, also written
``ssh://user@host:port`` or, for IPv6, ``[2001:db8::1]:port``. ``none`` means no jump.

As in ``ssh``, the first hop is reached the way it would be on its own (an inventory
host with its own ``jump`` goes through that first); each later hop is reached through
the hops before it, whatever its own settings say.
"""

from __future__ import annotations

import copy
import ipaddress
import shlex
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from ccm_tui.core.errors import CCMError, HostKeyError, InventoryError, LoginRefused, SSHError
from ccm_tui.fleet.inventory import FleetHost

#: What ``ProxyJump none`` is kept as until an inventory is read whole (so that
#: ``~/.ssh/config`` does not fill in a jump the inventory turned off).
NO_JUMP = "none"

T = TypeVar("T")

_SPEC_HINT = "write it as NAME, [user@]host[:port], ssh://user@host:port or [IPv6]:port"


def parse_jump_spec(spec: str) -> FleetHost:
    """A :class:`FleetHost` for one hop: ``[ssh://][user@]host[:port]`` or
    ``[user@][IPv6]:port``; :class:`SSHError` when it is not one."""
    text = _bare(spec)
    user, _, rest = text.rpartition("@")
    host, port_text = rest, ""
    if rest.startswith("["):
        host, closed, tail = rest[1:].partition("]")
        if not closed or (tail and not tail.startswith(":")):
            raise SSHError(f"{spec!r}: expected [IPv6] or [IPv6]:PORT", hint=_SPEC_HINT)
        port_text = tail[1:]
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    elif ":" in rest and not _is_ipv6(rest):  # more colons: only a bare IPv6 address
        raise SSHError(f"{spec!r}: more than one ':' and not an IPv6 address",
                       hint=_SPEC_HINT)
    if not host or any(c in host for c in " /,@[]") or (user and "/" in user):
        raise SSHError(f"{spec!r}: no host name in it", hint=_SPEC_HINT)
    port = 22
    if port_text or rest.endswith(":"):
        port = int(port_text) if port_text.isdigit() else 0
        if not 0 < port < 65536:
            raise SSHError(f"{spec!r}: port {port_text!r} is not a number from 1 to 65535",
                           hint=_SPEC_HINT)
    return FleetHost(name=text, address=host, port=port, user=user)


def jump_chain(value: str, where: str) -> str | None:
    """An OpenSSH ``ProxyJump`` value (``a, ssh://ops@b:2222/``) as CCM keeps it
    (``a,ops@b:2222``); ``none`` stays ``none``; ``None`` when empty.

    Raises :class:`InventoryError` starting with ``where`` for a hop that is not one.
    """
    text = value.strip()
    if not text:
        return None
    if text.lower() == NO_JUMP:
        return NO_JUMP
    hops = [_bare(h) for h in text.split(",")]
    for hop in hops:
        if not hop:
            raise InventoryError(f"{where}: an empty jump host in {value!r} (hops are joined "
                                 "with one comma: a,b)")
        try:
            parse_jump_spec(hop)
        except SSHError as exc:
            raise InventoryError(f"{where}: jump host {exc} ({_SPEC_HINT})") from None
    return ",".join(hops)


#: ssh options that take a value (``ssh -l USER``), per OpenSSH's ``ssh(1)``.
_SSH_VALUE_OPTIONS = frozenset("BbcDEeFIiJLlmOoPpQRSWw")


def proxy_command_jump(command: str) -> str | None:
    """The jump hosts of a ``ProxyCommand`` that is ``ssh`` through another host (``ssh
    -W %h:%p [-l USER] [-p PORT] [-J HOPS] HOST``, or ``ssh HOST nc %h %p``), as a
    ``ProxyJump`` value; ``None`` for any other command (CCM runs no proxy command)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if words[:1] == ["exec"]:
        words = words[1:]
    if not words or words[0].rsplit("/", 1)[-1] != "ssh":
        return None
    opts: dict[str, str] = {}
    i, host, after = 1, "", []
    while i < len(words):
        w = words[i]
        if w.startswith("-") and len(w) > 1 and not host:
            for k, letter in enumerate(w[1:], 2):
                if letter in _SSH_VALUE_OPTIONS:
                    value = w[k:] or (words[i + 1] if i + 1 < len(words) else "")
                    i += 0 if w[k:] else 1
                    if letter == "o" and "=" in value:
                        key, _, v = value.partition("=")
                        opts[key.strip().lower()] = v.strip()
                    else:
                        opts[letter] = value
                    break
        elif not host:
            host = w
        else:
            after.append(w)
        i += 1
    forwards = opts.get("W") in ("%h:%p", "[%h]:%p") or (after[:1] in (["nc"], ["netcat"])
                                            and after[-2:] == ["%h", "%p"])
    if not host or not forwards:
        return None
    user, port = opts.get("l") or opts.get("user", ""), opts.get("p") or opts.get("port", "")
    spec = (f"{user}@" if user and "@" not in host else "") + (
        f"[{host}]" if port and _is_ipv6(host) else host) + (f":{port}" if port else "")
    jumps = opts.get("J") or opts.get("proxyjump", "")
    return f"{jumps},{spec}" if jumps and jumps.lower() != NO_JUMP else spec


def hops_of(jump: str | None) -> list[str]:
    """The hops of a host's ``jump``, first to last (none for ``None`` and ``none``)."""
    if not jump or jump.strip().lower() == NO_JUMP:
        return []
    return [h for h in (_bare(x) for x in jump.split(",")) if h]


def last_hop(jump: str | None, inventory: Mapping[str, FleetHost]) -> FleetHost | None:
    """The hop a connection with this ``jump`` goes through last, with the hops before
    it as its own ``jump`` (``None`` when there is no jump)."""
    hops = hops_of(jump)
    if not hops:
        return None
    *before, last = hops
    hop = inventory.get(last) or parse_jump_spec(last)
    return replace(hop, jump=",".join(before)) if before else hop


def route(h: FleetHost, inventory: Mapping[str, FleetHost]) -> list[FleetHost]:
    """Every hop on the way to ``h``, in the order they are connected.

    Raises :class:`SSHError` when the hops lead back to a host already on the way.
    """
    path: list[FleetHost] = []
    seen = {(h.name, h.jump or "")}
    hop = last_hop(h.jump, inventory)
    while hop is not None:
        if (hop.name, hop.jump or "") in seen:
            names = " → ".join([h.name, *(x.name for x in path), hop.name])
            raise SSHError(f"{h.name}: its jump hosts form a loop ({names})",
                           hint="give one of them no jump (jump: none / ProxyJump none)")
        seen.add((hop.name, hop.jump or ""))
        path.append(hop)
        hop = last_hop(hop.jump, inventory)
    return path[::-1]


def check_jumps(hosts: list[FleetHost], path: Path,
                 hops: Mapping[str, FleetHost]) -> list[FleetHost]:
    """``hosts`` of the inventory at ``path`` with ``jump: none`` made no jump (kept until
    now so that ~/.ssh/config filled in none); :class:`InventoryError` when a host's
    hops lead back to it."""
    hosts = [replace(h, jump=None) if h.jump == NO_JUMP else h for h in hosts]
    by_name = {**hops, **{h.name: h for h in hosts}}
    for h in hosts:
        if h.jump == h.name:
            raise InventoryError(f"{path}: host {h.name!r} names itself as its jump host")
        if h.jump:
            try:
                route(h, by_name)
            except SSHError as exc:
                raise InventoryError(f"{path}: {exc}") from None
    return hosts


def config_hops(hosts: Iterable[FleetHost], fill_in: Callable[[FleetHost], FleetHost],
                ) -> dict[str, FleetHost]:
    """The hops of ``hosts``' chains that are no inventory hosts, with what the ssh
    config (``fill_in``) says for them where the spec says nothing, as ``ssh`` reads a
    hop: ``jump: bastion`` with ``Host bastion / HostName 10.0.0.1 / User ops``.
    Hops the config says nothing for are left out (their spec is all there is)."""
    known = {h.name for h in hosts}
    out: dict[str, FleetHost] = {}
    pending = [spec for h in hosts for spec in hops_of(h.jump)]
    while pending:
        spec = pending.pop(0)
        if spec in known or spec in out:
            continue
        known.add(spec)
        said = parse_jump_spec(spec)
        bare = FleetHost(said.address, port=said.port, user=said.user)
        filled = fill_in(bare)
        if filled == bare:
            continue
        jump = None if filled.jump == NO_JUMP else filled.jump
        out[spec] = replace(filled, name=spec, address=filled.address or said.address,
                            jump=jump, source=filled.source or "ssh config")
        pending += hops_of(jump)
    return out


def hop_count(h: FleetHost, inventory: Mapping[str, FleetHost]) -> int:
    """How many hops lead to ``h`` (0 also when they loop): the pool closes the far
    ends of its tunnels first."""
    try:
        return len(route(h, inventory))
    except SSHError:
        return 0


def pool_key(h: FleetHost, inventory: Mapping[str, FleetHost]) -> str:
    """What the pool files ``h``'s connection under: its name, unless it is a hop
    reached otherwise than the inventory host of that name (``b`` of ``a,b``: via ``a``)."""
    own = inventory.get(h.name)
    return h.name if (own.jump if own is not None else None) == h.jump else \
        f"{h.name} via {h.jump}"


def as_reached(target: FleetHost, inventory: Mapping[str, FleetHost]) -> FleetHost:
    """``target`` with the hops the fleet reaches it through, when it has no jump of its
    own but is a later hop of some host's chain (``ccm fleet trust`` of such a hop)."""
    if hops_of(target.jump):
        return target
    own = target.name in inventory
    for h in inventory.values():
        hops = hops_of(h.jump)
        for i, spec in enumerate(hops):
            hop = inventory.get(spec) or parse_jump_spec(spec)
            if spec == target.name or (not own and _same_place(hop, target)):
                jump = ",".join(hops[:i]) if i else hop.jump
                return replace(target, jump=jump) if jump else target
    return target


async def tunnel_to(h: FleetHost, inventory: Mapping[str, FleetHost],
                    connect: Callable[[FleetHost], Awaitable[T]],
                    fleet: Container[str] = ()) -> T | None:
    """``connect`` each hop on the way to ``h`` in turn; the last one's connection
    (``None`` without hops). An error says which hop it came from; ``fleet`` names the
    hosts ``ccm fleet trust`` knows by name."""
    conn = None
    for hop in route(h, inventory):
        try:
            conn = await connect(hop)
        except (SSHError, HostKeyError) as exc:  # login refusals are SSHErrors
            raise through_jump(exc, hop, hop.name in fleet) from None
    return conn


def through_jump(exc: CCMError, hop: FleetHost, by_name: bool = True) -> CCMError:
    """``exc`` (raised for ``hop``) saying it is a jump host, once, of the same class.
    Unless ``by_name``, a ``ccm fleet trust HOP`` remedy names the hop's address when
    its name is an ssh config alias (which ``ccm fleet trust`` cannot look up)."""
    if getattr(exc, "jump_host", None):
        return exc
    said = copy.copy(exc)
    said.args = (f"jump host {exc}" if str(exc).startswith(hop.name) else
                 f"jump host {hop.name}: {exc}",)
    said.jump_host = hop.name  # type: ignore[attr-defined]
    if not by_name and isinstance(exc, LoginRefused):  # no identity_file of its own
        alias = parse_jump_spec(hop.name).address
        said.hint = ("load the key into ssh-agent (ssh-add) where ccm runs, or give the jump "
                     f"host an IdentityFile in a `Host {alias}` block of ~/.ssh/config")
    if not by_name and not _same_place(parse_jump_spec(hop.name), hop):
        where = f"[{hop.target}]" if ":" in hop.target else hop.target
        said.hint = said.hint.replace(f"ccm fleet trust {hop.name}`",
                                      f"ccm fleet trust {where}:{hop.port}`")
    return said


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def _same_place(a: FleetHost, b: FleetHost) -> bool:
    return (a.target, a.port) == (b.target, b.port)


def _bare(spec: str) -> str:
    """A hop without the ``ssh://`` of its URI form and its trailing ``/``."""
    text = spec.strip()
    if text[:6].lower() == "ssh://":
        text = text[6:].rstrip("/")
    return text


__all__ = ["NO_JUMP", "as_reached", "check_jumps", "config_hops", "hop_count", "hops_of",
           "jump_chain", "last_hop", "parse_jump_spec", "pool_key", "proxy_command_jump",
           "route", "through_jump", "tunnel_to"]
