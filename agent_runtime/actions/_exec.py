"""Running subprocesses for actions: list argv, timeout, merged env, bounded output.

Output is captured as the first and last ``limit`` bytes of each stream (the
middle is dropped and marked), and streamed chunk by chunk to
``ctx.on_output`` when set. On timeout the whole process group is killed.
"""

from __future__ import annotations

import codecs
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from typing import IO, Any, Dict, List, Optional, Sequence

from agent_runtime.actions.base import ActionContext

__all__ = ["OUTPUT_LIMIT", "CommandResult", "merged_env", "run_command", "which"]

#: Bytes kept from the start, and again from the end, of each output stream.
OUTPUT_LIMIT = 32 * 1024


@dataclass
class CommandResult:
    """What a subprocess did."""

    argv: List[str]
    exit_code: Optional[int]  # None when it could not start or was killed on timeout
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        """Exit code 0."""
        return self.exit_code == 0

    def to_dict(self) -> Dict[str, Any]:
        """The fields reported in an action's data."""
        return {
            "argv": list(self.argv), "exit_code": self.exit_code, "stdout": self.stdout,
            "stderr": self.stderr, "timed_out": self.timed_out, "truncated": self.truncated,
        }


def merged_env(ctx: ActionContext, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """``os.environ`` overlaid with ``ctx.env`` and then *extra*."""
    env = dict(os.environ)
    env.update(ctx.env or {})
    env.update(extra or {})
    return env


def which(name: str, ctx: ActionContext) -> Optional[str]:
    """Full path of *name* on the PATH the action's subprocesses will see."""
    return shutil.which(name, path=merged_env(ctx).get("PATH", os.defpath))


class _Capture:
    """Keeps the head and tail of a byte stream read in a thread."""

    def __init__(self, stream: IO[bytes], name: str, ctx: ActionContext, limit: int) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = False
        self._stream = stream
        self._name = name
        self._ctx = ctx
        self._limit = limit
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        while True:
            try:
                chunk = read(65536)
            except (OSError, ValueError):
                break
            if not chunk:
                break
            if self._ctx.on_output is not None:
                try:
                    text = self._decoder.decode(chunk)
                    if text:
                        self._ctx.on_output(self._name, text)
                except Exception:
                    pass
            room = self._limit - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail += chunk
                if len(self.tail) > self._limit:
                    self.dropped = True
                    del self.tail[: len(self.tail) - self._limit]

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return head + "\n[... output truncated ...]\n" + tail
        return head + tail


def run_command(
    argv: Sequence[str],
    ctx: ActionContext,
    *,
    timeout: Optional[float] = None,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[str] = None,
    limit: int = OUTPUT_LIMIT,
) -> CommandResult:
    """Run *argv* (never through a shell) and report exit code and bounded output.

    Never raises for an operational failure: a missing program or a timeout is
    reported in the result (``exit_code`` None, ``error`` set).
    """
    args = [str(a) for a in argv]
    wait = ctx.timeout if timeout is None else timeout
    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=merged_env(ctx, env), cwd=cwd, start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(args, None, "", "", error=f"cannot run {args[0]!r}: {exc.strerror or exc}")
    assert proc.stdout is not None and proc.stderr is not None
    out = _Capture(proc.stdout, "stdout", ctx, limit)
    err = _Capture(proc.stderr, "stderr", ctx, limit)
    timed_out = False
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.wait()
    out.thread.join(timeout=2.0)
    err.thread.join(timeout=2.0)
    proc.stdout.close()
    proc.stderr.close()
    return CommandResult(
        args, None if timed_out else proc.returncode, out.text(), err.text(),
        timed_out=timed_out, truncated=out.dropped or err.dropped,
        error=f"timed out after {wait:g}s" if timed_out else "",
    )
