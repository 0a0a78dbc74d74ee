"""The SSH connection pool: one asyncssh connection per host, reused by everyone.

::

    async with SSHPool(inventory) as pool:
        r = await pool.run("web-01", ["df", "-P", "/var"], timeout=10)
        if r.ok: print(r.stdout)
        async with pool.connection("web-01") as conn:          # long-lived work, SFTP
            async with conn.start_sftp_client() as sftp: ...

What it guarantees:

* **One connection per host**, opened on first use and shared by every caller
  (concurrent callers wait for the same handshake). Channels on it are limited by a
  per-host semaphore (``PoolOptions.per_host``, below OpenSSH's ``MaxSessions``) and
  all work by a global cap (``PoolOptions.max_inflight``).
* **Keepalive** (``keepalive_interval`` × ``keepalive_count_max``) notices dead
  peers; a dropped connection is replaced on next use. A command whose channel
  could not even open on a stale connection is retried once on a fresh one; a
  command that started is never re-run.
* **Reconnect with exponential backoff**: failed connection attempts of a host are
  spaced ``backoff_initial`` × 2ⁿ (at most ``backoff_max``); ``connect_retries``
  more attempts are made per call. Host key and login failures are not retried.
* **Host keys are always checked** against the :class:`~.known_hosts.TrustStore`
  (``~/.ssh/known_hosts`` + CCM's own file). An unknown or changed key raises
  :class:`~ccm_tui.core.errors.HostKeyError` naming the remedy, ``ccm fleet trust
  HOST``. There is no switch to turn checking off.
* **Keys** come from the inventory's identity files (loaded once), else the
  ssh-agent (``SSH_AUTH_SOCK``) and the default ``~/.ssh/id_*``.
* **Jump hosts** (a chain, as ``ProxyJump a,b``: see :mod:`.jump`) are pooled like any
  host, their keys checked alike; an error on the way names the hop that failed.

Commands given as an argv list are quoted with :func:`shlex.join`; a string is sent
to the remote shell as is — pass strings only when a human typed them (``ccm run``).
"""

from __future__ import annotations

import asyncio
import copy
import shlex
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from ccm_tui.core import errors
from ccm_tui.core.errors import HostKeyError, LoginRefused, NoCommonAlgorithm, SSHError
from ccm_tui.fleet.algorithms import AlgorithmChoice
from ccm_tui.fleet.inventory import FleetHost, Inventory
from ccm_tui.fleet.jump import as_reached, hop_count, parse_jump_spec, pool_key, tunnel_to
from ccm_tui.fleet.key_sources import ClientKeys, login_refused
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.local_user import local_user
from ccm_tui.fleet.output_cap import CappedOutput
from ccm_tui.fleet.ssh_types import PoolOptions, RunResult
from ccm_tui.fleet.stopping import stop, timed_out
from ccm_tui.fleet.warm_shell import ShellGone, ShellSlot
from ccm_tui.open_files import exhausted, exhausted_hint


@dataclass
class _Entry:
    host: FleetHost
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sem: asyncio.Semaphore | None = None
    conn: asyncssh.SSHClientConnection | None = None
    failures: int = 0
    retry_at: float = 0.0
    connects: int = 0
    shell: ShellSlot = field(default_factory=ShellSlot)
    tries: int = 0  # connect calls finished, and how the last one failed
    failed: errors.FleetError | None = None


_TRANSIENT = (OSError, asyncio.TimeoutError, asyncssh.Error, EOFError)


