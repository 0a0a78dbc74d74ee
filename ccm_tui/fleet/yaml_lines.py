"""YAML loading that remembers line numbers, for one-line inventory errors; Ansible's
tags, its vars files and its ``--list`` JSON."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ccm_tui.core.errors import InventoryError


class LineDict(dict[Any, Any]):
    """A mapping loaded from YAML: ``line`` of the mapping, ``key_lines`` of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class _Loader(yaml.SafeLoader):
    #: (key, line, line of the first) of keys written twice in one mapping
    duplicates: list[tuple[Any, int, int]]


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    own = {id(k) for k, _ in node.value if not (isinstance(k, yaml.ScalarNode)
                                                and k.tag == "tag:yaml.org,2002:merge")}
    loader.flatten_mapping(node)  # `<<: *base` keys come first; own ones may override them
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    own_lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark) from None
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
        if id(key_node) in own:
            if key in own_lines:
                loader.duplicates.append((key, out.key_lines[key], own_lines[key]))
            own_lines[key] = out.key_lines[key]
    return out


class Vaulted:
    """A value Ansible Vault encrypted (``!vault |``): kept out of labels, never decrypted."""

    def __repr__(self) -> str:
        return "<vault-encrypted>"


def _vaulted(loader: _Loader, node: yaml.Node) -> Vaulted:
    return Vaulted()


def _unsafe(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return _mapping(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
# Ansible's own tags, found in real YAML inventories
_Loader.add_constructor("!vault", _vaulted)
_Loader.add_constructor("!vault-encrypted", _vaulted)
_Loader.add_constructor("!unsafe", _unsafe)


def load_yaml(text: str, source: str, duplicates: list[str] | None = None) -> Any:
    """Parse YAML; mappings come back as :class:`LineDict`.

    A syntax error raises :class:`InventoryError` as ``SOURCE:LINE: reason``. A key
    written twice in one mapping (the later wins, as in Ansible) is described in
    ``duplicates`` when given.
    """
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
        if duplicates is not None:
            duplicates.extend(f"{source}:{line}: {key!r} is written twice (also on line "
                              f"{first}); the later one wins"
                              for key, line, first in loader.duplicates)
        return data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise InventoryError(f"{source}:{line}: {reason}") from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"{source}:1: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def load_vars(path: Path, notes: list[str] | None = None) -> dict[str, Any]:
    """The variables in an Ansible ``group_vars`` / ``host_vars`` file or folder (its
    YAML/JSON files in name order, later ones winning). A vault-encrypted file is
    skipped, with a note: CCM never decrypts."""
    files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith(".")
                   and f.suffix.lower() in {".yml", ".yaml", ".json", ""}) \
        if path.is_dir() else [path]
    out: dict[str, Any] = {}
    for f in files:
        try:
            text = f.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InventoryError(f"{f}: cannot read: {exc}") from None
        if text.startswith("$ANSIBLE_VAULT"):
            if notes is not None:
                notes.append(f"{f}: vault-encrypted, its variables are not used")
            continue
        data = load_yaml(text, str(f))
        if data is None:
            continue
        if not isinstance(data, dict):
            raise InventoryError(f"{f}:1: expected a mapping of variable names to values")
        out.update(data)
    return out


def from_list_output(data: Mapping[Any, Any], source: str) -> Mapping[Any, Any]:
    """What ``ansible-inventory --list`` prints (``_meta.hostvars``, and each group's
    ``hosts``, ``vars`` and ``children`` as lists) in the shape of a YAML inventory;
    any other YAML inventory as it is. An inventory plugin's config is refused."""
    if isinstance(data.get("plugin"), str):
        raise InventoryError(
            f"{source}:{line_of(data, 'plugin')}: this configures the Ansible inventory "
            f"plugin {data['plugin']!r}, which CCM cannot run",
            hint=f"export its hosts with `ansible-inventory -i {source} --list > fleet.json` "
            "and pass --inventory fleet.json")
    if "_meta" not in data:
        return data
    meta = data.get("_meta")
    hostvars = meta.get("hostvars") if isinstance(meta, dict) else None
    hostvars = hostvars if isinstance(hostvars, dict) else {}
    out: dict[str, Any] = {}
    for name, node in data.items():
        if name == "_meta":
            continue
        if isinstance(node, list):  # an inventory script's short form: group: [hosts]
            node = {"hosts": node}
        if not isinstance(node, dict):
            raise InventoryError(f"{source}:{line_of(data, name)}: group {name!r} must be a "
                                 "mapping of hosts/vars/children, as ansible-inventory --list "
                                 "prints")
        out[name] = {
            "hosts": {str(h): dict(hostvars.get(h) or {}) for h in node.get("hosts") or []}
            or None,
            "vars": node.get("vars") or None,
            "children": {str(c): None for c in node.get("children") or []} or None,
        }
    return out


def line_of(mapping: Any, key: Any, default: int = 1) -> int:
    """The line of ``key`` in a loaded mapping (``default`` when unknown)."""
    if isinstance(mapping, LineDict):
        return mapping.key_lines.get(key, mapping.line or default)
    return default


__all__ = ["LineDict", "Vaulted", "from_list_output", "line_of", "load_vars", "load_yaml"]
