"""What the ingest pipeline reports: each alert's outcome, a batch's report, its knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class Outcome(StrEnum):
    """What became of one alert."""

    CREATED = "created"
    ATTACHED = "attached"
    DUPLICATE = "duplicate"
    SILENCED = "silenced"
    FLAPPING = "flapping"
    RESOLVED_UPSTREAM = "resolved_upstream"
    RESOLVED_AFTER_ESCALATION = "resolved_after_escalation"
    NOTED = "noted"
    RESOLVED_NO_TASK = "resolved_no_task"


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Noise-reduction knobs."""

    flap_threshold: int = 3
    flap_window: timedelta = timedelta(minutes=30)
    host_cache_seconds: float = 5.0


@dataclass(slots=True)
class AlertResult:
    """One alert's fate."""

    fingerprint: str
    alertname: str
    host: str
    outcome: Outcome
    task_id: str | None = None
    detail: str = ""


@dataclass(slots=True)
class IngestReport:
    """What a batch of alerts did."""

    results: list[AlertResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    @property
    def task_ids(self) -> list[str]:
        if len(self.results) == 1:
            only = self.results[0].task_id
            return [only] if only else []
        return sorted({r.task_id for r in self.results if r.task_id})
