"""Grouping identical outputs and the one-line summary of a broadcast."""

from __future__ import annotations

from ccm_tui.fleet.broadcast import BroadcastReport, group_results, output_key
from ccm_tui.fleet.ssh import RunResult


def report(results: list[RunResult]) -> BroadcastReport:
    return BroadcastReport("uptime", "all", tuple(results), group_results(results), 1.0)


def ok(host: str, out: str = "same\n", status: int = 0) -> RunResult:
    return RunResult(host, status, out, "", 0.1)


def test_identical_differ_unreachable() -> None:
    results = [ok(f"h{i}") for i in range(47)] + [ok("x1", "other\n"), ok("x2", "same\n", 3)]
    results.append(RunResult("gone", None, error="h: connection refused",
                             error_kind="unreachable"))
    r = report(results)
    assert r.summary_line() == "47 identical · 2 differ · 1 unreachable"
    assert [g.size for g in r.groups] == [47, 1, 1]
    assert r.groups[1].exit_status == 0 and r.groups[2].exit_status == 3  # failures last
    assert r.failed_hosts() == ["x2", "gone"] and not r.ok
    doc = r.to_dict(output_chars=3)
    assert doc["counts"] == {"total": 50, "identical": 47, "differ": 2, "timed_out": 0,
                             "unreachable": 1, "hostkey_refused": 0, "login_refused": 0,
                             "no_common_algorithm": 0, "cut_off": 0, "not_started": 0,
                             "ok": 48, "failed": 2}
    assert doc["groups"][0]["stdout"].startswith("sam") and "stdout" not in doc["hosts"][0]


def test_exit_status_is_part_of_the_key() -> None:
    assert output_key(ok("a", "x", 0)) != output_key(ok("a", "x", 1))
    assert output_key(ok("a", "x", 0)) == output_key(ok("b", "x", 0))


def test_a_warning_on_stderr_sets_a_host_apart() -> None:
    warned = RunResult("w", 0, "same\n", "W: GPG error: repo not signed\n", 0.1)
    r = report([ok("a"), ok("b"), warned])
    assert r.summary_line() == "2 identical · 1 differ"
    assert [(g.hosts, g.stderr) for g in r.groups] == [
        (("a", "b"), ""), (("w",), "W: GPG error: repo not signed\n")]
    # where stdout ends and stderr begins is part of the key, not just their concatenation
    assert output_key(RunResult("x", 0, "ab", "c")) != output_key(RunResult("y", 0, "a", "bc"))


def test_all_different_and_timeouts() -> None:
    r = report([ok("a", "1"), ok("b", "2"),
                RunResult("c", None, "partial", error="timed out", error_kind="timeout")])
    assert r.summary_line() == "2 differ · 1 timed out"
    assert report([ok("a")]).summary_line() == "1 identical"
    assert report([ok("a")]).ok and not report([]).ok


def test_refused_logins_and_host_keys_are_named_apart_from_unreachable() -> None:
    r = report([ok("a"), ok("b"),
                RunResult("c", None, error="c: no key to log in as 'ops' with: …",
                          error_kind="auth"),
                RunResult("d", None, error="d: host key unknown", error_kind="hostkey"),
                RunResult("e", None, error="e: connection refused", error_kind="unreachable"),
                RunResult("f", None, error="f: no SSH algorithm in common",
                          error_kind="algorithms")])
    assert r.summary_line() == ("2 identical · 1 unreachable · 1 host key refused · "
                                "1 login refused · 1 no common algorithm")
    assert [x.host for x in r.refused] == ["c", "d", "f"]
    assert [x.host for x in r.unreachable] == ["e"]
    assert r.results[-1].error_label == "no common algorithm"
    c = r.counts()
    assert (c["unreachable"], c["hostkey_refused"], c["login_refused"], c["no_common_algorithm"],
            c["failed"]) == (1, 1, 1, 1, 4)
