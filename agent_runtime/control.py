"""Waiting for a control message: ``approve``, ``reject``, ``escalate``, ``cancel``, ``hold``.

Messages arrive as JSON lines on the agent's standard input (the daemon's SSH
channel) or, after a reconnect, appended to a control file next to the journal
(``<task>.control``), so a re-attached daemon can still answer.  Lines that do not
parse, or name another task, are reported on stderr and skipped.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import IO, Optional

from agent_runtime.protocol import ControlMessage, ProtocolError, parse_control


class ControlChannel:
    """Reads control messages for one task from a stream and a control file."""

    def __init__(self, task: str, stream: Optional[IO[str]],
                 control_file: Optional[Path] = None) -> None:
        self.task = task
        self.control_file = control_file
        self._queue: "queue.Queue[Optional[str]]" = queue.Queue()
        self._offset = 0
        self._stream_open = stream is not None
        if control_file is not None and control_file.exists():
            self._offset = control_file.stat().st_size  # only messages from now on
        if stream is not None:
            reader = threading.Thread(target=self._pump, args=(stream,), daemon=True,
                                      name="ccm-control")
            reader.start()

    def _pump(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._queue.put(line)
        except (OSError, ValueError):
            pass
        self._queue.put(None)

    def _accept(self, line: str) -> Optional[ControlMessage]:
        if not line.strip():
            return None
        try:
            msg = parse_control(line)
        except ProtocolError as exc:
            sys.stderr.write("ccm-agent: ignored control line: %s\n" % exc)
            return None
        if msg.task != self.task:
            sys.stderr.write("ccm-agent: ignored control for task %r\n" % msg.task)
            return None
        return msg

    def _poll_file(self) -> Optional[ControlMessage]:
        path = self.control_file
        if path is None or not path.exists():
            return None
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size < self._offset:
                self._offset = 0
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n")
        if end < 0:
            return None
        self._offset += end + 1
        for raw in data[:end].split(b"\n"):
            msg = self._accept(raw.decode("utf-8", "replace"))
            if msg is not None:
                return msg
        return None

    def poll(self) -> Optional[ControlMessage]:
        """The next message already waiting, without blocking (``None`` if none)."""
        msg = self._poll_file()
        while msg is None:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return None
            if line is None:
                self._stream_open = False
                return None
            msg = self._accept(line)
        return msg

    def wait(self, timeout: Optional[float] = None, poll: float = 0.2) -> Optional[ControlMessage]:
        """Block until a valid message arrives; ``None`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            msg = self._poll_file()
            if msg is not None:
                return msg
            wait = poll
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                wait = min(wait, left)
            if not self._stream_open and self.control_file is None:
                return None  # nothing can ever answer
            try:
                line = self._queue.get(timeout=wait)
            except queue.Empty:
                continue
            if line is None:
                self._stream_open = False
                continue
            msg = self._accept(line)
            if msg is not None:
                return msg
