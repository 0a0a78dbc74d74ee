"""The agent's command line: ``run``, ``tail``, ``probe`` and ``--version``.

::

    python3 -m agent_runtime run --spec spec.json      # or --spec - (JSON on stdin,
                                                       #  control lines follow it)
    python3 -m agent_runtime tail TASK --from 12 [--no-follow]
    python3 -m agent_runtime probe
    python3 -m agent_runtime --version

Exit codes: 0 for any clean finish (resolved, failed, escalated, rejected,
cancelled, noop), 2 for a bad command line or task spec, 1 for an internal error.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import traceback
from typing import List, Optional

from agent_runtime import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent_runtime", description="CCM agent: diagnose, fix and verify on this host.")
    parser.add_argument("--version", action="version", version="ccm-agent %s" % __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run one task spec to its finished event")
    run.add_argument("--spec", required=True, metavar="FILE",
                     help="task spec JSON file, or - to read it from stdin")
    run.add_argument("--journal-dir", metavar="DIR", help="override the journal directory")
    run.add_argument("--dry-run", action="store_true", help="force dry-run for every fix")

    tail = sub.add_parser("tail", help="replay a task's journal, then follow it")
    tail.add_argument("task")
    tail.add_argument("--from", dest="from_seq", type=int, default=1, metavar="SEQ",
                      help="first seq to print (default 1)")
    tail.add_argument("--follow", action=argparse.BooleanOptionalAction, default=True,
                      help="keep following until the finished event (default: on)")
    tail.add_argument("--journal-dir", metavar="DIR", help="override the journal directory")
    tail.add_argument("--idle-timeout", type=float, default=None, metavar="S",
                      help="stop following after S seconds without a new event")

    probe = sub.add_parser("probe", help="print one JSON health snapshot", add_help=False)
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from agent_runtime.loop import run_spec
    from agent_runtime.spec import SpecError, TaskSpec, read_spec

    try:
        if args.spec == "-":
            raw = read_spec(sys.stdin)
        else:
            with open(args.spec, encoding="utf-8") as fh:
                raw = json.load(fh)
        if args.dry_run and isinstance(raw, dict):
            raw.setdefault("policy", {})["dry_run"] = True
        spec = TaskSpec.from_dict(raw)
    except (OSError, ValueError, SpecError) as exc:
        sys.stderr.write("ccm-agent: bad task spec: %s\n" % exc)
        return 2

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # survive a dropped SSH session
    try:
        run_spec(spec, args.journal_dir, sys.stdout, sys.stdin)
    except RuntimeError as exc:  # journal locked by another agent
        sys.stderr.write("ccm-agent: %s\n" % exc)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    return 0


def _cmd_tail(args: argparse.Namespace) -> int:
    from agent_runtime.journal import journal_path, tail

    path = journal_path(args.task, args.journal_dir)
    if not args.follow and not path.exists():
        sys.stderr.write("ccm-agent: no journal for task %r at %s\n" % (args.task, path))
        return 1
    try:
        tail(path, from_seq=max(1, args.from_seq), follow=args.follow,
             idle_timeout=args.idle_timeout)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 0


def _cmd_probe(args: argparse.Namespace) -> int:
    import importlib

    probe = importlib.import_module("agent_runtime.probe")  # lazy: only when asked
    rest = [a for a in args.rest if a != "--"]
    return int(probe.main(rest) or 0)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["probe"]:  # argparse's REMAINDER drops leading options: pass them on
        return _cmd_probe(argparse.Namespace(rest=argv[1:]))
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "tail":
        return _cmd_tail(args)
    if args.command == "probe":
        return _cmd_probe(args)
    _parser().print_help()
    return 2
