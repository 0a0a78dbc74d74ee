"""The broadcast helper: a process forked as ``ccm run`` starts, to load SSH meanwhile.

A cold ``ccm run`` used to spend a quarter of a second importing asyncssh and the
cryptography it needs before the first connection, after another third of a second
importing and parsing the command line, loading the settings and the inventory —
one after the other, on one core. With two or more CPUs the entry point forks this
helper first (:func:`start`); it imports the SSH stack while the command line is
parsed, then waits for its job. ``ccm run`` hands it the whole broadcast
(:meth:`Helper.assign`): the helper deals shares to workers of its own (see
:mod:`.broadcast_workers`), runs one share itself and streams every result back as a
JSON line. The command process never imports asyncssh: it shows progress, builds the
report and records it in the hub.

The helper writes nothing to the terminal (its stdin, stdout and stderr are
``/dev/null``); a command that does not use it (``--help``, an error, ``--procs 1``)
closes the job pipe and the helper leaves as soon as it sees that. Ctrl-C stops its
broadcast, which still sends a result for every host (:mod:`.broadcast_interrupt`);
SIGTERM (a second Ctrl-C in ``ccm run``) kills and reaps its workers and ends it.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccm_tui.fleet.broadcast_workers import Workers
    from ccm_tui.fleet.inventory import FleetHost, Inventory
    from ccm_tui.fleet.ssh_types import PoolOptions

#: Options of the root command that take a value (``ccm --hub URL run …``).
_ROOT_VALUE_OPTIONS = {"--hub", "--config", "--inventory"}
#: Options of ``ccm run`` that take a value (``--hosts --procs`` is a pattern, not procs).
_RUN_VALUE_OPTIONS = {"--hosts", "-H", "--forks", "-f", "--timeout", "-t"}
_HELP = {"--help", "-h"}
_LENGTH = struct.Struct("!Q")

_helper: Helper | None = None


def wanted(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (without the program name) runs ``ccm run`` on a machine where a
    helper can work beside the command process."""
    if not hasattr(os, "fork") or os.environ.get("CCM_BROADCAST_HELPER", "1") == "0":
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2:
        return False
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in _HELP:
            return False
        elif arg.startswith("-"):
            skip = arg in _ROOT_VALUE_OPTIONS
        else:
            return arg == "run" and _may_use_helper(argv[i + 1:])
    return False


def _may_use_helper(args: Sequence[str]) -> bool:
    """Whether ``ccm run``'s own arguments leave the broadcast to the helper: not for
    ``--help`` (``-h``), nor for ``--procs 1`` / ``--procs=1`` (the last ``--procs`` wins, as
    click reads it), nor for a ``--procs`` that is a usage error."""
    procs: str | None = None
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
        elif arg == "--":  # what follows is positional, even if it looks like an option
            break
        elif arg in _HELP:
            return False
        elif arg == "--procs":
            if i + 1 == len(args):
                return False  # a usage error: nothing will run
            procs, skip = args[i + 1], True
        elif arg.startswith("--procs="):
            procs = arg.removeprefix("--procs=")
        else:
            skip = arg in _RUN_VALUE_OPTIONS
    try:
        return procs is None or int(procs) != 1
    except ValueError:
        return False


def start(argv: Sequence[str]) -> None:
    """Fork the helper if ``argv`` is a ``ccm run`` that can use one; call it before the
    command line's modules are imported."""
    global _helper
    if _helper is not None or not wanted(argv):
        return
    job_r, job_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(job_w)
        os.close(res_r)
        _helper_main(job_r, res_w)
    os.close(job_r)
    os.close(res_w)
    _helper = Helper(pid, job_w, res_r)


def take() -> Helper | None:
    """The helper forked at start, for the caller to use or dismiss (once)."""
    global _helper
    helper, _helper = _helper, None
    return helper


class Helper:
    """The command process's side of the helper: hand it a job, or dismiss it."""

    def __init__(self, pid: int, job_fd: int, result_fd: int) -> None:
        self.pid = pid
        self._job_fd = job_fd
        self._result_fd = result_fd

    def assign(self, inventory: Inventory, hosts: Sequence[FleetHost], command: str, *,
               forks: int, timeout: float | None, options: PoolOptions,
               processes: int) -> Workers:
        """Give the helper the whole broadcast; the workers whose results to collect."""
        from ccm_tui.fleet.broadcast_workers import Workers

        job = pickle.dumps((inventory, list(hosts), command, forks, timeout, options,
                            processes))
        try:
            _write_all(self._job_fd, _LENGTH.pack(len(job)) + job)
        finally:
            os.close(self._job_fd)
        pipe = os.fdopen(self._result_fd, "rb", buffering=0)
        return Workers.reading(self.pid, hosts, pipe)

    def dismiss(self) -> None:
        """No job: the helper leaves when it sees the pipe closed (not waited for)."""
        for fd in (self._job_fd, self._result_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return b""
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _helper_main(job_fd: int, result_fd: int) -> None:
    """The helper process: import, wait for the job, run it; never returns."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C before its job: it leaves
        import gc

        import ccm_tui.fleet.broadcast_workers as bw
        import ccm_tui.fleet.ssh  # noqa: F401  (the point: load it while the CLI parses)
        from ccm_tui.fleet.broadcast_interrupt import note_early_ctrl_c

        header = _read_exact(job_fd, _LENGTH.size)
        if not header:
            os._exit(0)  # dismissed
        note_early_ctrl_c()  # from here Ctrl-C stops the broadcast, which reports every host
        job = pickle.loads(_read_exact(job_fd, _LENGTH.unpack(header)[0]))
        os.close(job_fd)
        gc.freeze()
        gc.enable()
        with open(result_fd, "wb", buffering=0) as out:
            code = _run_job(bw, job, out)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _run_job(bw: Any, job: tuple[Any, ...], out: Any) -> int:
    import asyncio

    inventory, hosts, command, forks, timeout, options, processes = job
    workers = None
    try:
        workers = bw.start_workers(inventory, hosts, command, forks=forks, timeout=timeout,
                                   options=options, processes=processes)

        def stop(signum: int, _frame: object) -> None:  # the command gave up (a 2nd Ctrl-C)
            if workers is not None:
                workers.stop()  # reaped here: an orphaned worker would be nobody's
            os._exit(128 + signum)

        signal.signal(signal.SIGTERM, stop)
        asyncio.run(bw.run_share(inventory, hosts, command, forks, timeout, options, out,
                                 workers))
        return 0
    except Exception as exc:  # the command reports it (or raises a CCMError again)
        out.write(bw.fatal_line(exc))
        return 1
    finally:
        if workers is not None:
            workers.stop()


__all__ = ["Helper", "start", "take", "wanted"]
