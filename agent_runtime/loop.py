"""The remediation loop: diagnose -> classify -> decide -> fix | ask | escalate -> verify.

One :class:`Session` runs one task spec.  Every step is an event, appended to the
task's journal (fsync'd) and then printed as a JSON line.  The loop never retries
a fix blindly: a fix that fails verification ends the task as ``failed`` (or
``escalated`` when the runbook says so) with what was tried; with strategy
``sequential`` the next matching cause's fix is tried instead, as in the
disk-full flowchart (old logs -> temp files -> old backups -> escalate).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from agent_runtime import __version__
from agent_runtime.actions import ACTIONS, ActionError, run_action
from agent_runtime.actions.base import ActionContext, ActionResult
from agent_runtime.conditions import check_all
from agent_runtime.control import ControlChannel
from agent_runtime.decide import classify, decide, escalations
from agent_runtime.hostroot import HostRoot
from agent_runtime.journal import Journal, journal_path
from agent_runtime.protocol import OutputBudget
from agent_runtime.runbook import RunbookError, check, match_score
from agent_runtime.spec import TaskSpec
from agent_runtime.template import TemplateError, make_context, render

Step = Dict[str, Any]


class Cancelled(Exception):
    """Raised (by a signal handler) to stop a session; it finishes ``cancelled``."""


class Session:
    """Runs one task: emits events to ``journal`` then ``out``, reads control
    messages from ``control`` when it must ask for approval."""

    def __init__(self, spec: TaskSpec, journal: Journal, out: Optional[IO[str]] = None,
                 control: Optional[ControlChannel] = None) -> None:
        self.spec = spec
        self.journal = journal
        self.out = out if out is not None else sys.stdout
        self.control = control
        self.evidence: Dict[str, Any] = {}
        self.root = HostRoot(spec.root)
        self.finished = False
        self._lock = threading.Lock()  # output arrives from reader threads too
        self._main_emitting = False
        self._cancel_pending: Optional[int] = None

    # -- events -------------------------------------------------------------
    def emit(self, type_: str, data: Dict[str, Any]) -> None:
        """Journal (fsync) then print one event; safe to call from any thread."""
        main = threading.current_thread() is threading.main_thread()
        with self._lock:
            if main:
                self._main_emitting = True
            try:
                event = self.journal.append(type_, data)
                self.out.write(event.to_json() + "\n")
                self.out.flush()
                if type_ == "finished":
                    self.finished = True
            finally:
                if main:
                    self._main_emitting = False
        if main and self._cancel_pending is not None and not self.finished:
            signum, self._cancel_pending = self._cancel_pending, None
            raise Cancelled("signal %d" % signum)

    def on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        """Signal handler: stop the session, but never in the middle of an event."""
        if self._main_emitting or self.finished:
            self._cancel_pending = signum
            return
        raise Cancelled("signal %d" % signum)

    def finish(self, outcome: str, **data: Any) -> str:
        """Emit ``finished`` and return the outcome."""
        self.emit("finished", dict(data, outcome=outcome))
        return outcome

    # -- actions ------------------------------------------------------------
    def _context(self, step_id: str, dry_run: bool) -> ActionContext:
        budget = OutputBudget(step_id)

        def on_output(stream: str, text: str) -> None:
            for chunk in budget.chunks(stream, text):
                self.emit("output", chunk)

        return ActionContext(root=self.root, dry_run=dry_run, on_output=on_output,
                             timeout=self.spec.timeout, env=dict(self.spec.env) or None)

    def _run(self, step: Step, params: Dict[str, Any], dry_run: bool) -> Tuple[ActionResult, float]:
        started = time.monotonic()
        ctx = self._context(str(step.get("id", "verify")), dry_run)
        if "timeout" in step:
            ctx.timeout = float(step["timeout"])
        try:
            result = run_action(str(step["action"]), params, ctx)
        except ActionError as exc:
            result = ActionResult(ok=False, summary="bad action call", data={},
                                  dry_run=dry_run, error=str(exc))
        except Exception as exc:  # an action bug must not kill the session
            result = ActionResult(ok=False, summary="action crashed", data={},
                                  dry_run=dry_run, error="%s: %s" % (type(exc).__name__, exc))
        return result, round((time.monotonic() - started) * 1000, 1)

    def _context_vars(self, **extra: Any) -> Dict[str, Any]:
        return make_context(self.spec.alert, self.evidence, host=self.spec.host,
                            task=self.spec.task, **extra)

    # -- phases -------------------------------------------------------------
    def choose(self) -> Tuple[Optional[Dict[str, Any]], List[Dict[str, Any]], List[Dict[str, Any]]]:
        """Validate the spec's runbooks and pick the best match for the alert."""
        valid: List[Dict[str, Any]] = []
        rejected: List[Dict[str, Any]] = []
        for raw in self.spec.runbooks:
            try:
                valid.append(check(raw))
            except RunbookError as exc:
                rejected.append({"id": raw.get("id"), "issues": [str(i) for i in exc.issues]})
        labels = self.spec.alert["labels"]
        scored = [(match_score(rb, labels), i, rb) for i, rb in enumerate(valid)]
        candidates = [{"id": rb["id"], "score": s} for s, _, rb in scored if s >= 0]
        if self.spec.runbook:
            chosen = [rb for _, _, rb in scored if rb["id"] == self.spec.runbook]
        else:
            ranked = sorted((x for x in scored if x[0] >= 0), key=lambda x: (-x[0], x[1]))
            chosen = [ranked[0][2]] if ranked else []
        return (chosen[0] if chosen else None), candidates, rejected

    def diagnose(self, runbook: Dict[str, Any]) -> None:
        """Run each read-only diagnose step; store its data as ``evidence[id]``."""
        self.emit("step", {"phase": "diagnose", "runbook": runbook["id"],
                           "steps": [s["id"] for s in runbook["diagnose"]]})
        for step in runbook["diagnose"]:
            try:
                params = render(step.get("params", {}), self._context_vars())
            except TemplateError as exc:
                self.emit("step", {"phase": "diagnose", "step": step["id"],
                                   "action": step["action"], "params": step.get("params", {})})
                self.evidence[step["id"]] = {"error": str(exc)}
                self.emit("evidence", {"step": step["id"], "action": step["action"], "ok": False,
                                       "summary": "template error", "error": str(exc),
                                       "value": self.evidence[step["id"]]})
                continue
            self.emit("step", {"phase": "diagnose", "step": step["id"],
                               "action": step["action"], "params": params})
            result, ms = self._run(step, params, dry_run=False)
            value = dict(result.data)
            if not result.ok:
                value.setdefault("error", result.error or result.summary)
            self.evidence[step["id"]] = value
            self.emit("evidence", {"step": step["id"], "action": step["action"], "ok": result.ok,
                                   "summary": result.summary, "error": result.error,
                                   "duration_ms": ms, "value": value})

    def plan(self, runbook: Dict[str, Any], causes: List[str]) -> List[Dict[str, Any]]:
        """The exact steps (params rendered) for each planned cause, in order."""
        by_id = {s["id"]: s for s in runbook["remediate"]}
        by_cause = {c["cause"]: c for c in runbook["classify"]}
        out: List[Dict[str, Any]] = []
        for name in causes:
            steps: List[Step] = []
            for item in by_cause[name].get("remediate", []):
                step = by_id[item] if isinstance(item, str) else item
                ctx = self._context_vars()
                if step.get("when") and not all(r["ok"] for r in check_all(step["when"], ctx)):
                    continue
                params = render(step.get("params", {}), ctx)
                vet = ACTIONS[step["action"]].vet
                if vet is not None:
                    vet(params)
                steps.append({"id": step["id"], "action": step["action"],
                              "params": params,
                              "description": step.get("description", ""),
                              "read_only": bool(ACTIONS[step["action"]].read_only),
                              **({"timeout": step["timeout"]} if "timeout" in step else {})})
            out.append({"cause": name, "steps": steps})
        return out

    def execute(self, cause_plan: Dict[str, Any], dry_run: bool) -> Dict[str, Any]:
        """Run (or dry-run) one cause's steps; stop at the first failure."""
        done: List[Dict[str, Any]] = []
        ok = True
        for step in cause_plan["steps"]:
            self.emit("step", {"phase": "remediate", "cause": cause_plan["cause"],
                               "step": step["id"], "action": step["action"],
                               "params": step["params"], "dry_run": dry_run})
            result, ms = self._run(step, step["params"], dry_run=dry_run)
            record = {"step": step["id"], "action": step["action"], "params": step["params"],
                      "dry_run": dry_run, "ok": result.ok, "changed": result.changed,
                      "summary": result.summary, "error": result.error, "data": result.data,
                      "duration_ms": ms}
            self.emit("action", dict(record, cause=cause_plan["cause"]))
            done.append(record)
            if not result.ok:
                ok = False
                break
        return {"cause": cause_plan["cause"], "ok": ok, "steps": done}

    def verify(self, runbook: Dict[str, Any], cause: str) -> Dict[str, Any]:
        """Run the verify check (polling ``attempts`` times); emit ``verified``."""
        spec = runbook.get("verify")
        if not spec:
            data = {"cause": cause, "passed": True, "skipped": True,
                    "detail": "runbook has no verify check"}
            self.emit("verified", data)
            return data
        attempts = int(spec.get("attempts", 1))
        interval = float(spec.get("interval", 0))
        self.emit("step", {"phase": "verify", "cause": cause, "action": spec["action"],
                           "attempts": attempts})
        report: List[Dict[str, Any]] = []
        result: Optional[ActionResult] = None
        passed = False
        attempt = 0
        for attempt in range(1, attempts + 1):
            try:
                params = render(spec.get("params", {}), self._context_vars())
            except TemplateError as exc:
                report = [{"condition": "params", "ok": False, "actual": str(exc)}]
                break
            result, _ = self._run(dict(spec, id="verify"), params, dry_run=False)
            report = check_all(spec["expect"], self._context_vars(result=result.data))
            passed = result.ok and all(r["ok"] for r in report)
            if passed:
                break
            if attempt < attempts:
                time.sleep(interval)
        data = {"cause": cause, "passed": passed, "attempts": attempt, "report": report,
                "result": result.data if result else {},
                "summary": result.summary if result else "", "error": result.error if result else ""}
        self.emit("verified", data)
        return data

    def await_approval(self, decision: Dict[str, Any], plans: List[Dict[str, Any]],
                       runbook: Dict[str, Any]) -> Optional[Tuple[str, Dict[str, Any]]]:
        """Dry-run the plan, ask, wait.  ``None`` means approved; otherwise the
        ``(outcome, data)`` to finish with."""
        dry = [self.execute(p, dry_run=True) for p in plans]
        control_file = journal_path(self.spec.task, self.journal.path.parent).with_suffix(".control")
        self.emit("approval_requested", {
            "runbook": runbook["id"], "title": runbook.get("title", ""),
            "actions": plans, "risk": decision["risk"], "confidence": decision["confidence"],
            "reasons": decision["reasons"], "dry_run": dry, "control_file": str(control_file),
            "timeout": self.spec.policy.approval_timeout,
        })
        if self.control is None:
            self.control = ControlChannel(self.spec.task, None, control_file)
        msg = self.control.wait(self.spec.policy.approval_timeout)
        while msg is not None and msg.type == "hold":  # already waiting for a human
            msg = self.control.wait(self.spec.policy.approval_timeout)
        if msg is None:
            return "escalated", {"reasons": ["no answer to the approval request"],
                                 "evidence": self.evidence}
        who = {"actor": msg.actor, "note": msg.note}
        if msg.type == "approve":
            self.emit("step", {"phase": "approved", **who})
            return None
        if msg.type == "reject":
            return "rejected", dict(who, reasons=["rejected by %s" % (msg.actor or "operator")])
        if msg.type == "escalate":
            return "escalated", dict(who, reasons=["escalated by %s" % (msg.actor or "operator")],
                                     evidence=self.evidence)
        return "cancelled", dict(who, reasons=["cancelled by %s" % (msg.actor or "operator")])

    # -- the whole loop -------------------------------------------------------
    def run(self) -> str:
        """Run the task to a ``finished`` event; returns the outcome."""
        try:
            return self._run_all()
        except Cancelled:
            if not self.finished:
                return self.finish("cancelled", reasons=["agent stopped by a signal"],
                                   evidence=self.evidence)
            return "cancelled"

    def _run_all(self) -> str:
        runbook, candidates, rejected = self.choose()
        self.emit("started", {"host": self.spec.host, "pid": os.getpid(),
                              "agent_version": __version__, "root": self.spec.root,
                              "alert": self.spec.alert, "candidates": candidates,
                              "rejected": rejected, "runbook": runbook["id"] if runbook else None,
                              "policy": self.spec.policy.to_dict()})
        if runbook is None:
            self.emit("decision", {"verdict": "escalate", "runbook": None, "confidence": 0.0,
                                   "reasons": ["no runbook matches this alert"]})
            return self.finish("escalated", reasons=["no runbook matches this alert"],
                               evidence={})
        self.diagnose(runbook)

        self.emit("step", {"phase": "classify", "runbook": runbook["id"]})
        ctx = self._context_vars()
        cands = classify(runbook, ctx)
        match_report = check_all(runbook["match"].get("evidence", []), ctx)
        self.emit("classified", {"runbook": runbook["id"], "candidates": cands,
                                 "match_evidence": match_report})

        self.emit("step", {"phase": "decide", "runbook": runbook["id"]})
        forced = escalations(runbook, ctx)
        breaker = self.spec.policy.escalate_runbooks.get(runbook["id"])
        if breaker:
            forced.append(str(breaker))
        decision = decide(runbook, cands, match_report, self.spec.policy,
                          self.spec.priors.get(runbook["id"]), forced)
        plans: List[Dict[str, Any]] = []
        if decision["verdict"] != "escalate":
            try:
                plans = self.plan(runbook, decision["causes"])
            except (TemplateError, ActionError) as exc:
                decision["verdict"] = "escalate"
                decision["reasons"].append("cannot build the fix: %s" % exc)
        decision["plan"] = plans
        self.emit("decision", decision)
        verdict = decision["verdict"]

        if verdict == "escalate":
            return self.finish("escalated", runbook=runbook["id"], reasons=decision["reasons"],
                               candidates=cands, evidence=self.evidence)
        if verdict == "shadow" or self.spec.policy.dry_run:
            dry = [self.execute(p, dry_run=True) for p in plans]
            return self.finish("noop", runbook=runbook["id"], would=verdict, dry_run=dry,
                               reasons=decision["reasons"])
        if verdict == "auto" and self.control is not None:
            held = self.control.poll()
            if held is not None and held.type == "cancel":
                return self.finish("cancelled", runbook=runbook["id"], actor=held.actor,
                                   reasons=["cancelled by %s" % (held.actor or "operator")])
            if held is not None and held.type == "hold":
                verdict = "suggest"
                self.emit("step", {"phase": "held", "actor": held.actor, "note": held.note,
                                   "reason": "automatic fixes are on hold; asking instead"})
        if verdict == "suggest":
            stop = self.await_approval(decision, plans, runbook)
            if stop is not None:
                return self.finish(stop[0], runbook=runbook["id"], **stop[1])
        return self.remediate(runbook, plans, decision)

    def remediate(self, runbook: Dict[str, Any], plans: List[Dict[str, Any]],
                  decision: Dict[str, Any]) -> str:
        """Apply each planned cause's fix and verify it; stop at the first that holds."""
        tried: List[Dict[str, Any]] = []
        for plan in plans:
            self.emit("step", {"phase": "remediate", "cause": plan["cause"],
                               "steps": [s["id"] for s in plan["steps"]]})
            run = self.execute(plan, dry_run=False)
            check_result = self.verify(runbook, plan["cause"]) if run["ok"] else {
                "passed": False, "detail": "a fix step failed"}
            run["verified"] = check_result["passed"]
            tried.append(run)
            if run["ok"] and check_result["passed"]:
                return self.finish("resolved", runbook=runbook["id"], cause=plan["cause"],
                                   tried=tried, reasons=decision["reasons"],
                                   summary=_summary(tried))
        outcome = "escalated" if runbook.get("on_failure") == "escalate" else "failed"
        reason = ("no fix passed verification" if tried else "nothing to do")
        return self.finish(outcome, runbook=runbook["id"], tried=tried,
                           reasons=decision["reasons"] + [reason], evidence=self.evidence,
                           summary=_summary(tried))


def _summary(tried: List[Dict[str, Any]]) -> str:
    parts = []
    for run in tried:
        steps = "; ".join("%s: %s" % (s["step"], s["summary"]) for s in run["steps"])
        parts.append("%s -> %s (%s)" % (run["cause"], "verified" if run.get("verified")
                                         else "not verified", steps or "no steps"))
    return " | ".join(parts)


def run_spec(spec: TaskSpec, journal_dir: Optional[str] = None, out: Optional[IO[str]] = None,
             control_stream: Optional[IO[str]] = None,
             on_session: Optional[Callable[[Session], None]] = None) -> str:
    """Open the task's journal and run the session; returns the outcome."""
    directory = journal_dir or spec.journal_dir
    path = journal_path(spec.task, directory)
    with Journal(path, spec.task) as journal:
        control = ControlChannel(spec.task, control_stream, path.with_suffix(".control"))
        session = Session(spec, journal, out, control)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, session.on_signal)
            signal.signal(signal.SIGINT, session.on_signal)
        if on_session is not None:
            on_session(session)
        return session.run()


def control_file_for(task: str, journal_dir: Optional[str] = None) -> Path:
    """Where a re-attached daemon may append control lines for ``task``."""
    return journal_path(task, journal_dir).with_suffix(".control")
