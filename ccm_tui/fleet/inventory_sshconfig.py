"""Hosts and settings from an OpenSSH client config (``~/.ssh/config``).

Read: ``Host`` blocks (patterns with ``*``, ``?`` and ``!negation``), ``Include``
(globs, relative to ``~/.ssh``), and ``HostName`` (``%h`` expanded), ``Port``,
``User``, ``IdentityFile`` (all of them, in order), ``ProxyJump``, ``KexAlgorithms``
and ``Ciphers``. As in ``ssh``,
the first value obtained for a keyword wins, values may be quoted, and a word
starting with ``#`` ends the line. ``Match`` blocks are skipped (CCM cannot evaluate
their conditions the way ``ssh`` does) and listed in :attr:`SSHConfig.skipped`.

Concrete ``Host`` names (no wildcards) are the hosts this source contributes.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from ccm_tui.core.errors import InventoryError
from ccm_tui.fleet.fields import algorithm_list, parse_port
from ccm_tui.fleet.inventory import FleetHost, with_defaults
from ccm_tui.fleet.jump import NO_JUMP, jump_chain, proxy_command_jump

_KEYS = {"hostname", "port", "user", "identityfile", "proxyjump", "kexalgorithms", "ciphers"}


@dataclass
class _Block:
    patterns: list[str]
    line: int
    options: list[tuple[str, str, int]] = field(default_factory=list)
    is_match: bool = False
    path: Path | None = None

    def matches(self, name: str) -> bool:
        if self.is_match:
            return False
        hit = False
        for p in self.patterns:
            if p.startswith("!"):
                if fnmatchcase(name, p[1:]):
                    return False
            elif fnmatchcase(name, p):
                hit = True
        return hit


@dataclass
class SSHConfig:
    """A parsed ssh config: its ``Host`` blocks in order."""

    path: Path
    blocks: list[_Block] = field(default_factory=list)
    #: What was read but not applied (``FILE:LINE: why``), for ``ccm fleet list`` to say.
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> SSHConfig:
        """Parse the file at ``path`` (and what it includes)."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InventoryError(f"{path}: cannot read: {exc}") from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: Path, _depth: int = 0) -> SSHConfig:
        """Parse ssh config text read from ``path``."""
        cfg = cls(path)
        current = _Block(["*"], 0)  # options before any Host line apply to all
        cfg.blocks.append(current)
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"(\S+?)\s*(?:=\s*|\s+)(.*)$", line)
            if not m:
                raise InventoryError(f"{path}:{n}: expected `Keyword value`, got {line!r}")
            key = m.group(1).lower()
            if key == "proxycommand":  # ssh takes the rest of its line as it is
                current.options.append(("proxyjump", cfg._proxy(m.group(2), f"{path}:{n}"), n))
                continue
            if key not in _KEYS | {"host", "match", "include"}:
                continue  # e.g. ProxyCommand, whose rest of line ssh takes as it is
            try:
                args = _words(m.group(2))
            except ValueError as exc:
                raise InventoryError(f"{path}:{n}: {exc}") from None
            if not args:
                raise InventoryError(f"{path}:{n}: {m.group(1)} needs a value")
            value = args[0]
            if key == "host":
                current = _Block(args, n, path=path)
                cfg.blocks.append(current)
            elif key == "match":
                current = _Block([], n, is_match=True, path=path)
                cfg.blocks.append(current)
                cfg.skipped.append(f"{path}:{n}: Match block not applied (CCM cannot evaluate "
                                   "Match conditions; use a Host block for what CCM needs)")
            elif key == "include":
                if _depth > 8:
                    raise InventoryError(f"{path}:{n}: Include nested too deeply")
                for pat in args:
                    cfg._include(pat, current, f"{path}:{n}", _depth)
            elif key in _KEYS:
                if key in ("kexalgorithms", "ciphers"):
                    value = algorithm_list(" ".join(args), f"{path}:{n}: {m.group(1)}")
                elif len(args) > 1:  # ssh says "garbage at end of line"
                    raise InventoryError(f"{path}:{n}: {m.group(1)} takes one value, got "
                                         f"{' '.join(args)!r} (quote a value with spaces)")
                if key == "port":
                    parse_port(value, f"{path}:{n}")
                elif key == "proxyjump":  # the whole chain, a,b, as ssh goes through it
                    value = jump_chain(value, f"{path}:{n}: ProxyJump") or NO_JUMP
                current.options.append((key, value, n))
        return cfg

    def _proxy(self, command: str, where: str) -> str:
        """A ``ProxyCommand`` as the ``ProxyJump`` it stands for (the first of the two
        wins in ssh, as here); one CCM cannot follow is noted and means no jump."""
        if command.strip().lower() == NO_JUMP:
            return NO_JUMP
        if through := proxy_command_jump(command):
            return jump_chain(through, f"{where}: ProxyCommand") or NO_JUMP
        self.skipped.append(f"{where}: ProxyCommand not applied (CCM runs no proxy command; "
                            "it reads `ssh -W %h:%p HOST` as a jump host): the hosts it is for "
                            "are reached directly")
        return NO_JUMP

    def _include(self, pattern: str, current: _Block, where: str, depth: int) -> None:
        full = os.path.expanduser(pattern)
        if not os.path.isabs(full):
            full = str(Path("~/.ssh").expanduser() / full)
        for f in sorted(glob.glob(full)):
            try:
                text = Path(f).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise InventoryError(f"{where}: cannot read included {f}: "
                                     f"{getattr(exc, 'strerror', None) or exc}") from None
            sub = self.parse(text, Path(f), depth + 1)
            for b in sub.blocks:
                if b.patterns == ["*"] and not b.line:
                    b.patterns = list(current.patterns)
                    b.is_match = current.is_match
                self.blocks.append(b)
            self.skipped.extend(sub.skipped)

    def lookup(self, name: str, also: str = "") -> dict[str, list[str]]:
        """The options that apply to ``name`` (or to ``also``, the address an inventory
        gives it, which is what ``ssh`` is handed): first value wins in file order,
        IdentityFile accumulates."""
        out: dict[str, list[str]] = {}
        for block in self.blocks:
            if not (block.matches(name) or (also and block.matches(also))):
                continue
            for key, value, _ in block.options:
                if key == "identityfile":
                    out.setdefault(key, []).append(value)
                elif key not in out:
                    out[key] = [value]
        return out

    def _resolved(self, name: str, also: str = "") -> dict[str, object]:
        opts = self.lookup(name, also)
        first = {k: v[0] for k, v in opts.items()}
        address = first.get("hostname", "").replace("%h", name).replace("%%", "%")
        jump = first.get("proxyjump")
        user = first.get("user", "")
        files = tuple(
            os.path.expanduser(f.replace("%d", "~").replace("%h", name).replace("%u", user)
                               .replace("%r", user))
            for f in opts.get("identityfile", []))
        return {
            "address": address,
            "port": int(first["port"]) if "port" in first else 22,
            "user": user,
            "identity_files": files,
            "jump": None if not jump or jump == NO_JUMP else jump,
            "kex_algs": first.get("kexalgorithms", ""),
            "ciphers": first.get("ciphers", ""),
        }

    def hosts(self) -> list[FleetHost]:
        """One host per concrete ``Host`` name, with its options resolved; git hosting
        services (``Host github.com``) are left out, with a note: they are no servers."""
        seen: dict[str, FleetHost] = {}
        for block in self.blocks:
            if block.is_match:
                continue
            for pattern in block.patterns:
                if any(c in pattern for c in "*?!") or pattern in seen:
                    continue
                fields = self._resolved(pattern)
                if _GIT_HOSTS.search(f"{pattern} {fields['address']}"):
                    self.skipped.append(f"{block.path or self.path}:{block.line}: {pattern} "
                                        "left out: a git hosting service, not a server")
                    seen[pattern] = FleetHost(pattern)  # dropped below; keeps it out once
                    continue
                seen[pattern] = FleetHost(
                    name=pattern, source=f"{block.path or self.path}:{block.line}",
                    **fields,  # type: ignore[arg-type]
                )
        return [h for h in seen.values() if h.source]

    def fill_in(self, host: FleetHost) -> FleetHost:
        """``host`` with what this config says for its name or its address (as Ansible's
        ``ssh ADDRESS`` would find: ``Host 10.20.*`` with a ProxyJump) where the
        inventory says nothing."""
        also = host.address if host.address != host.name else ""
        if not any(b.matches(host.name) or (also and b.matches(also))
                   for b in self.blocks if b.options):
            return host
        return with_defaults(host, **self._resolved(host.name, also))


_GIT_HOSTS = re.compile(r"(?i)(^|[\s.])(github\.com|gitlab\.com|bitbucket\.org|codeberg\.org"
                        r"|ssh\.dev\.azure\.com|vs-ssh\.visualstudio\.com|git-codecommit\.\S+)"
                        r"(\s|$)")


def _words(text: str) -> list[str]:
    """The arguments of a config line as ``ssh`` splits them: whitespace separates,
    ``"…"`` / ``'…'`` quote, ``\\`` escapes a quote, space or backslash, and a word
    starting with ``#`` begins a comment."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] == "#":
            break
        buf: list[str] = []
        quote = ""
        while i < n and (quote or text[i] not in " \t"):
            c = text[i]
            if c == "\\" and i + 1 < n and text[i + 1] in ("\\" + (quote or "\"' ")):
                buf.append(text[i + 1])
                i += 2
                continue
            if c == quote:
                quote = ""
            elif not quote and c in "\"'":
                quote = c
            else:
                buf.append(c)
            i += 1
        if quote:
            raise ValueError(f"unclosed {quote} quote")
        words.append("".join(buf))
    return words


__all__ = ["SSHConfig"]
