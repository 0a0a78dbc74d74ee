"""Package action: update packages with apt-get, dnf or yum (dry-run uses their simulate flag)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from agent_runtime.actions._exec import run_command, which
from agent_runtime.actions.base import ActionContext, ActionResult, action, require

__all__ = ["detect_manager", "package_update", "plan"]

_PKG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._:~=-]*$")
_MANAGERS = ("apt-get", "dnf", "yum")


def detect_manager(ctx: ActionContext) -> Optional[str]:
    """The first of apt-get, dnf, yum found on the PATH the subprocesses see."""
    for name in _MANAGERS:
        if which(name, ctx):
            return name
    return None


def plan(manager: str, packages: List[str], dry_run: bool) -> List[List[str]]:
    """The commands to run, in order."""
    if manager == "apt-get":
        if dry_run:
            return [["apt-get", "-s", "install", "--only-upgrade", *packages] if packages
                    else ["apt-get", "-s", "upgrade"]]
        return [["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--only-upgrade", *packages] if packages
                else ["apt-get", "upgrade", "-y", "-q"]]
    flag = "--assumeno" if dry_run else "-y"
    verb = "upgrade" if manager == "dnf" else "update"
    return [[manager, flag, verb, *packages]]


def _count_upgraded(manager: str, text: str) -> Optional[int]:
    if manager == "apt-get":
        m = re.search(r"(\d+) upgraded,", text)
        return int(m.group(1)) if m else None
    m = re.search(r"^\s*(?:Upgrade|Update)\s+(\d+) Packages?", text, re.M)
    return int(m.group(1)) if m else None


@action("package_update", read_only=False, params={
    "packages": "list[str]?=null", "manager": 'str(auto|apt-get|dnf|yum)="auto"',
})
def package_update(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Upgrade ``packages`` (or everything) with apt-get, dnf or yum; dry-run simulates (``apt-get -s``, ``--assumeno``)."""
    packages: List[str] = list(params["packages"] or [])
    for i, pkg in enumerate(packages):
        require(bool(_PKG_RE.match(pkg)), f"param 'packages[{i}]': {pkg!r} is not a package name")
    manager = detect_manager(ctx) if params["manager"] == "auto" else params["manager"]
    if manager is None or not which(manager, ctx):
        why = f"{params['manager'] if manager is None else manager}: no package manager found"
        return ActionResult(False, why, {"manager": manager, "packages": packages, "commands": [],
                                         "upgraded": None}, error=why)
    env = {"DEBIAN_FRONTEND": "noninteractive"} if manager == "apt-get" else {}
    commands: List[Dict[str, Any]] = []
    output = ""
    failed = ""
    for argv in plan(manager, packages, ctx.dry_run):
        res = run_command(argv, ctx, env=env, timeout=max(ctx.timeout, 30.0))
        commands.append({"argv": argv, "exit_code": res.exit_code, "stderr": res.stderr[-2000:]})
        output = res.stdout
        # dnf/yum --assumeno exit 1 after printing the transaction: that is the simulation
        simulated = ctx.dry_run and manager != "apt-get" and res.exit_code == 1
        if not res.ok and not simulated:
            failed = res.error or f"{' '.join(argv[:3])} exited {res.exit_code}"
            break
    data = {"manager": manager, "packages": packages, "commands": commands,
            "upgraded": _count_upgraded(manager, output), "output": output[-4000:]}
    if failed:
        return ActionResult(False, f"package update failed: {failed}", data,
                            changed=not ctx.dry_run and len(commands) > 1, error=failed)
    verb = "would upgrade" if ctx.dry_run else "upgraded"
    count = data["upgraded"]
    return ActionResult(True, f"{manager}: {verb} {count if count is not None else '?'} packages",
                        data, changed=not ctx.dry_run and count != 0)
