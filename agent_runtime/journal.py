"""The per-task journal: every event, appended and fsync'd before it is printed.

One file per task (``<journal dir>/<task>.jsonl``), one event per line, in the wire
format of :mod:`agent_runtime.protocol`.  The journal is the agent's memory: a
reader that lost its connection replays it with ``tail --from SEQ`` and sees every
event exactly once, in order.

Crash safety: a line is only ever complete once its ``\\n`` is on disk.  Reopening
a journal whose last line is torn (the writer was killed mid-write) truncates the
torn tail and continues at the last complete event's ``seq + 1``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, Optional, Union

from agent_runtime.protocol import AgentEvent, ProtocolError, make_event, parse_event

PathLike = Union[str, "os.PathLike[str]"]

_SAFE_TASK = re.compile(r"[^A-Za-z0-9._-]")


def default_journal_dir() -> Path:
    """``$CCM_AGENT_HOME/journal``, else ``~/.local/state/ccm-agent/journal``."""
    home = os.environ.get("CCM_AGENT_HOME")
    if home:
        return Path(home) / "journal"
    return Path.home() / ".local" / "state" / "ccm-agent" / "journal"


def journal_path(task: str, journal_dir: Optional[PathLike] = None) -> Path:
    """The journal file of ``task`` (the id made safe for a file name)."""
    if not task:
        raise ValueError("empty task id")
    base = Path(journal_dir) if journal_dir is not None else default_journal_dir()
    return base / (_SAFE_TASK.sub("_", task) + ".jsonl")


def _scan(path: Path) -> "tuple[int, int]":
    """Return ``(good_size, last_seq)``: the byte length of the complete, valid
    prefix of the journal and the seq of its last event."""
    good = 0
    last_seq = 0
    with open(path, "rb") as fh:
        offset = 0
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # torn last line
            try:
                event = parse_event(raw.decode("utf-8"))
            except (ProtocolError, UnicodeDecodeError):
                break
            if event.seq != last_seq + 1:
                break
            offset += len(raw)
            good = offset
            last_seq = event.seq
    return good, last_seq


class Journal:
    """An append-only, fsync'd event journal for one task.

    ``Journal(path, task)`` opens (creating parents) and recovers the file; each
    :meth:`append` builds the next event, writes it with its newline, flushes and
    fsyncs before returning it, so the caller may print it afterwards.
    """

    def __init__(self, path: PathLike, task: str) -> None:
        self.path = Path(path)
        self.task = task
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o640)
        self._fh: IO[bytes] = os.fdopen(fd, "r+b", buffering=0)
        try:
            _lock(self._fh)
            good, last_seq = _scan(self.path)
            size = os.fstat(fd).st_size
            if size != good:
                self._fh.truncate(good)
                os.fsync(fd)
            self._fh.seek(good)
        except BaseException:
            self._fh.close()
            raise
        self.recovered_bytes = size - good
        self.last_seq = last_seq

    @property
    def next_seq(self) -> int:
        """The seq the next appended event gets."""
        return self.last_seq + 1

    def append(self, type_: str, data: Optional[Dict[str, Any]] = None) -> AgentEvent:
        """Append the next event (validated), fsync it, and return it."""
        event = make_event(type_, self.task, self.next_seq, data)
        line = (event.to_json() + "\n").encode("utf-8")
        self._fh.write(line)
        os.fsync(self._fh.fileno())
        self.last_seq = event.seq
        return event

    def close(self) -> None:
        """Close the file (releases the writer lock)."""
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(fh: IO[bytes]) -> None:
    """Take an exclusive advisory lock, so two agents never write one journal."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise RuntimeError("journal %s is in use by another agent" % (fh.name,)) from None


def read_events(path: PathLike, from_seq: int = 1) -> Iterator[AgentEvent]:
    """The complete events of a journal with ``seq >= from_seq`` (no follow)."""
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return
            event = parse_event(raw.decode("utf-8"))
            if event.seq >= from_seq:
                yield event


def tail(path: PathLike, from_seq: int = 1, follow: bool = True,
         write: Optional[Callable[[str], None]] = None, poll: float = 0.1,
         idle_timeout: Optional[float] = None) -> int:
    """Print the events from ``from_seq`` on, then (``follow``) wait for more.

    Reads only complete lines; a partial line is re-read once its newline lands.
    Following stops after a ``finished`` event has been written, after
    ``idle_timeout`` seconds without a new event, or (printing to stdout) once
    nobody reads stdout any more: the daemon that followed it over SSH went away,
    and an agent that writes nothing more would otherwise keep this process
    waiting on the host for good.  Returns the last seq written (``from_seq - 1``
    when none).
    """
    out = write or _stdout_write
    reader_gone = _reader_gone if write is None else _never
    path = Path(path)
    last = from_seq - 1
    offset = 0
    pending = b""
    rescans = 0
    idle_since = time.monotonic()
    while True:
        finished = False
        if path.exists():
            with open(path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size < offset:
                    offset, pending = 0, b""  # truncated (torn line recovered)
                fh.seek(offset)
                chunk = fh.read()
            offset += len(chunk)
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
            for raw in lines:
                if not raw:
                    continue
                try:
                    event = parse_event(raw.decode("utf-8"))
                except (ProtocolError, UnicodeDecodeError):
                    if rescans >= 3:
                        raise
                    # A torn line was truncated and rewritten under us: rescan
                    # from the start; the seq check drops what was printed.
                    rescans += 1
                    offset, pending = 0, b""
                    break
                rescans = 0
                if event.type == "finished":
                    finished = True
                if event.seq <= last or event.seq < from_seq:
                    continue
                out(event.to_json() + "\n")
                last = event.seq
                idle_since = time.monotonic()
        if not follow or finished:
            return last
        if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
            return last
        if reader_gone():
            return last
        time.sleep(poll)


def _never() -> bool:
    return False


def _reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reading end has been closed."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError):  # no poll(), or stdout is not a file
        return False
    return any(mask & (select.POLLERR | select.POLLHUP) for _fd, mask in events)


def _stdout_write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
