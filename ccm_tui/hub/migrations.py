"""The SQL migrations in ``supabase/migrations/`` (the Supabase CLI's convention).

Found next to the package in a source checkout, or under ``ccm_tui/_data/migrations``
in an installed wheel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class MigrationFile:
    """One migration: ``<YYYYMMDDHHMMSS>_<name>.sql``."""

    version: str
    name: str
    path: Path

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations_dir() -> Path:
    """Where the migrations live (wheel data first, then the source checkout)."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_data" / "migrations",
                      package.parent / "supabase" / "migrations"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("CCM's supabase/migrations folder is missing from this install")


def migration_files(folder: Path | None = None) -> list[MigrationFile]:
    """Every migration, oldest first. Files not named by the convention are an error."""
    base = folder or migrations_dir()
    found = []
    for path in sorted(base.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise ValueError(f"{path.name}: migration files are named <YYYYMMDDHHMMSS>_<name>.sql")
        found.append(MigrationFile(m.group(1), m.group(2), path))
    return found


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """Where a hub's schema stands, told the same way by every adapter.

    Each list names migrations as that adapter's ``migrate`` reports them; ``newer``
    holds what the hub has but this CCM does not know (a newer CCM migrated it).
    """

    applied: tuple[str, ...]
    pending: tuple[str, ...]
    newer: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.newer

    def summary(self) -> str:
        """``up to date``, ``2 migrations pending`` or ``newer than this CCM``."""
        if self.newer:
            return "newer than this CCM"
        if self.pending:
            n = len(self.pending)
            return f"{n} migration{'s' if n != 1 else ''} pending"
        return "up to date"
