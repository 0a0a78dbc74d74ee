"""Service actions: status (read-only) and restart, via systemctl, else ``service``."""

from __future__ import annotations

import re
import time
from typing import Any, Dict, List, Optional

from agent_runtime.actions._exec import CommandResult, run_command, which
from agent_runtime.actions.base import ActionContext, ActionResult, action, require

__all__ = ["check_restartable", "check_unit_name", "service_restart", "service_status", "unit_state"]

_UNIT_RE = re.compile(r"[A-Za-z0-9@_:.\\-]{1,255}")
_NO_SYSTEMD = ("not been booted with systemd", "Failed to connect to bus", "System has not been booted")


#: Unit types other than services: restarting one (``poweroff.target``, a ``.mount``,
#: a ``.socket``) is never the fix for "a service is down".
_OTHER_TYPES = (".target", ".socket", ".mount", ".automount", ".swap", ".timer", ".path",
                ".slice", ".scope", ".device")
#: Services a remediation never (re)starts, whatever an alert's label says: systemd's
#: own (``systemd-reboot``, ``systemd-poweroff``, ``systemd-journald`` ...), the system
#: bus, and the ones that end the system or open a root console.
_NEVER_RESTART = re.compile(
    r"(systemd-.*|dbus|dbus-broker|debug-shell|emergency|rescue|init|"
    r".*(poweroff|reboot|halt|kexec|shutdown|suspend|hibernate|hybrid-sleep).*)")


def check_unit_name(name: str, param: str = "name") -> None:
    """Reject anything that is not a plain unit name (no option, no path, no space)."""
    require(isinstance(name, str) and bool(_UNIT_RE.fullmatch(name))
            and not name.startswith(("-", ".")),
            f"param {param!r}: {name!r} is not a valid unit name")


def check_restartable(name: str, param: str = "name") -> None:
    """Reject a unit a remediation must not restart: not a ``.service`` (a target such as
    ``poweroff.target``, a mount, a socket ...), or a system service such as
    ``systemd-reboot.service``, ``dbus`` or ``debug-shell``. The name usually comes from
    an alert's label, which anyone who can post an alert controls."""
    check_unit_name(name, param)
    lower = name.lower()
    require(not lower.endswith(_OTHER_TYPES),
            f"param {param!r}: {name!r} is not a service; only .service units are restarted")
    base = lower[:-len(".service")] if lower.endswith(".service") else lower
    require(not _NEVER_RESTART.fullmatch(base.split("@", 1)[0]),
            f"param {param!r}: refusing to restart {name!r}, a system unit a remediation "
            "never restarts")


def _systemd_usable(res: CommandResult) -> bool:
    text = res.stdout + res.stderr
    return res.exit_code is not None and not any(s in text for s in _NO_SYSTEMD)


def unit_state(name: str, ctx: ActionContext) -> Dict[str, Any]:
    """``{name, active, state, sub, via, ...}`` of a service; ``via`` is "systemctl", "service" or ""."""
    if which("systemctl", ctx):
        res = run_command(
            ["systemctl", "show", name, "--no-pager",
             "--property=ActiveState,SubState,LoadState,MainPID,NRestarts,UnitFileState"], ctx)
        if res.ok and _systemd_usable(res):
            props: Dict[str, str] = {}
            for line in res.stdout.splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    props[key.strip()] = value.strip()
            state = props.get("ActiveState", "unknown")
            data: Dict[str, Any] = {
                "name": name, "active": state == "active", "state": state,
                "sub": props.get("SubState", ""), "load": props.get("LoadState", ""),
                "unit_file_state": props.get("UnitFileState", ""), "via": "systemctl",
            }
            if props.get("MainPID", "").isdigit():
                data["main_pid"] = int(props["MainPID"])
            if props.get("NRestarts", "").isdigit():
                data["restarts"] = int(props["NRestarts"])
            return data
    if which("service", ctx):
        res = run_command(["service", name, "status"], ctx)
        if res.exit_code is not None:
            active = res.exit_code == 0
            lines = (res.stdout + res.stderr).strip().splitlines()
            last = lines[-1].strip()[:200] if lines else ""
            state = "active" if active else "inactive"
            if not active and "unrecognized service" in last:
                state = "not-found"
            return {"name": name, "active": active, "state": state, "sub": last, "via": "service"}
    return {"name": name, "active": False, "state": "unknown", "sub": "", "via": ""}


