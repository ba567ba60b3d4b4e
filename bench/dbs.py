"""The bench's own database: seeded once as a template, copied fresh for each phase.

PostgreSQL (DATABASE_URL set): on that server, never in the database the URL names. The template
is `<name>_bench_tpl_u<users>_c<contents>`, seeded by `manage.py migrate` + `seed_demo` and kept
for the next run; each phase works in `<name>_bench_run_<pid>`, created from the template
(`CREATE DATABASE ... TEMPLATE`, a file copy) and dropped at the end. Every database the bench
creates carries a `resee-bench ...` comment, and the bench drops only databases with that comment.

SQLite (DATABASE_URL unset): the same with files in the work directory (default var/bench/).

A template is re-seeded when its seed day, its sizes or the code that shapes its rows (models,
migrations, seed_demo) changed: due dates are relative to the seed day.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.procs import alive

REPO = Path(__file__).resolve().parent.parent
MARK = "resee-bench"


def code_fingerprint() -> str:
    digest = hashlib.blake2b(digest_size=6)
    files = [path for pattern in ("migrations/0*.py", "models.py") for path in sorted(REPO.rglob(pattern))
             if not path.relative_to(REPO).parts[0].startswith((".", "var"))]  # fmt: skip
    files.append(REPO / "review" / "management" / "commands" / "seed_demo.py")
    for path in files:
        digest.update(path.relative_to(REPO).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _with_db_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@dataclass
class Database:
    kind: str  # "postgresql" | "sqlite"
    users: int
    contents: int
    seed_day: str
    work_dir: Path
    server_url: str = ""  # PostgreSQL: DATABASE_URL as given
    base_name: str = ""

    @property
    def template_name(self) -> str:
        return f"{self.base_name}_bench_tpl_u{self.users}_c{self.contents}"

    @property
    def run_name(self) -> str:
        return f"{self.base_name}_bench_run_{os.getpid()}"

    @property
    def marker(self) -> str:
        sizes = f"users={self.users} contents={self.contents}"
        return f"{MARK} template {sizes} day={self.seed_day} code={code_fingerprint()}"

    def url(self, which: str) -> str:
        if self.kind == "postgresql":
            return _with_db_name(self.server_url, self.template_name if which == "template" else self.run_name)
        return f"sqlite:///{self._file(which)}"

    def _file(self, which: str) -> Path:
        if which == "template":
            return self.work_dir / f"tpl_u{self.users}_c{self.contents}.sqlite3"
        return self.work_dir / f"run_{os.getpid()}.sqlite3"

    def _admin(self):
        import psycopg

        # Note: the server's own `postgres` database: the bench's may not exist yet, or be dropped.
        return psycopg.connect(_with_db_name(self.server_url, "postgres"), autocommit=True, connect_timeout=5)

    def _comments(self, conn) -> dict[str, str]:
        rows = conn.execute("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database").fetchall()
        return {name: comment or "" for name, comment in rows}

    def _drop_ours(self, conn, name: str) -> None:
        comment = self._comments(conn).get(name)
        if comment is None:
            return
        if not comment.startswith(MARK):
            raise RuntimeError(f"database {name!r} exists and was not created by the bench; not touching it")
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    def server_version(self) -> str:
        if self.kind != "postgresql":
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        with self._admin() as conn:
            return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0].split()[0]

    def prepare_template(self, env: dict, *, progress: bool) -> dict:
        """Seed the template unless a matching one exists. Returns {"seeded": bool, "seconds"}."""
        started = time.perf_counter()
        if self.kind == "postgresql":
            with self._admin() as conn:
                self._drop_stale_runs(conn)
                if self._comments(conn).get(self.template_name) == self.marker:
                    return {"seeded": False, "seconds": 0.0}
                self._drop_ours(conn, self.template_name)
                conn.execute(f'CREATE DATABASE "{self.template_name}"')
                conn.execute(f"COMMENT ON DATABASE \"{self.template_name}\" IS '{MARK} template (seeding)'")
            self._seed(env, progress=progress)
            with self._admin() as conn:
                conn.execute(f"COMMENT ON DATABASE \"{self.template_name}\" IS '{self.marker}'")
        else:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            path, meta = self._file("template"), self._file("template").with_suffix(".meta")
            if path.exists() and meta.exists() and meta.read_text() == self.marker:
                return {"seeded": False, "seconds": 0.0}
            for stale in (path, meta):
                stale.unlink(missing_ok=True)
            self._seed(env, progress=progress)
            meta.write_text(self.marker)
        return {"seeded": True, "seconds": round(time.perf_counter() - started, 2)}

    def _seed(self, env: dict, *, progress: bool) -> None:
        env = {**env, "DATABASE_URL": self.url("template"), "DJANGO_SETTINGS_MODULE": "resee.settings"}
        quiet = {} if progress else {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
        for args in (
            ["migrate", "--noinput", "-v", "0"],
            ["seed_demo", "--users", str(self.users), "--contents", str(self.contents)],
        ):
            subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, timeout=1800, **quiet)

    def fresh_run_copy(self) -> None:
        """(Re)create the run database as a copy of the template: every phase starts on the same rows."""
        if self.kind == "postgresql":
            with self._admin() as conn:
                self._drop_ours(conn, self.run_name)
                conn.execute(f'CREATE DATABASE "{self.run_name}" TEMPLATE "{self.template_name}"')
                conn.execute(f"COMMENT ON DATABASE \"{self.run_name}\" IS '{MARK} run pid={os.getpid()}'")
        else:
            self.drop_run()
            shutil.copyfile(self._file("template"), self._file("run"))

    def drop_run(self) -> None:
        if self.kind == "postgresql":
            with self._admin() as conn:
                self._drop_ours(conn, self.run_name)
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self._file('run')}{suffix}").unlink(missing_ok=True)

    def drop_template(self) -> None:
        if self.kind == "postgresql":
            with self._admin() as conn:
                self._drop_ours(conn, self.template_name)
        else:
            self._file("template").unlink(missing_ok=True)
            self._file("template").with_suffix(".meta").unlink(missing_ok=True)

    def _drop_stale_runs(self, conn) -> None:
        """Run databases left by a bench process that died (its pid is gone)."""
        for name, comment in self._comments(conn).items():
            if not comment.startswith(f"{MARK} run pid="):
                continue
            if not alive(int(comment.rsplit("=", 1)[1])):
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def database_for(*, users: int, contents: int, seed_day: str, work_dir: Path) -> Database:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return Database("sqlite", users, contents, seed_day, work_dir)
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"bench: DATABASE_URL must be PostgreSQL (or unset for SQLite), got {parts.scheme!r}")
    base = parts.path.lstrip("/") or "resee"
    return Database("postgresql", users, contents, seed_day, work_dir, server_url=url, base_name=base)
