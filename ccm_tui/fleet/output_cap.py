"""A command's output, read as it arrives and kept up to a limit per host.

``ccm run 'journalctl' --hosts all`` on a hundred hosts must not hold gigabytes in
the operator's memory. Each stream (stdout, stderr) keeps its first ``limit``
characters; the rest is still read, so the remote command never blocks on a full
channel, but only counted. What was left out is said at the end of what was kept.
:class:`CappedOutput` serves a plain exec; :func:`read_framed` a warm shell, whose
output ends at a marker rather than at the end of the stream.
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol

#: Characters kept per stream per host unless the pool is told otherwise (1 MiB of ASCII).
DEFAULT_LIMIT = 1 << 20

#: How much is asked of the channel at a time.
CHUNK = 1 << 16


class _Readable(Protocol):
    async def read(self, n: int = -1) -> str: ...


class _ReadableBytes(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


def with_note(kept: str, dropped: int, limit: int, unit: str = "characters") -> str:
    """``kept``, then a line saying how much was not kept (nothing when all was)."""
    if not dropped:
        return kept
    gap = "" if not kept or kept.endswith("\n") else "\n"
    return (f"{kept}{gap}… {dropped} more {unit} not kept (CCM keeps the first {limit} of "
            "each host's output)\n")


class CappedOutput:
    """The first ``limit`` characters of a stream, and how many more there were."""

    __slots__ = ("_parts", "dropped", "kept", "limit")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.kept = 0
        self.dropped = 0
        self._parts: list[str] = []

    def add(self, chunk: str) -> None:
        """Keep what fits of ``chunk``; count the rest."""
        room = self.limit - self.kept
        if room >= len(chunk):
            self._parts.append(chunk)
            self.kept += len(chunk)
            return
        if room > 0:
            self._parts.append(chunk[:room])
            self.kept += room
        self.dropped += len(chunk) - max(room, 0)

    async def drain(self, stream: _Readable) -> None:
        """Read ``stream`` to its end."""
        while chunk := await stream.read(CHUNK):
            self.add(chunk)

    def text(self) -> str:
        """What was kept, with a last line saying what was not (if anything)."""
        return with_note("".join(self._parts), self.dropped, self.limit)


async def read_framed(stream: _ReadableBytes, end: re.Pattern[bytes], longest: int, limit: int,
                      pending: bytes = b"") -> tuple[bytes, int, re.Match[bytes], bytes]:
    """Read up to the first match of ``end`` (never longer than ``longest`` bytes).

    Returns what came before it (its first ``limit`` bytes), how many bytes more there
    were, the match, and what was read past it (for the next call's ``pending``).
    Raises :class:`asyncio.IncompleteReadError` if the stream ends first.
    """
    kept = bytearray()
    dropped = 0
    window = pending

    def keep(data: bytes) -> None:
        nonlocal dropped
        room = limit - len(kept)
        kept.extend(data[:max(room, 0)])
        dropped += max(len(data) - max(room, 0), 0)

    while True:
        found = end.search(window)
        if found:
            keep(window[:found.start()])
            return bytes(kept), dropped, found, window[found.end():]
        if len(window) > longest:  # all but the tail is output: a match fits in the tail
            keep(window[:-longest])
            window = window[-longest:]
        chunk = await stream.read(CHUNK)
        if not chunk:
            raise asyncio.IncompleteReadError(bytes(kept) + window, None)
        window += chunk


__all__ = ["CHUNK", "DEFAULT_LIMIT", "CappedOutput", "read_framed", "with_note"]
