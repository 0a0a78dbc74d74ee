"""``ccm ingest replay`` given what an on-call engineer really has: gzip'd traces, a pipe,
an empty or damaged file, a bad line in the middle, two recordings concatenated."""

from __future__ import annotations

import gzip
import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
OVERNIGHT = ROOT / "bench" / "traces" / "overnight.jsonl"

pytestmark = pytest.mark.usefixtures("isolated_env")


def ccm(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "ccm_tui", *args], capture_output=True,
                          input=stdin if stdin is not None else b"", cwd=ROOT, timeout=120)


def summary(done: subprocess.CompletedProcess[bytes]) -> dict[str, object]:
    assert done.returncode == 0, done.stderr.decode()
    data: dict[str, object] = json.loads(done.stdout)
    return data


def error(done: subprocess.CompletedProcess[bytes]) -> str:
    """The one error line, after checking that nothing went to stdout."""
    assert done.returncode == 1 and done.stdout == b""
    [line] = done.stderr.decode().splitlines()
    assert line.startswith("ccm: error: ")
    return line


def test_a_gzipped_trace_and_one_on_stdin_replay_like_the_plain_file(tmp_path: Path) -> None:
    plain = summary(ccm("ingest", "replay", str(OVERNIGHT), "--json"))
    packed = tmp_path / "night.jsonl.gz"
    packed.write_bytes(gzip.compress(OVERNIGHT.read_bytes()))
    unnamed = tmp_path / "night.trace"  # recognised by its content, not its name
    unnamed.write_bytes(packed.read_bytes())
    for args, stdin in [((str(packed),), None), ((str(unnamed),), None),
                        (("-",), OVERNIGHT.read_bytes()), (("-",), packed.read_bytes())]:
        s = summary(ccm("ingest", "replay", *args, "--json", stdin=stdin))
        assert s["trace"] == ("<stdin>" if args == ("-",) else args[0])
        for key in ("requests", "alerts_received", "tasks_created", "pages", "silenced"):
            assert s[key] == plain[key], (args, key)


def test_an_empty_trace_is_an_error_not_a_night_without_alerts(tmp_path: Path) -> None:
    for name, text in [("empty.jsonl", ""), ("blank.jsonl", "\n\n# recorded by hand\n")]:
        trace = tmp_path / name
        trace.write_text(text)
        line = error(ccm("ingest", "replay", str(trace), "--json"))
        assert f"{trace}: no trace lines" in line and "docs/ingest.md" in line
    assert "<stdin>: no trace lines" in error(ccm("ingest", "replay", "-"))


def test_a_bad_line_in_the_middle_stops_everything_and_says_so(tmp_path: Path,
                                                               url: str) -> None:
    lines = OVERNIGHT.read_text().splitlines()
    lines[99] = '{"ts": oops'
    lines[199] = "garbage"
    lines[299] = "also garbage"
    trace = tmp_path / "bad.jsonl"
    trace.write_text("\n".join(lines) + "\n")
    line = error(ccm("ingest", "replay", str(trace), "--into-hub", "--hub", url))
    # the trace's line number, not json's own "line 1"
    assert f"{trace}:100: not a JSON object (Expecting value at column 8)" in line
    assert "(2 more bad lines: 200, 300)" in line and "nothing was replayed" in line
    listed = ccm("tasks", "list", "--json", "--hub", url)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    trace = tmp_path / "latin1.jsonl"
    trace.write_bytes(OVERNIGHT.read_bytes().split(b"\n", 1)[0] + b"\n"
                      + b'{"ts":"2026-11-27T02:00:00Z","endpoint":"generic","raw":"caf\xe9"}\n')
    line = error(ccm("ingest", "replay", str(trace)))
    assert ":2: not UTF-8 text (byte 61 of the line)" in line and '"raw"' in line


def test_a_bom_from_a_windows_editor_is_not_a_bad_first_line(tmp_path: Path) -> None:
    trace = tmp_path / "bom.jsonl"
    trace.write_bytes(b"\xef\xbb\xbf" + OVERNIGHT.read_bytes())
    assert summary(ccm("ingest", "replay", str(trace), "--json"))["requests"] == 535


