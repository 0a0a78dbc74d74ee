"""``ccm ingest replay`` holds and refuses as the configured receiver would, not as the
defaults would: a user who raised ``webhook.flap_threshold`` saw flapping their receiver
never reports, and a body their receiver refuses (413) counted as received."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.ingest.test_replay import small_trace

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.usefixtures("isolated_env")


def replay(trace: Path, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "ccm_tui", *args, "ingest", "replay",
                           str(trace), "--json"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    data: dict[str, object] = json.loads(done.stdout)
    return data


def test_the_configured_flap_threshold_and_body_limit_are_used(tmp_path: Path) -> None:
    trace = tmp_path / "small.jsonl"
    big = {"name": "BigPayload", "host": "web-01", "summary": "x" * 2000,
           "starts_at": "2026-11-27T02:30:00Z"}
    trace.write_text(small_trace() + json.dumps(
        {"ts": "2026-11-27T02:30:00Z", "endpoint": "generic", "body": big}) + "\n")

    default = replay(trace)
    assert default["settings"] == {"flap_threshold": 3, "flap_window_minutes": 30,
                                   "max_body_bytes": 1024 * 1024}
    assert [x["host"] for x in default["flapping"]] == ["db-01"]  # type: ignore[attr-defined]
    assert "too_large" not in default["rejected_requests"]  # type: ignore[operator]

    config = tmp_path / "config.toml"
    config.write_text("[webhook]\nflap_threshold = 10\nmax_body_bytes = 1024\n")
    configured = replay(trace, "--config", str(config))
    assert configured["settings"] == {"flap_threshold": 10, "flap_window_minutes": 30,
                                      "max_body_bytes": 1024}
    assert configured["flapping"] == []
    rejected = configured["rejected_requests"]
    assert isinstance(rejected, dict) and rejected["too_large"] == 1
    # the fourth HighLoad firing is a task, not held; the big body was silenced, now refused
    assert (default["tasks_created"], configured["tasks_created"]) == (5, 6)