class SSHPool:
    """A pool of SSH connections to the hosts of an inventory.

    ``hosts`` (an :class:`Inventory` or any iterable of :class:`FleetHost`) are the
    hosts callers may name by string; a :class:`FleetHost` outside it can be passed
    directly. Use as an async context manager or call :meth:`close` when done.
    """

    def __init__(
        self,
        hosts: Inventory | Iterable[FleetHost] = (),
        *,
        options: PoolOptions | None = None,
        trust: TrustStore | None = None,
    ) -> None:
        self.options = options or PoolOptions()
        self._algorithms = AlgorithmChoice(self.options)
        self.trust = trust or TrustStore()
        self._inventory: dict[str, FleetHost] = {h.name: h for h in hosts}
        # jump hosts known by name: the inventory's, then ~/.ssh/config's Host aliases
        self._hops = {**getattr(hosts, "hops", {}), **self._inventory}
        for h in self._inventory.values():
            self._algorithms.for_host(h)  # an inventory's bad algorithm list: said now
        self._entries: dict[str, _Entry] = {}
        self._global = asyncio.Semaphore(self.options.max_inflight)
        self._keys = ClientKeys()
        self._closed = False

    # -- public API -----------------------------------------------------------------
    async def run(
        self,
        host: str | FleetHost,
        command: str | Sequence[str],
        *,
        timeout: float | None = None,
        stdin: str | None = None,
        reuse_shell: bool = False,
    ) -> RunResult:
        """Run ``command`` on ``host`` and collect its output; never raises for host trouble.

        ``timeout`` covers connecting and running. Failures come back in the
        result's ``error`` / ``error_kind`` instead of as exceptions. With
        ``reuse_shell`` a host whose connection is already open runs the command in
        its :class:`~.warm_shell.WarmShell` (for broadcasts: read its differences).
        """
        h = self.resolve(host)
        cmd = command if isinstance(command, str) else shlex.join(command)
        start = time.monotonic()
        deadline = start + timeout if timeout is not None else None
        try:
            entry = self._entry(h)
            async with self._global, entry.sem:  # type: ignore[union-attr]
                if reuse_shell and stdin is None:
                    warm = await self._run_warm(h, entry, cmd, deadline, start)
                    if warm is not None:
                        return warm
                return await self._run_once(h, cmd, stdin, deadline, start)
        except HostKeyError as exc:
            return self._failed(h, start, f"{exc} — {exc.hint}", "hostkey")
        except LoginRefused as exc:
            return self._failed(h, start, f"{exc} — {exc.hint}", "auth")
        except NoCommonAlgorithm as exc:
            return self._failed(h, start, f"{exc} — {exc.hint}", "algorithms")
        except SSHError as exc:
            return self._failed(h, start, str(exc), "unreachable")
        except TimeoutError:
            return self._failed(h, start, f"timed out after {timeout:.1f}s while connecting",
                                "timeout")

    @asynccontextmanager
    async def connection(self, host: str | FleetHost) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """The pooled connection to ``host``, for SFTP or long-lived processes.

        Raises :class:`HostKeyError` or :class:`SSHError`. Do not close the
        connection yourself; it belongs to the pool.
        """
        h = self.resolve(host)
        yield await self._ensure(self._entry(h))

    async def fetch_host_key(self, host: str | FleetHost) -> asyncssh.SSHKey:
        """The key ``host`` presents, fetched WITHOUT checking it (for ``ccm fleet trust``).

        No login happens. Jump hosts, if any, are reached through the pool (and
        their own keys checked); a host that is a later hop of some host's chain is
        reached through the hops before it. Raises :class:`SSHError` when unreachable.
        """
        h = as_reached(self.resolve(host), self._hops)
        tunnel = await self._tunnel(h)
        try:
            key = await asyncio.wait_for(asyncssh.get_server_host_key(
                h.target, h.port, tunnel=tunnel or (), config=None,
            ), self.options.connect_timeout)
        except (*_TRANSIENT, TimeoutError) as exc:
            raise SSHError(f"{h.name} ({h.target}:{h.port}) unreachable: {_describe(exc)}") \
                from None
        if key is None:
            raise SSHError(f"{h.name} presented no host key")
        return key

    async def close(self) -> None:
        """Close every connection (targets before their jump hosts)."""
        self._closed = True
        entries = list(self._entries.values())
        depth = {id(e): hop_count(e.host, self._hops) for e in entries}
        for level in sorted(set(depth.values()), reverse=True):
            group = [e for e in entries if depth[id(e)] == level]
            conns = [e.conn for e in group if e.conn is not None]
            for c in conns:
                c.close()
            if conns:
                await asyncio.wait([asyncio.ensure_future(c.wait_closed()) for c in conns],
                                   timeout=5)
        for e in entries:
            e.conn = None

    async def __aenter__(self) -> SSHPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def resolve(self, host: str | FleetHost) -> FleetHost:
        """The :class:`FleetHost` for a name (:class:`SSHError` if the pool does not know it)."""
        if isinstance(host, FleetHost):
            return host
        try:
            return self._inventory[host]
        except KeyError:
            raise SSHError(f"{host!r} is not in the inventory",
                           hint="list the hosts with `ccm fleet list`") from None

    def connects(self, host: str | FleetHost | None = None) -> int:
        """How many connections were opened (to one host, or in total): for tests and stats."""
        if host is None:
            return sum(e.connects for e in self._entries.values())
        e = self._entries.get(self._key(host))
        return e.connects if e else 0

    def is_connected(self, host: str | FleetHost) -> bool:
        """Whether an open connection to ``host`` is pooled now."""
        e = self._entries.get(self._key(host))
        return bool(e and e.conn is not None and not e.conn.is_closed())

    # -- internals ------------------------------------------------------------------
    def _key(self, host: str | FleetHost) -> str:
        return host if isinstance(host, str) else pool_key(host, self._hops)

    def _entry(self, h: FleetHost) -> _Entry:
        key = self._key(h)
        e = self._entries.get(key)
        if e is None or e.host != h:
            e = self._entries[key] = _Entry(h, sem=asyncio.Semaphore(self.options.per_host))
        return e

    async def _tunnel(self, h: FleetHost) -> asyncssh.SSHClientConnection | None:
        return await tunnel_to(h, self._hops, lambda hop: self._ensure(self._entry(hop)),
                               self._inventory)

    @staticmethod
    def _failed(h: FleetHost, start: float, error: str, kind: str) -> RunResult:
        return RunResult(h.name, None, duration=time.monotonic() - start, error=error,
                         error_kind=kind)

    async def _run_once(self, h: FleetHost, cmd: str, stdin: str | None,
                        deadline: float | None, start: float) -> RunResult:
        entry = self._entry(h)
        for attempt in (1, 2):
            async with asyncio.timeout_at(_loop_deadline(deadline)):
                conn = await self._ensure(entry)
            try:
                proc = await conn.create_process(
                    cmd, encoding="utf-8", errors="replace",
                    stdin=asyncssh.DEVNULL if stdin is None else asyncssh.PIPE,
                    **({"input": stdin} if stdin is not None else {}),
                )
            except (asyncssh.ChannelOpenError, asyncssh.ConnectionLost, OSError,
                    asyncssh.DisconnectError) as exc:
                self._drop(entry, conn)
                if attempt == 2:
                    return self._failed(h, start, f"{h.name}: connection lost: {exc}",
                                        "unreachable")
                continue
            return await self._wait(h, proc, deadline, start)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run_warm(self, h: FleetHost, entry: _Entry, cmd: str, deadline: float | None,
                        start: float) -> RunResult | None:
        """``cmd`` in the host's warm shell; ``None`` when the usual exec should run it."""
        if entry.conn is None or entry.conn.is_closed():
            return None  # not connected yet: one exec is cheaper than a shell
        call = entry.shell.call(cmd)
        try:
            async with asyncio.timeout_at(_loop_deadline(deadline)):
                done = await call.run(entry.conn, self.options.login_timeout,
                                      self.options.max_output)
        except TimeoutError:
            return self._failed(h, start, await call.timed_out(time.monotonic() - start),
                                "timeout")
        except ShellGone as exc:
            return self._failed(h, start, f"{h.name}: the session ended without an exit "
                                f"status ({exc})", "lost")
        if done is None:
            return None
        return RunResult(h.name, done.exit_status, *done.texts(self.options.max_output),
                         time.monotonic() - start)

    async def _wait(self, h: FleetHost, proc: asyncssh.SSHClientProcess[str],
                    deadline: float | None, start: float) -> RunResult:
        out, err = CappedOutput(self.options.max_output), CappedOutput(self.options.max_output)
        # Not `async with proc`: its exit waits for the server to close the channel,
        # which an OpenSSH root login does only when a command it would not kill ends
        try:
            try:
                async with asyncio.timeout_at(_loop_deadline(deadline)):
                    await asyncio.gather(out.drain(proc.stdout), err.drain(proc.stderr))
                    done = await proc.wait()
            except TimeoutError:
                elapsed = time.monotonic() - start
                stopped = await stop(proc)
                return RunResult(h.name, None, out.text(), err.text(), time.monotonic() - start,
                                 timed_out(elapsed, stopped), "timeout")
            except (asyncssh.ConnectionLost, asyncssh.DisconnectError, OSError) as exc:
                return self._failed(h, start, f"{h.name}: connection lost while running: {exc}",
                                    "unreachable")
        finally:
            proc.close()
        status = done.returncode if done.returncode is not None else done.exit_status
        if status is None:
            return RunResult(h.name, None, out.text(), err.text(), time.monotonic() - start,
                             f"{h.name}: the session ended without an exit status", "lost")
        return RunResult(h.name, status, out.text(), err.text(), time.monotonic() - start)

    def _drop(self, entry: _Entry, conn: asyncssh.SSHClientConnection) -> None:
        if entry.conn is conn:
            entry.conn = None
        conn.close()

    async def _ensure(self, entry: _Entry) -> asyncssh.SSHClientConnection:
        if self._closed:
            raise SSHError("the SSH pool is closed")
        conn = entry.conn
        if conn is not None and not conn.is_closed():
            return conn
        tries = entry.tries
        async with entry.lock:
            if entry.conn is not None and not entry.conn.is_closed():
                return entry.conn
            if entry.tries != tries and entry.failed is not None:  # the handshake waited
                raise copy.copy(entry.failed)  # for failed: a dead bastion is tried once
            entry.conn, entry.failed = None, None
            try:
                entry.conn = await self._connect(entry)
            except (SSHError, HostKeyError) as exc:
                entry.failed = exc
                raise
            finally:
                entry.tries += 1
            return entry.conn

    async def _connect(self, entry: _Entry) -> asyncssh.SSHClientConnection:
        h, opts = entry.host, self.options
        tunnel = await self._tunnel(h)
        last: BaseException | None = None
        for _ in range(opts.connect_retries + 1):
            delay = entry.retry_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                conn = await asyncssh.connect(**self._connect_args(h, tunnel))
            except asyncssh.KeyExchangeFailed as exc:  # no retry: the next try fails alike
                raise NoCommonAlgorithm(f"{h.name} ({h.target}:{h.port}) has no SSH "
                                        f"algorithm in common with CCM ({_describe(exc)})"
                                        ) from None
            except asyncssh.HostKeyNotVerifiable:
                raise self.trust.refusal(h) from None
            except asyncssh.PermissionDenied:
                raise login_refused(h.name, h.user or local_user(h.name), h.identity_files,
                                    opts.agent_path) from None
            except _TRANSIENT as exc:
                if exhausted(exc):  # this machine's limit, not the host: no retry
                    raise SSHError(f"{h.name} ({h.target}:{h.port}) not reached: "
                                   f"{exhausted_hint()}") from None
                last = exc
                entry.failures += 1
                backoff = min(opts.backoff_max, opts.backoff_initial * 2 ** (entry.failures - 1))
                entry.retry_at = time.monotonic() + backoff
                continue
            entry.failures, entry.retry_at = 0, 0.0
            entry.connects += 1
            return conn
        via = f" via {h.jump}" if h.jump else ""
        raise SSHError(f"{h.name} ({h.target}:{h.port}{via}) unreachable: "
                       f"{_describe(last)}")

    def _connect_args(self, h: FleetHost, tunnel: asyncssh.SSHClientConnection | None,
                      ) -> dict[str, Any]:
        o = self.options
        args: dict[str, Any] = {
            "host": h.target, "port": h.port, "known_hosts": self.trust.known_hosts(),
            "config": None, "keepalive_interval": o.keepalive_interval,
            "keepalive_count_max": o.keepalive_count_max, "connect_timeout": o.connect_timeout,
            "login_timeout": o.login_timeout, "agent_path": o.agent_path,
            "compression_algs": None,
        }
        kex, args["encryption_algs"] = self._algorithms.for_host(h)
        if kex is not None:
            args["kex_algs"] = kex
        local = local_user(h.name)  # asyncssh needs it even when the inventory names one
        args["username"] = h.user or local
        if keys := self._keys.for_host(h.identity_files):
            args["client_keys"] = keys  # else asyncssh reads ~/.ssh again per connection
        if tunnel is not None:
            args["tunnel"] = tunnel
        return args


def _loop_deadline(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return asyncio.get_running_loop().time() + (deadline - time.monotonic())


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no attempt made"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, asyncio.TimeoutError):
        return "connection timed out"
    if isinstance(exc, asyncssh.ChannelOpenError):  # the jump host's answer, in its words
        reason = " ".join(str(exc.reason).split())
        return f"the jump host could not connect to it ({reason or 'no reason given'})"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


__all__ = ["PoolOptions", "RunResult", "SSHPool", "parse_jump_spec"]
