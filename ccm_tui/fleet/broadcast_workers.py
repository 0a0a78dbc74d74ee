"""A large broadcast spread over worker processes, one per CPU.

A cold ``ccm run`` on hundreds of hosts spends most of its CPU in SSH handshakes,
and asyncssh does their bookkeeping in Python: one process, one core, however many
the machine has. Here the hosts are dealt out (round robin, so each share has some
of every group) to :func:`start_workers`'s forked processes and the caller keeps one
share itself. Each process opens its own pool and runs its share with its part of
``--forks``; a worker streams each result back as a JSON line on a pipe as soon as
it has it, so progress stays live, and :func:`spread_broadcast` merges everything
into one :class:`BroadcastReport` in the hosts' order — the same report a single
process makes.

Workers are forked before the caller starts an event loop or a thread (they begin
with what the caller has already loaded: settings, inventory, modules), never open
the hub, never print, and leave with ``os._exit``. A worker that dies leaves its
hosts' results as ``lost``, saying so. Ctrl-C stops every worker, each reporting the
hosts it had not finished (see :mod:`.broadcast_interrupt`). A
:class:`~ccm_tui.core.errors.CCMError` a worker meets before any host ran (an
inventory's algorithm list this SSH library refuses, say) is raised again in the
caller, so the user reads the error one process would have given. This module does
not import asyncssh: :mod:`.broadcast_helper` hands a whole broadcast to a process
that imported it while the command line was being parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any

from ccm_tui.core.errors import CCMError
from ccm_tui.fleet.broadcast_interrupt import ctrl_c_stops, note_early_ctrl_c, run_hosts
from ccm_tui.fleet.broadcast_report import BroadcastReport, group_results
from ccm_tui.fleet.inventory import FleetHost, Inventory
from ccm_tui.fleet.ssh_types import UNFINISHED_KINDS, PoolOptions, RunResult

if TYPE_CHECKING:  # the SSH stack is imported where a share runs, not by the caller
    from ccm_tui.fleet.ssh import SSHPool

#: Fewest hosts worth a process of their own: below this a fork, a second pool and a
#: second set of keys cost more than the handshakes they take off the first core.
MIN_HOSTS_PER_WORKER = 32

#: Largest line a worker may send (one host's result, its output already capped).
_LINE_LIMIT = 64 * 1024 * 1024


def process_count(hosts: int, forks: int, wanted: int | None = None) -> int:
    """How many processes (the caller included) a broadcast of ``hosts`` should use.

    ``wanted`` is the user's choice (``--procs``); ``None`` means one per CPU this
    process may run on. Never more than ``forks`` (each needs a share of them) nor
    than leaves every process :data:`MIN_HOSTS_PER_WORKER` hosts, unless asked for.
    """
    if not hasattr(os, "fork"):
        return 1
    if wanted is not None:
        return max(1, min(wanted, forks, hosts))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, forks, hosts // MIN_HOSTS_PER_WORKER))


def deal(hosts: Sequence[FleetHost], parts: int) -> list[list[FleetHost]]:
    """``hosts`` dealt round robin into ``parts`` shares (the first is the caller's)."""
    return [list(hosts[i::parts]) for i in range(parts)]


def split_forks(forks: int, parts: int) -> list[int]:
    """``forks`` shared out so that the shares add up to it (each at least 1)."""
    return [max(1, forks // parts + (1 if i < forks % parts else 0)) for i in range(parts)]


@dataclass
class _Worker:
    pid: int
    hosts: list[FleetHost]
    pipe: IO[bytes]
    seen: set[str] = field(default_factory=set)
    fatal: str = ""
    error: CCMError | None = None  # what the worker met before any host ran
    reaped: bool = False


class Workers:
    """The forked processes of one broadcast, and the share the caller keeps."""

    def __init__(self, own: list[FleetHost], own_forks: int, workers: list[_Worker]) -> None:
        self.own = own
        self.own_forks = own_forks
        self._workers = workers
        self._interrupted = False

    @classmethod
    def reading(cls, pid: int, hosts: Sequence[FleetHost], pipe: IO[bytes]) -> Workers:
        """One process ``pid`` that runs every one of ``hosts`` and reports on ``pipe``."""
        return cls([], 0, [_Worker(pid, list(hosts), pipe)])

    def __len__(self) -> int:
        return len(self._workers)

    @property
    def pids(self) -> list[int]:
        """The workers' process ids, in the order of their shares."""
        return [w.pid for w in self._workers]

    async def results(self, take: Callable[[RunResult], None]) -> None:
        """Hand every worker's results to ``take`` as they arrive; then reap the workers.

        A host a worker never reported (it crashed, or was killed) gets a ``lost``
        result that says what happened to the worker.
        """
        await asyncio.gather(*(self._read(w, take) for w in self._workers))

    async def _read(self, w: _Worker, take: Callable[[RunResult], None]) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_LINE_LIMIT)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), w.pipe)
        try:
            while line := await reader.readline():
                try:
                    doc = json.loads(line)
                except ValueError:  # cut short: the worker died writing it
                    break
                if "fatal" in doc:
                    w.fatal = str(doc["fatal"])
                    if doc.get("ccm_error"):
                        w.error = CCMError(str(doc["ccm_error"]), hint=doc.get("hint") or None)
                    continue
                r = RunResult(**doc)
                w.seen.add(r.host)
                take(r)
                if self._interrupted and len(w.seen) == len(w.hosts):
                    # Ctrl-C, and it reported every host: no waiting for its connections
                    # to close (up to 5 s for a host that no longer answers)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(w.pid, signal.SIGTERM)
                    break
        finally:
            transport.close()
        status = await loop.run_in_executor(None, _reap, w.pid)
        w.reaped = True
        if w.error is not None and not w.seen:
            raise w.error
        why = w.fatal or _death(status)
        for h in w.hosts:
            if h.name not in w.seen:
                take(RunResult(h.name, None, error=f"the worker process running it {why}",
                               error_kind="lost"))

    def interrupt(self) -> None:
        """Ctrl-C: the workers still running stop their shares and report what they have."""
        self._interrupted = True
        for w in self._workers:
            if not w.reaped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGINT)

    def stop(self) -> None:
        """Kill the workers still running (Ctrl-C, or the caller failed) and reap them."""
        running = [w for w in self._workers if not w.reaped]
        for w in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, signal.SIGTERM)
        for w in running:
            _reap(w.pid)
            w.reaped = True
            w.pipe.close()


