"""``ccm tasks list --limit N``: it said "limit reached; --limit shows more" whenever
exactly N tasks were shown, also when there were no more to show."""

from __future__ import annotations

import json

import pytest

from tests.unit.cli_support import ccm, seed

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_more_is_said_only_when_there_is_more(url: str) -> None:
    seed(url, [("web-01", "DiskFull", ()), ("web-02", "DiskFull", ()),
               ("web-03", "DiskFull", ())])
    exact = ccm("--hub", url, "tasks", "list", "--limit", "3")
    assert exact.exit_code == 0
    assert exact.stdout.rstrip().endswith("3 tasks") and "more" not in exact.stdout

    cut = ccm("--hub", url, "tasks", "list", "-n", "2")
    assert cut.stdout.rstrip().endswith("2 tasks (more than 2; --limit N shows more)")

    as_json = json.loads(ccm("--hub", url, "tasks", "list", "-n", "2", "--json").stdout)
    assert len(as_json) == 2
