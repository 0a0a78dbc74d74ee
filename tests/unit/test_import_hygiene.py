"""What importing each layer pulls in: the rules of ARCHITECTURE.md, checked in a clean process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

AGENT_MODULES = ["agent_runtime", "agent_runtime.protocol"]


def _loaded_after(imports: list[str]) -> set[str]:
    code = textwrap.dedent(f"""
        import json, sys, importlib
        before = set(sys.modules)
        for name in {imports!r}:
            importlib.import_module(name)
        print(json.dumps(sorted(set(sys.modules) - before)))
    """)
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         check=True, cwd=_root())
    return {m.split(".")[0] for m in json.loads(out.stdout)}


def _root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2])


def _agent_modules() -> list[str]:
    from pathlib import Path

    base = Path(_root()) / "agent_runtime"
    mods = []
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(base.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    return mods


def test_agent_runtime_loads_only_the_standard_library() -> None:
    mods = _agent_modules()
    assert "agent_runtime.protocol" in mods
    outside = _loaded_after(mods) - set(sys.stdlib_module_names) - {"agent_runtime"}
    assert outside == set(), f"agent_runtime pulled in non-stdlib modules: {sorted(outside)}"


def test_core_loads_no_driver_ui_or_network_library() -> None:
    loaded = _loaded_after(["ccm_tui.core"])
    third_party = loaded - set(sys.stdlib_module_names) - {"ccm_tui", "agent_runtime"}
    assert third_party == set(), sorted(third_party)


def test_hub_package_defers_its_drivers() -> None:
    loaded = _loaded_after(["ccm_tui.hub"])
    assert not loaded & {"asyncpg", "aiosqlite", "supabase", "textual", "asyncssh"}


def test_cli_import_is_light() -> None:
    loaded = _loaded_after(["ccm_tui.cli"])
    heavy = loaded & {"textual", "asyncssh", "asyncpg", "supabase", "anthropic", "libtmux"}
    assert heavy == set(), sorted(heavy)
