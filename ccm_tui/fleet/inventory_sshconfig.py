"""Hosts and settings from an OpenSSH client config (``~/.ssh/config``).

Read: ``Host`` blocks (patterns with ``*``, ``?`` and ``!negation``), ``Include``
(globs, relative to ``~/.ssh``), and ``HostName`` (``%h`` expanded), ``Port``,
``User``, ``IdentityFile`` (all of them, in order), ``ProxyJump``, ``KexAlgorithms``
and ``Ciphers``. As in ``ssh``,
the first value obtained for a keyword wins. ``Match`` blocks are skipped: CCM
cannot evaluate their conditions the way ``ssh`` does.

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
from ccm_tui.fleet.inventory import FleetHost, algorithm_list, parse_port, with_defaults

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
            key, value = m.group(1).lower(), m.group(2).strip()
            if value.startswith('"') and value.endswith('"') and len(value) > 1:
                value = value[1:-1]
            if key == "host":
                current = _Block(value.split(), n, path=path)
                cfg.blocks.append(current)
            elif key == "match":
                current = _Block([], n, is_match=True, path=path)
                cfg.blocks.append(current)
            elif key == "include":
                if _depth > 8:
                    raise InventoryError(f"{path}:{n}: Include nested too deeply")
                for pat in value.split():
                    full = os.path.expanduser(pat)
                    if not os.path.isabs(full):
                        full = str(Path("~/.ssh").expanduser() / full)
                    for f in sorted(glob.glob(full)):
                        sub = cls.parse(Path(f).read_text(encoding="utf-8-sig"), Path(f), _depth + 1)
                        for b in sub.blocks:
                            if b.patterns == ["*"] and not b.line:
                                b.patterns = list(current.patterns)
                                b.is_match = current.is_match
                            cfg.blocks.append(b)
            elif key in _KEYS:
                if key == "port":
                    parse_port(value, f"{path}:{n}")
                if key in ("kexalgorithms", "ciphers"):
                    value = algorithm_list(value, f"{path}:{n}: {m.group(1)}")
                current.options.append((key, value, n))
        return cfg

    def lookup(self, name: str) -> dict[str, list[str]]:
        """The options that apply to ``name``: first value wins, IdentityFile accumulates."""
        out: dict[str, list[str]] = {}
        for block in self.blocks:
            if not block.matches(name):
                continue
            for key, value, _ in block.options:
                if key == "identityfile":
                    out.setdefault(key, []).append(value)
                elif key not in out:
                    out[key] = [value]
        return out

    def _resolved(self, name: str) -> dict[str, object]:
        opts = self.lookup(name)
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
            "jump": None if not jump or jump.lower() == "none" else jump.split(",")[0],
            "kex_algs": first.get("kexalgorithms", ""),
            "ciphers": first.get("ciphers", ""),
        }

    def hosts(self) -> list[FleetHost]:
        """One host per concrete ``Host`` name, with its options resolved."""
        seen: dict[str, FleetHost] = {}
        for block in self.blocks:
            if block.is_match:
                continue
            for pattern in block.patterns:
                if any(c in pattern for c in "*?!") or pattern in seen:
                    continue
                fields = self._resolved(pattern)
                seen[pattern] = FleetHost(
                    name=pattern, source=f"{block.path or self.path}:{block.line}",
                    **fields,  # type: ignore[arg-type]
                )
        return list(seen.values())

    def fill_in(self, host: FleetHost) -> FleetHost:
        """``host`` with what this config says for its name where the inventory says nothing."""
        if not any(b.matches(host.name) for b in self.blocks if b.options):
            return host
        return with_defaults(host, **self._resolved(host.name))


__all__ = ["SSHConfig"]
