"""Write ``overnight.jsonl``: one realistic night of alerts for a 50-server fleet.

Deterministic (fixed seed, fixed clock): running it again writes the same file.

The fleet is the persona's: ``web-01…10``, ``app-11…30``, ``db-31…40``,
``worker-41…50``. The night runs from 20:00 to 08:00 UTC and holds:

- **Alertmanager** notifications as Alertmanager 0.25 sends them with
  ``group_by: [alertname, instance]`` (``[alertname]`` for two fleet-wide rules),
  ``group_wait: 30s``, ``group_interval: 5m``, ``repeat_interval: 30m``: a group is
  re-sent every 30 minutes while it fires, and on the next 5-minute tick after any
  change (an alert joining, a resolve). Most of it is chronic warnings nobody acts on.
- Real incidents: ``/var`` filling on web-03 (warning at 23:10, critical at 01:50),
  ``orders-api`` crashing on app-17 at 02:14 (Prometheus and a Kibana log rule),
  a failed backup on db-35 (generic endpoint, posted twice by a retrying script),
  an unmanaged host (``legacy-ftp-01``) going down at 04:30.
- Noise: short blips that resolve before anyone could act, replication lag on
  db-33 flapping every 9 minutes for three hours, a rolling deploy of the web tier
  at 22:05 under a silence (``host=~web-.*`` for 1h, added at 22:00).
- A Grafana unified-alerting rule and a Kibana rule (status-change notifications).
- A few malformed requests: a form-encoded body, an old payload version, an
  unrendered Kibana template, a Grafana body that is a list, an alert without a name.

Run: ``python bench/traces/make_overnight.py [--out PATH]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ccm_tui.core.model import Host  # noqa: E402
from ccm_tui.ingest.trace import TraceWriter, format_ts  # noqa: E402

SEED = 20261127
START = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
END = START + timedelta(hours=12)
ZERO = "0001-01-01T00:00:00Z"
M = timedelta(minutes=1)

FLEET = ([Host(f"web-{i:02d}", f"10.0.1.{i}", groups=("web",)) for i in range(1, 11)]
         + [Host(f"app-{i}", f"10.0.2.{i}", groups=("app",)) for i in range(11, 31)]
         + [Host(f"db-{i}", f"10.0.3.{i}", groups=("db",)) for i in range(31, 41)]
         + [Host(f"worker-{i}", f"10.0.4.{i}", groups=("worker",)) for i in range(41, 51)])

Event = tuple[datetime, int, str, Any, str | None]


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """A time of the night: 20:00-23:59 on the 26th, 00:00-08:00 on the 27th."""
    day = START if hh >= 12 else START + timedelta(days=1)
    return day.replace(hour=hh, minute=mm, second=ss)


def fp_of(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]


@dataclass
class Episode:
    """One firing episode of one alert (``end`` None: still firing at 08:00)."""

    labels: dict[str, str]
    start: datetime
    end: datetime | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fp_of(self.labels)


@dataclass
class Route:
    """How an Alertmanager (or Grafana's) groups and re-sends."""

    endpoint: str = "alertmanager"
    version: str = "4"
    group_by: tuple[str, ...] = ("alertname", "instance")
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(minutes=30)


AM = Route()
AM_FLEETWIDE = Route(group_by=("alertname",))
GRAFANA = Route(endpoint="grafana", version="1", repeat_interval=timedelta(hours=4))


def am_alert(ep: Episode, resolved: bool, route: Route) -> dict[str, Any]:
    expr = ep.labels["alertname"].lower()
    alert: dict[str, Any] = {
        "status": "resolved" if resolved else "firing", "labels": ep.labels,
        "annotations": ep.annotations, "startsAt": format_ts(ep.start),
        "endsAt": format_ts(ep.end) if resolved and ep.end else ZERO,
        "generatorURL": f"http://prometheus.prod:9090/graph?g0.expr={expr}",
        "fingerprint": ep.fingerprint,
    }
    if route.endpoint == "grafana":
        alert["generatorURL"] = "https://grafana.prod/alerting/grafana/ccm1/view"
        alert["silenceURL"] = "https://grafana.prod/alerting/silence/new"
        alert["values"] = {"B": 91.4, "C": 1}
    return alert


def notification(route: Route, key: dict[str, str], alerts: list[dict[str, Any]]
                 ) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    common = {k: v for k, v in alerts[0]["labels"].items()
              if all(a["labels"].get(k) == v for a in alerts)}
    body: dict[str, Any] = {
        "receiver": "ccm", "status": "firing" if firing else "resolved", "alerts": alerts,
        "groupLabels": key, "commonLabels": common, "commonAnnotations": {},
        "externalURL": "http://alertmanager.prod:9093", "version": route.version,
        "groupKey": "{}:{" + ", ".join(f'{k}="{v}"' for k, v in key.items()) + "}",
        "truncatedAlerts": 0,
    }
    if route.endpoint == "grafana":
        body.update(orgId=1, externalURL="https://grafana.prod/", state="alerting" if firing
                    else "ok", title=f"[{body['status'].upper()}:{len(alerts)}]",
                    message="")
    return body


def simulate(route: Route, episodes: list[Episode]) -> list[Event]:
    """The notifications an Alertmanager sends for these episodes, as trace events.

    Per group: the first flush ``group_wait`` after the group appears, then a tick every
    ``group_interval``; a tick sends when an alert joined or resolved since the last
    notification, or when ``repeat_interval`` has passed. Resolved alerts are sent once
    and dropped; a group with no alert left is removed (the next firing makes a new one).
    An episode that a later one of the same alert replaced before a tick is never sent.
    """
    groups: dict[tuple[tuple[str, str], ...], list[Episode]] = {}
    for ep in episodes:
        key = tuple((k, ep.labels.get(k, "")) for k in route.group_by)
        groups.setdefault(key, []).append(ep)
    out: list[Event] = []
    for key, eps in groups.items():
        eps.sort(key=lambda e: e.start)
        live: list[Episode] = []
        i, tick = 0, END
        notified: dict[str, tuple[datetime, str]] = {}
        last_sent: datetime | None = None
        while True:
            if not live:
                if i >= len(eps):
                    break
                tick = eps[i].start + route.group_wait  # a new aggregation group
                notified, last_sent = {}, None
            if tick > END:
                break
            while i < len(eps) and eps[i].start <= tick:
                live.append(eps[i])
                i += 1
            live = list({ep.fingerprint: ep for ep in live}.values())  # later replaces earlier
            state = {ep.fingerprint: (ep.start, "resolved" if ep.end and ep.end <= tick
                                      else "firing") for ep in live}
            send = {fp: s for fp, s in state.items() if s[1] == "firing" or notified.get(fp) != s}
            changed = any(notified.get(fp) != s for fp, s in send.items())
            due = last_sent is not None and tick - last_sent >= route.repeat_interval
            if send and (changed or due):
                by_fp = {ep.fingerprint: ep for ep in live}
                alerts = [am_alert(by_fp[fp], s[1] == "resolved", route)
                          for fp, s in sorted(send.items())]
                out.append((tick, len(out), route.endpoint,
                            notification(route, dict(key), alerts), None))
                notified.update(send)
                last_sent = tick
                live = [ep for ep in live if state[ep.fingerprint][1] == "firing"]
            if live:
                tick += route.group_interval
    return out


def node(alertname: str, host: str, severity: str, start: datetime, end: datetime | None,
         summary: str, port: int = 9100, **labels: str) -> Episode:
    lab = {"alertname": alertname, "instance": f"{host}:{port}", "job": "node",
           "severity": severity, **labels}
    return Episode(lab, start, end, {"summary": summary})


def night() -> list[Event]:
    rnd = random.Random(SEED)
    eps: list[Episode] = []
    fleetwide: list[Episode] = []
    yesterday = START - timedelta(hours=rnd.randint(3, 9))
    # -- chronic warnings: fire all night, nobody acts on them --------------------------
    for h in ("app-13", "app-16", "app-21", "app-25", "app-29"):
        eps.append(node("HighMemoryUsage", h, "warning", yesterday - rnd.randint(0, 300) * M,
                        None, f"Memory on {h} above 85% for 15m"))
    for h in ("db-32", "db-36", "db-39"):
        eps.append(node("DiskSpaceLow", h, "warning", yesterday, None,
                        f"/var/lib/postgresql on {h} is 81% full",
                        mountpoint="/var/lib/postgresql"))
    for h in ("worker-42", "worker-47"):
        eps.append(node("CPUThrottlingHigh", h, "warning", START + rnd.randint(5, 90) * M, None,
                        f"Containers on {h} throttled 40% of the time"))
    eps.append(node("CertificateExpiresSoon", "web-05", "warning", yesterday, None,
                    "TLS certificate of shop.example.com expires in 19 days", port=443,
                    job="blackbox"))
    eps.append(node("TooManyOpenFiles", "app-19", "warning", yesterday, None,
                    "app-19 uses 82% of its file descriptors"))
    eps.append(node("NodeNetworkReceiveErrs", "worker-45", "warning", START + 47 * M, None,
                    "eth0 on worker-45 reports receive errors"))
    eps.append(node("HighLoadAverage", "db-38", "warning", START + 12 * M, None,
                    "load15 on db-38 above 2x its CPUs"))
    for h in ("worker-41", "worker-43", "worker-46", "worker-48", "worker-49"):
        fleetwide.append(node("NTPClockSkew", h, "warning", yesterday, None,
                              f"Clock on {h} is 180 ms off"))
    for h in ("app-11", "app-14", "app-18", "app-23", "db-34", "db-37", "worker-44", "web-09"):
        fleetwide.append(node("PackageUpdatesPending", h, "info", yesterday, None,
                              f"{h} has 14 security updates pending"))
    # -- the real incidents -----------------------------------------------------------
    eps.append(node("DiskFull", "web-03", "warning", at(23, 10), None,
                    "Disk /var on web-03 is 86% full and growing", mountpoint="/var"))
    eps.append(node("DiskFull", "web-03", "critical", at(1, 50), None,
                    "Disk /var on web-03 is 95% full", mountpoint="/var"))
    eps.append(node("ServiceDown", "app-17", "critical", at(2, 14), None,
                    "orders-api.service on app-17 is failed", name="orders-api.service",
                    state="failed"))
    eps.append(node("HTTPProbeFailed", "app-17", "critical", at(2, 15), None,
                    "http://app-17:8080/health fails", port=8080, job="blackbox"))
    eps.append(node("InstanceDown", "legacy-ftp-01", "critical", at(4, 30), None,
                    "legacy-ftp-01 has been unreachable for 5 minutes"))
    # -- blips that clear before anyone could act -----------------------------------
    blips = [("HighCPU", "warning"), ("HostHighIOWait", "warning"), ("HTTPProbeSlow", "warning"),
             ("HighCPU", "warning"), ("HostHighIOWait", "warning"), ("HighLoad", "critical"),
             ("HTTPProbeFailed", "critical"), ("MemoryPressure", "critical"),
             ("HighCPU", "warning"), ("HTTPProbeSlow", "warning"), ("HighLoad", "critical"),
             ("HostHighIOWait", "warning"), ("HTTPProbeFailed", "critical"),
             ("HighCPU", "warning")]
    names = [h.name for h in FLEET if h.name not in ("web-03", "app-17", "db-33")]
    for i, (alertname, severity) in enumerate(blips):
        host = rnd.choice(names)
        begin = START + timedelta(minutes=25 + i * 49 + rnd.randint(0, 20))
        if at(22, 0) <= begin <= at(23, 0) and host.startswith("web"):
            host = "app-2" + str(i % 10)
        eps.append(node(alertname, host, severity, begin, begin + rnd.randint(2, 9) * M,
                        f"{alertname} on {host}"))
    # -- flapping: replication lag on db-33, every 9 minutes from 01:00 to 04:00 ------
    t = at(1, 0)
    while t < at(4, 0):
        eps.append(node("ReplicationLagHigh", "db-33", "critical", t, t + 4 * M,
                        "Replica db-33 lags 45s behind the primary", job="postgres"))
        t += 9 * M
    # -- the deploy: a silence at 22:00, then every web host blips in turn ------------
    for i, h in enumerate(f"web-{k:02d}" for k in range(1, 11)):
        begin = at(22, 5) + timedelta(minutes=4 * i)
        eps.append(node("HTTPProbeFailed", h, "critical", begin, begin + 2 * M,
                        f"https://{h}/health fails", port=443, job="blackbox"))
    events = simulate(AM, eps) + simulate(AM_FLEETWIDE, fleetwide)
    events += simulate(GRAFANA, [
        Episode({"alertname": "High memory usage", "instance": "app-12", "team": "shop",
                 "severity": "warning", "grafana_folder": "Fleet"}, at(0, 30), at(1, 45),
                {"summary": "app-12 memory above 90%", "runbook_url": "https://wiki/mem"}),
        Episode({"alertname": "Postgres connections near limit", "instance": "db-31:9187",
                 "severity": "critical", "grafana_folder": "Databases"}, at(5, 20), at(5, 32),
                {"summary": "db-31 uses 96% of max_connections"})])
    events = [e for e in events if START <= e[0] <= END]
    events += kibana() + generic() + malformed()
    events.append((at(22, 0), -1, "silence", {"matchers": ["host=~web-.*"], "duration": "1h",
                                              "reason": "deploy v2.14: rolling restart of web"},
                   None))
    return events


def kibana_body(rule_id: str, name: str, host: str, group: str, when: datetime, severity: str,
                title: str) -> dict[str, Any]:
    return {"rule": {"id": rule_id, "name": name, "tags": ["logs", "prod"]},
            "alert": {"id": host, "actionGroup": group, "flapping": "false"},
            "context": {"title": title, "message": f"{title} (see Discover)"},
            "date": format_ts(when), "severity": severity, "labels": {"host": host}}


def kibana() -> list[Event]:
    spike = ("6b1f2e-orders-errors", "Orders API error log spike")
    brute = ("a9d310-ssh-bruteforce", "SSH authentication failures")
    return [
        (at(2, 16, 4), 0, "kibana", kibana_body(*spike, "app-17", "query matched",
                                                 at(2, 16, 4), "critical",
                                                 "312 ERROR lines from orders-api in 5m"), None),
        (at(4, 0, 12), 0, "kibana", kibana_body(*brute, "worker-50", "query matched",
                                                 at(4, 0, 12), "warning",
                                                 "1,204 failed SSH logins in 10m"), None),
        (at(4, 40, 12), 0, "kibana", kibana_body(*brute, "worker-50", "recovered",
                                                  at(4, 40, 12), "warning",
                                                  "failed SSH logins back to normal"), None),
    ]


def generic() -> list[Event]:
    backup = {"name": "BackupFailed", "host": "db-35", "severity": "critical",
              "summary": "nightly pg_dump of orders failed", "description": "pg_dump exited 1: "
              "could not write to /backup: No space left on device",
              "labels": {"job": "backup"}, "starts_at": format_ts(at(3, 30, 2)),
              "fingerprint": "backup-db-35-20261127"}
    cert = {"name": "CertRenewalFailed", "host": "web-05", "severity": "warning",
            "summary": "certbot renew failed for shop.example.com",
            "starts_at": format_ts(at(4, 5))}
    return [(at(3, 30, 3), 0, "generic", backup, None),
            (at(3, 31, 3), 0, "generic", backup, None),  # the script retried
            (at(4, 5, 1), 0, "generic", cert, None)]


def malformed() -> list[Event]:
    old = {"version": "3", "status": "firing", "receiver": "ccm", "alerts": []}
    half = notification(AM, {"alertname": "HighCPU"}, [
        am_alert(node("HighCPU", "app-27", "warning", at(6, 12), None, "HighCPU on app-27"),
                 False, AM),
        {"status": "firing", "labels": {"instance": "app-28:9100"}, "annotations": {},
         "startsAt": format_ts(at(6, 12)), "endsAt": ZERO}])
    template = kibana_body("c0ffee-disk", "Disk errors in kern.log", "db-31", "query matched",
                           at(5, 0), "warning", "I/O errors")
    template["date"] = "{{date}}"
    return [
        (at(21, 13, 7), 0, "generic", None, "alertname=DiskFull&host=web-02&severity=warning"),
        (at(23, 41, 30), 0, "alertmanager", old, None),
        (at(1, 2, 44), 0, "generic", {"host": "app-20", "severity": "warning",
                                       "summary": "cron job late"}, None),
        (at(5, 0, 30), 0, "kibana", template, None),
        (at(5, 58, 0), 0, "grafana", [{"status": "firing", "labels": {}}], None),
        (at(6, 12, 30), 0, "alertmanager", half, None),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("overnight.jsonl"))
    args = ap.parse_args()
    events = sorted(night(), key=lambda e: (e[0], e[1]))
    with args.out.open("w", encoding="utf-8") as f:
        w = TraceWriter(f)
        w.inventory(START, FLEET)
        for ts, _order, endpoint, body, raw in events:
            if endpoint == "silence":
                assert body is not None
                w.silence(ts, body["matchers"], body["duration"], body["reason"])
            elif raw is not None:
                w.write(ts, endpoint, raw=raw, headers={"Content-Type": "text/plain"})
            else:
                ua = {"alertmanager": "Alertmanager/0.25.0", "grafana": "Grafana",
                      "kibana": "Kibana", "generic": "curl/7.88.1"}[endpoint]
                w.write(ts, endpoint, body=body, headers={"User-Agent": ua})
    print(f"wrote {w.count} lines to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
