"""Counted nouns for messages: ``1 host``, ``2 hosts`` (never ``1 hosts``)."""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and ``word``, in the plural (``words``, else ``word + "s"``) unless ``n`` is 1."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


__all__ = ["plural"]
