"""Logrotate actions: check that rotation works (read-only) and force a rotation."""

from __future__ import annotations

import glob
import os
import re
import shlex
import stat
import tempfile
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from agent_runtime.actions._exec import run_command, which
from agent_runtime.actions.base import (
    ActionContext,
    ActionError,
    ActionResult,
    action,
    require,
    resolve_path,
)
from agent_runtime.hostroot import HostRoot, PathEscape

__all__ = [
    "config_path", "logrotate_check", "logrotate_force", "parse_config", "parse_state", "real_glob",
    "simulated_config",
]

_STATE_RE = re.compile(r'^"?(?P<path>.+?)"?\s+(?P<date>\d{4}-\d{1,2}-\d{1,2}(?:-\d{1,2}:\d{1,2}(?::\d{1,2})?)?)\s*$')


def parse_config(
    root: HostRoot, config: str, _seen: Optional[Set[str]] = None
) -> List[Tuple[List[str], List[str]]]:
    """The ``(log globs, directives)`` blocks of a logrotate config, following ``include``.

    *config* is a host path; includes are host paths too (a directory includes every file in it).
    """
    seen = _seen if _seen is not None else set()
    real = root.resolve(config)
    if real in seen:
        return []
    seen.add(real)
    if os.path.isdir(real):
        out: List[Tuple[List[str], List[str]]] = []
        for name in sorted(os.listdir(real)):
            if not name.startswith(".") and not name.endswith(("~", ".dpkg-old", ".rpmsave")):
                out += parse_config(root, os.path.join(config, name), seen)
        return out
    with open(real, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    blocks: List[Tuple[List[str], List[str]]] = []
    pending: List[str] = []
    current: Optional[Tuple[List[str], List[str]]] = None
    in_script = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if in_script:
            in_script = line != "endscript"
            continue
        if current is not None:
            if line.startswith("}"):
                blocks.append(current)
                current = None
            elif line.split()[0] in ("postrotate", "prerotate", "firstaction", "lastaction", "preremove"):
                in_script = True
            else:
                current[1].append(line)
            continue
        if line.startswith("include"):
            try:
                blocks += parse_config(root, line.split(None, 1)[1].strip().strip('"'), seen)
            except (OSError, PathEscape, IndexError):
                pass
            continue
        opening = line.endswith("{")
        words = shlex.split(line.rstrip("{").strip()) if line.rstrip("{").strip() else []
        pending += [w for w in words if w.startswith("/")]
        if opening:
            current = (pending, [])
            pending = []
    return blocks


def parse_state(path: str) -> Dict[str, float]:
    """``{log path: last rotation (epoch)}`` from a logrotate status file."""
    out: Dict[str, float] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            m = _STATE_RE.match(line.strip())
            if not m:
                continue
            parts = [int(x) for x in re.split(r"[-:]", m.group("date"))] + [0, 0, 0]
            try:
                out[m.group("path")] = time.mktime((parts[0], parts[1], parts[2], parts[3], parts[4],
                                                    parts[5], 0, 0, -1))
            except (OverflowError, ValueError):
                continue
    return out


def config_path(ctx: ActionContext, params: Dict[str, Any]) -> str:
    """The real path of the ``config`` param, or :class:`ActionError` when it is not one
    logrotate may be pointed at: it must lie under ``/etc`` (symlinks resolved) and, when
    it exists, be a regular file readable by everyone and writable only by its owner
    (root, on a real host), as logrotate's own configs are.

    The name often comes from an alert's ``config`` label: without this, an alert could
    have ``logrotate -f`` run any file as a config (its scripts run as root) or copy
    the lines of a private file such as ``/etc/shadow`` into the task's evidence.
    """
    config = resolve_path(ctx, params, "config")
    etc = os.path.realpath(ctx.root.resolve("/etc"))
    real = os.path.realpath(config)
    require(real.startswith(etc + os.sep),
            f"param 'config': {params['config']!r} is not a logrotate config under /etc")
    try:
        st = os.stat(real)
    except OSError:
        return config
    mode = stat.S_IMODE(st.st_mode)
    require(stat.S_ISREG(st.st_mode), f"param 'config': {params['config']!r} is not a file")
    # A simulated root's files carry the user's umask (002 makes them group-writable).
    writable = (stat.S_IWGRP | stat.S_IWOTH) if ctx.root.is_real_host else 0
    require(bool(mode & stat.S_IROTH) and not mode & writable,
            f"param 'config': {params['config']!r} has mode {mode:04o}; a logrotate config "
            "is readable by all and writable only by its owner")
    require(not ctx.root.is_real_host or st.st_uid == 0,
            f"param 'config': {params['config']!r} is not owned by root")
    return config


def _vet_config(params: Dict[str, Any]) -> None:
    config = params.get("config", "/etc/logrotate.conf")
    require(isinstance(config, str) and "\x00" not in config
            and os.path.normpath("/" + config.lstrip("/")).startswith("/etc/"),
            f"param 'config': {config!r} is not a logrotate config under /etc")


def real_glob(root: HostRoot, pattern: str) -> str:
    """A config's log glob as a real path.

    Host paths map under the root; on a simulated root a path that already
    points inside the root (a config written with sandbox paths) is kept.
    """
    if not root.is_real_host and any(
            pattern.startswith(top.rstrip("/") + "/") for top in (root.path, root.real)):
        return pattern
    return root.resolve(pattern)


def simulated_config(root: HostRoot, config: str) -> str:
    """The config with every log path (and ``olddir``) mapped under a simulated root.

    Scripts (``postrotate`` ...) and global defaults are dropped: they would act on
    the real machine, not the simulated host.
    """
    def word(path: str) -> str:
        return f'"{path}"' if any(c.isspace() for c in path) else path

    lines = [f"# generated by ccm from {config} for the simulated root {root.path}"]
    for globs, directives in parse_config(root, config):
        try:
            reals = [real_glob(root, g) for g in globs]
        except PathEscape as exc:
            raise ActionError(f"param 'config': {exc}") from exc
        lines.append(" ".join(word(r) for r in reals) + " {")
        for d in directives:
            parts = d.split(None, 1)
            if parts[0] == "olddir" and len(parts) == 2 and parts[1].startswith("/"):
                d = "olddir " + word(real_glob(root, parts[1].strip('"')))
            lines.append("    " + d)
        lines.append("}")
    return "\n".join(lines) + "\n"


def _logs(root: HostRoot, blocks: List[Tuple[List[str], List[str]]]) -> Tuple[List[str], List[str]]:
    """Host paths of every existing log the config names, and globs that matched nothing."""
    found: List[str] = []
    missing: List[str] = []
    for globs, directives in blocks:
        for pattern in globs:
            try:
                hits = sorted(glob.glob(real_glob(root, pattern)))
            except PathEscape:
                continue
            hits = [h for h in hits if os.path.isfile(h) and not os.path.islink(h)]
            if not hits and "missingok" not in directives:
                missing.append(pattern)
            found += [root.to_host(h) for h in hits]
    return sorted(set(found)), missing


@action("logrotate_check", read_only=True, params={
    "config": 'str="/etc/logrotate.conf"', "state": 'str="/var/lib/logrotate/status"',
    "max_mb": "float=100", "max_state_age_days": "float=2",
})
def logrotate_check(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Is log rotation working? Runs ``logrotate -d`` when present, checks the state file's age,
    and flags logs over ``max_mb`` MB not rotated within ``max_state_age_days``."""
    issues: List[str] = []
    config = config_path(ctx, params)
    state = resolve_path(ctx, params, "state")
    now = time.time()
    blocks: List[Tuple[List[str], List[str]]] = []
    if os.path.exists(config):
        blocks = parse_config(ctx.root, params["config"])
    else:
        issues.append(f"config {params['config']} does not exist")
    state_age: Optional[float] = None
    rotated: Dict[str, float] = {}
    if os.path.isfile(state):
        state_age = round((now - os.path.getmtime(state)) / 86400.0, 2)
        rotated = parse_state(state)
        if state_age > params["max_state_age_days"]:
            issues.append(f"state file {params['state']} is {state_age} days old: logrotate is not running")
    else:
        issues.append(f"state file {params['state']} does not exist: logrotate never ran")
    logs, missing = _logs(ctx.root, blocks)
    issues += [f"{g}: no such log (and no missingok)" for g in missing]
    big: List[Dict[str, Any]] = []
    for host in logs:
        size = os.path.getsize(ctx.root.resolve(host))
        last = rotated.get(host)
        stale = last is None or now - last > params["max_state_age_days"] * 86400.0
        if size > params["max_mb"] * 1024 * 1024 and stale:
            when = "never" if last is None else f"{round((now - last) / 86400.0, 1)} days ago"
            issues.append(f"{host} is {size // (1024 * 1024)} MB and was last rotated {when}")
            big.append({"path": host, "bytes": size, "last_rotated_days": None if last is None
                        else round((now - last) / 86400.0, 2)})
    debug: Optional[Dict[str, Any]] = None
    if ctx.root.is_real_host and which("logrotate", ctx) and os.path.exists(config):
        res = run_command(["logrotate", "-d", config], ctx)
        errors = [ln.strip() for ln in (res.stdout + res.stderr).splitlines() if ln.lower().startswith("error")]
        issues += errors[:20]
        debug = {"exit_code": res.exit_code, "errors": errors[:20]}
    ok = not issues
    return ActionResult(True, "log rotation looks healthy" if ok else f"{len(issues)} rotation issue(s)", {
        "ok": ok, "issues": issues, "state_age_days": state_age, "logs": len(logs),
        "oversized": big, "debug": debug,
    })


@action("logrotate_force", read_only=False, params={
    "config": 'str="/etc/logrotate.conf"', "state": "str?=null",
}, vet=_vet_config)
def logrotate_force(params: Dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Force a rotation: ``logrotate -f -v CONFIG`` (dry-run: ``logrotate -d -f``).

    On a simulated root, logrotate runs on a copy of the config whose host paths
    are mapped under the root (scripts dropped), with the root's state file.
    """
    config = config_path(ctx, params)
    require(os.path.isfile(config), f"param 'config': {params['config']!r} is not a file")
    simulated = not ctx.root.is_real_host
    text_config = simulated_config(ctx.root, params["config"]) if simulated else ""
    if not which("logrotate", ctx):
        return ActionResult(False, "logrotate is not installed", {"config": params["config"], "argv": [],
                            "exit_code": None, "rotated": [], "output": ""}, error="logrotate not found")
    argv = ["logrotate", "-d" if ctx.dry_run else "-v", "-f"]
    state = params["state"] or ("/var/lib/logrotate/status" if simulated else None)
    if state is not None:
        argv += ["-s", resolve_path(ctx, {"state": state}, "state")]
    tmp = ""
    if simulated:
        fd, tmp = tempfile.mkstemp(prefix="ccm-logrotate-", suffix=".conf")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text_config)
    argv.append(tmp or config)
    try:
        res = run_command(argv, ctx)
    finally:
        if tmp:
            os.unlink(tmp)
    text = res.stdout + res.stderr
    rotated = sorted({m.group(1) for m in re.finditer(r"rotating log ([^\s,]+)", text)})
    data = {"config": params["config"], "argv": argv, "exit_code": res.exit_code,
            "rotated": rotated, "output": text[-4000:]}
    verb = "would rotate" if ctx.dry_run else "rotated"
    if not res.ok:
        why = res.error or f"logrotate exited {res.exit_code}"
        return ActionResult(False, f"logrotate failed: {why}", data, changed=not ctx.dry_run, error=why)
    return ActionResult(True, f"{verb} {len(rotated)} logs", data, changed=not ctx.dry_run)