def _reap(pid: int) -> int:
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


def _death(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return f"exited ({code}) before it finished"


def start_workers(inventory: Inventory, hosts: Sequence[FleetHost], command: str, *,
                  forks: int, timeout: float | None, options: PoolOptions,
                  processes: int) -> Workers | None:
    """Fork ``processes - 1`` workers, each running its share of ``hosts``.

    Call it before any event loop or thread exists in this process. ``None`` when
    one process is enough. Workers flush nothing of the caller's and exit with
    ``os._exit``; stop them with :meth:`Workers.stop` if the caller gives up.
    """
    if processes < 2:
        return None
    shares = deal(hosts, processes)
    share_forks = split_forks(forks, processes)
    sys.stdout.flush()
    sys.stderr.flush()
    workers: list[_Worker] = []
    try:
        for share, n in zip(shares[1:], share_forks[1:], strict=True):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(read_fd)
                _worker_main(inventory, share, command, n, timeout, options, write_fd)
            os.close(write_fd)
            workers.append(_Worker(pid, share, os.fdopen(read_fd, "rb", buffering=0)))
    except BaseException:
        Workers([], 0, workers).stop()
        raise
    return Workers(shares[0], share_forks[0], workers)


def _worker_main(inventory: Inventory, hosts: list[FleetHost], command: str, forks: int,
                 timeout: float | None, options: PoolOptions, fd: int) -> None:
    """The worker process: run its share, one JSON line per result; never returns."""
    code = 0
    try:
        note_early_ctrl_c()  # Ctrl-C stops its share (run_share); SIGTERM ends it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with open(fd, "wb", buffering=0) as out:
            try:
                asyncio.run(run_share(inventory, hosts, command, forks, timeout, options, out))
            except Exception as exc:  # told to the caller, who reports the share as lost
                code = 1
                out.write(fatal_line(exc))
    except BaseException:
        code = 1
    finally:
        os._exit(code)


async def run_share(inventory: Inventory, hosts: list[FleetHost], command: str, forks: int,
                    timeout: float | None, options: PoolOptions, out: IO[bytes],
                    workers: Workers | None = None) -> None:
    """Run ``hosts`` (with ``workers`` taking their shares) and write one JSON line per
    result to ``out``, as each finishes: what a worker sends its caller. Ctrl-C stops
    the share, which still reports every host (see :mod:`.broadcast_interrupt`)."""
    from ccm_tui.fleet.ssh import SSHPool

    def send(r: RunResult) -> None:
        out.write(result_line(r))

    stop = ctrl_c_stops()
    async with SSHPool(inventory, options=options) as pool:
        await spread_broadcast(pool, hosts, command, workers=workers, forks=forks,
                               timeout=timeout, on_result=send, stop=stop)


def result_line(r: RunResult) -> bytes:
    """One result as a worker sends it."""
    return _line(asdict(r))


def fatal_line(exc: BaseException) -> bytes:
    """Why a worker stopped; a :class:`CCMError` keeps its message and hint."""
    doc: dict[str, Any] = {"fatal": f"failed: {type(exc).__name__}: {exc}"}
    if isinstance(exc, CCMError):
        doc.update(ccm_error=str(exc), hint=exc.hint)
    return _line(doc)


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


async def spread_broadcast(
    pool: SSHPool | None, hosts: Sequence[FleetHost], command: str, *, workers: Workers | None,
    forks: int = 50, timeout: float | None = 30.0, pattern: str = "",
    on_result: Callable[[RunResult], None] | None = None, stop: asyncio.Event | None = None,
) -> BroadcastReport:
    """:func:`~ccm_tui.fleet.broadcast.broadcast`, with ``workers`` taking their shares.

    Without workers this is a plain broadcast on ``pool``; with them, ``pool`` runs
    the caller's share while the workers' results arrive (no pool is needed when the
    workers have every host). ``on_result`` sees every host's result as it finishes;
    the report keeps the order of ``hosts``. Setting ``stop`` (Ctrl-C) stops the
    caller's share and the workers', each still reporting its unfinished hosts; the
    report is then ``interrupted``.
    """
    started, t0 = time.time(), time.monotonic()
    got: dict[str, RunResult] = {}

    def take(r: RunResult) -> None:
        got[r.host] = r
        if on_result is not None:
            on_result(r)

    own, own_forks = (list(hosts), forks) if workers is None else (workers.own, workers.own_forks)
    others = None if workers is None else asyncio.ensure_future(workers.results(take))
    cut_short: list[bool] = []  # whether Ctrl-C came before every host was done
    relay = None if stop is None else \
        asyncio.ensure_future(_on_stop(stop, workers, lambda: len(got) < len(hosts), cut_short))
    try:
        if own:
            assert pool is not None, "the caller's own share needs a pool"
            await run_hosts(pool, own, command, forks=own_forks, timeout=timeout, take=take,
                            stop=stop)
        if others is not None:
            await others
    finally:
        if relay is not None:
            relay.cancel()
        if others is not None and not others.done():
            others.cancel()
            with contextlib.suppress(BaseException):
                await others
        if workers is not None:
            workers.stop()  # those not reaped yet: only when the caller gives up early
    results = tuple(got[h.name] for h in hosts if h.name in got)
    interrupted = any(cut_short) or any(r.error_kind in UNFINISHED_KINDS for r in results)
    return BroadcastReport(command, pattern, results, group_results(results),
                           time.monotonic() - t0, started, interrupted=interrupted)


async def _on_stop(stop: asyncio.Event, workers: Workers | None, unfinished: Callable[[], bool],
                   cut_short: list[bool]) -> None:
    """Once ``stop`` is set: note whether hosts were still unfinished; stop the workers."""
    await stop.wait()
    cut_short.append(unfinished())
    if workers is not None:
        workers.interrupt()


__all__ = ["MIN_HOSTS_PER_WORKER", "Workers", "deal", "fatal_line", "process_count",
           "result_line", "run_share", "split_forks", "spread_broadcast", "start_workers"]