def test_time_going_backwards_is_refused_unless_sort_is_asked(tmp_path: Path) -> None:
    lines = OVERNIGHT.read_text().splitlines()
    later, earlier = lines[1:300], lines[300:]
    trace = tmp_path / "concatenated.jsonl"
    trace.write_text("\n".join([lines[0], *earlier, *later]) + "\n")
    line = error(ccm("ingest", "replay", str(trace)))
    assert f"{trace}:{len(earlier) + 2}: ts " in line and "is earlier than line" in line
    assert "--sort" in line and "nothing was replayed" in line
    s = summary(ccm("ingest", "replay", str(trace), "--sort", "--json"))
    plain = summary(ccm("ingest", "replay", str(OVERNIGHT), "--json"))
    for key in ("requests", "alerts_received", "tasks_created", "duplicates", "pages"):
        assert s[key] == plain[key], key


def test_files_that_are_not_traces(tmp_path: Path) -> None:
    packed = gzip.compress(OVERNIGHT.read_bytes())
    damaged = tmp_path / "copied-too-early.jsonl.gz"
    damaged.write_bytes(packed[: len(packed) // 2])
    line = error(ccm("ingest", "replay", str(damaged)))
    assert "a damaged or incomplete gzip file" in line and "gzip -t" in line
    line = error(ccm("ingest", "replay", str(tmp_path / "nope.jsonl")))
    assert "nope.jsonl: No such file or directory" in line
    assert "Is a directory" in error(ccm("ingest", "replay", str(tmp_path)))


def test_help_says_what_is_accepted() -> None:
    done = ccm("ingest", "replay", "--help")
    text = " ".join(done.stdout.decode().split())
    assert done.returncode == 0
    for words in ("gzip", "- reads standard input", "--sort", "nothing is replayed",
                  "docs/ingest.md"):
        assert words in text, words


def test_every_json_key_is_documented() -> None:
    s = summary(ccm("ingest", "replay", str(OVERNIGHT), "--json"))
    docs = (ROOT / "docs" / "ingest.md").read_text()
    table = docs[docs.index("### The `--json` summary"):]
    table = table[:table.index("\n## ")]
    pages = s["pages"]
    assert isinstance(pages, dict)
    used = s["settings"]
    assert isinstance(used, dict)
    keys = set(s) | set(pages) | set(used)
    assert [k for k in sorted(keys) if f"`{k}`" not in table] == []


def long_trace(path: Path, nights: int) -> None:
    """The overnight trace played ``nights`` times, a day apart."""
    with path.open("w") as out:
        for night in range(nights):
            for text in OVERNIGHT.read_text().splitlines():
                line = json.loads(text)
                ts = datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
                line["ts"] = (ts + timedelta(days=night)).strftime("%Y-%m-%dT%H:%M:%SZ")
                out.write(json.dumps(line) + "\n")


def test_ctrl_c_says_how_far_the_replay_got_and_what_the_hub_keeps(tmp_path: Path) -> None:
    trace = tmp_path / "month.jsonl"
    long_trace(trace, 40)
    hub = tmp_path / "hub.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "ingest", "replay", str(trace), "--into-hub",
         "--hub", f"sqlite:///{hub}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT)
    try:
        tasks = 0
        while not tasks and proc.poll() is None:  # interrupt once tasks are in the hub
            try:
                with sqlite3.connect(f"file:{hub}?mode=ro", uri=True) as db:
                    tasks = db.execute("SELECT count(*) FROM ccm_tasks").fetchone()[0]
            except sqlite3.Error:
                pass  # not created or migrated yet
            time.sleep(0.01)  # a poll, not a timing: the replay takes many times longer
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and out == ""
    total = 40 * len(OVERNIGHT.read_text().splitlines())
    assert err.startswith("ccm: interrupted after ") and f" of {total} trace lines (line " in err
    assert "the hub keeps what was replayed" in err


def test_other_compressors_are_named_with_the_command_that_reads_them(tmp_path: Path) -> None:
    import bz2
    import lzma

    for suffix, pack, cat in [(".xz", lzma.compress, "xzcat"), (".bz2", bz2.compress, "bzcat")]:
        trace = tmp_path / f"night.jsonl{suffix}"
        trace.write_bytes(pack(OVERNIGHT.read_bytes()))
        line = error(ccm("ingest", "replay", str(trace)))
        assert f"{trace}: compressed with " in line and "only gzip is read" in line
        assert f"{cat} {trace} | ccm ingest replay -" in line