@action("service_status", read_only=True, params={"name": "str"})
def service_status(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Whether a service is active: ``systemctl show``, else ``service NAME status``."""
    check_unit_name(params["name"])
    data = unit_state(params["name"], ctx)
    if not data["via"]:
        return ActionResult(False, "no usable systemctl or service command", data,
                            error="neither systemctl nor service is usable on this host")
    return ActionResult(True, f"{params['name']} is {data['state']}"
                        + (f" ({data['sub']})" if data["sub"] else ""), data)


#: Unit file states of a unit someone turned off on purpose (or that does not exist).
_TURNED_OFF = {"disabled": "it is disabled", "masked": "it is masked",
               "masked-runtime": "it is masked", "not-found": "no such unit"}


def _turned_off(state: Dict[str, Any]) -> str:
    """Why a unit must not be (re)started by a fix: turned off on purpose, or unknown ("" if not).

    Restarting a stopped unit starts it; an alert naming a disabled service (a telnet or
    rpcbind someone switched off) must not have a fix switch it back on.
    """
    for key in ("load", "unit_file_state"):
        why = _TURNED_OFF.get(str(state.get(key, "")))
        if why:
            return f"{why} ({key.replace('_', ' ')} {state[key]}); a human decides"
    return ""


def _restart_argv(name: str, ctx: ActionContext) -> Optional[List[str]]:
    if which("systemctl", ctx):
        probe = run_command(["systemctl", "show", name, "--property=LoadState"], ctx)
        if probe.ok and _systemd_usable(probe):
            return ["systemctl", "restart", name]
    if which("service", ctx):
        return ["service", name, "restart"]
    return None


def _vet_restart(params: Dict[str, Any]) -> None:
    check_restartable(str(params.get("name", "")))


@action("service_restart", read_only=False, params={"name": "str", "settle_seconds": "float=5"},
        vet=_vet_restart)
def service_restart(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Restart a service (``systemctl restart``, else ``service NAME restart``) and report if it is active after.

    Waits up to ``settle_seconds`` for the unit to become active. Refuses a system unit or
    one that is not a service (:func:`check_restartable`), and a stopped one that is
    disabled, masked or not found: restarting a stopped unit starts it.
    """
    name = params["name"]
    check_restartable(name)
    argv = _restart_argv(name, ctx)
    if argv is None:
        return ActionResult(False, "no usable systemctl or service command",
                            {"name": name, "restarted": False, "active_after": False, "command": []},
                            error="neither systemctl nor service is usable on this host")
    before = unit_state(name, ctx)
    off = "" if before["active"] else _turned_off(before)  # running: restarting starts nothing new
    if off:
        return ActionResult(False, f"not restarting {name}: {off}", {
            "name": name, "restarted": False, "active_after": bool(before["active"]),
            "command": argv, "exit_code": None, "output": ""}, error=off)
    if ctx.dry_run:
        return ActionResult(True, f"would run: {' '.join(argv)}", {
            "name": name, "restarted": False, "active_after": before["active"], "command": argv,
            "exit_code": None, "output": "",
        })
    res = run_command(argv, ctx)
    deadline = time.monotonic() + max(0.0, params["settle_seconds"])
    state = unit_state(name, ctx)
    while res.ok and not state["active"] and time.monotonic() < deadline:
        time.sleep(0.2)
        state = unit_state(name, ctx)
    data = {
        "name": name, "restarted": res.ok, "active_after": bool(state["active"]),
        "command": argv, "exit_code": res.exit_code,
        "output": (res.stdout + res.stderr).strip()[-2000:], "state_after": state["state"],
    }
    ok = res.ok and bool(state["active"])
    if ok:
        return ActionResult(True, f"restarted {name}; it is active", data, changed=True)
    why = res.error or (f"restart exited {res.exit_code}" if not res.ok
                        else f"{name} is {state['state']} after restart")
    return ActionResult(False, f"restart of {name} failed: {why}", data, changed=res.ok, error=why)
