"""A throwaway PostgreSQL cluster for the test session, started and stopped by the tests.

``initdb`` runs as the ``postgres`` user when the tests run as root (PostgreSQL
refuses to run as root); the cluster listens on 127.0.0.1 on a free port with
trust authentication, in a temp dir removed afterwards. Supabase's roles
(``anon``, ``authenticated``, ``service_role``) are created so row-level security
policies can be exercised.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed."""


def find_bindir() -> Path:
    """The directory holding ``initdb``/``pg_ctl`` (newest version first)."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise PostgresUnavailable("PostgreSQL server binaries not found (apt-get install postgresql)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """A running cluster; ``url(db)`` gives a connection URL for the superuser."""

    port: int
    datadir: Path
    user: str = "postgres"

    def url(self, database: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.user}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [str(find_bindir() / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", database,
             "-c", sql],
            check=True, capture_output=True, text=True, timeout=60,
        )
        return out.stdout


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextlib.contextmanager
def running_cluster() -> Iterator[PgCluster]:
    """Start a throwaway cluster; stop it and delete its files on exit."""
    bindir = find_bindir()
    base = Path(tempfile.mkdtemp(prefix="ccm-pg-"))
    datadir = base / "data"
    sockdir = base / "sock"
    sockdir.mkdir()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (base, sockdir):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = free_port()
    try:
        subprocess.run(
            _as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres",
                          "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"]),
            check=True, capture_output=True, text=True, timeout=120,
        )
        opts = (f"-c listen_addresses=127.0.0.1 -c port={port} "
                f"-c unix_socket_directories={sockdir} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts,
                          "-l", str(base / "log"), "-w", "-t", "60", "start"]),
            check=True, capture_output=True, text=True, timeout=90,
        )
        cluster = PgCluster(port=port, datadir=datadir)
        deadline = time.monotonic() + 30
        while True:
            try:
                cluster.psql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        cluster.psql(
            "DO $$ BEGIN "
            "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='anon') THEN CREATE ROLE anon NOLOGIN; END IF; "
            "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF; "
            "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='service_role') THEN CREATE ROLE service_role NOLOGIN BYPASSRLS; END IF; "
            "END $$;"
        )
        yield cluster
    finally:
        if (datadir / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate",
                              "-w", "stop"]),
                capture_output=True, timeout=60,
            )
        shutil.rmtree(base, ignore_errors=True)
