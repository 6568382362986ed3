"""`hub backup PATH` / `hub restore PATH`: a consistent copy of the whole hub database, taken
while it serves.

SQLite: the online backup API (`sqlite3.Connection.backup`): one consistent snapshot, even
with writers busy (WAL mode: they go on while it copies). PostgreSQL: `pg_dump --format
custom` (one repeatable-read snapshot) and `pg_restore --clean --if-exists --no-owner`.
A restore refuses a database that already holds a hub unless told to replace it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.errors import DomainError


class BackupError(DomainError):
    pass


def _sqlite_path(url: str) -> Path:
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        raise BackupError("An in-memory database has nothing to back up.", code="BACKUP_NO_FILE")
    return Path(path)


def _pg(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq connection arguments and environment for pg_dump / pg_restore (the password
    goes in the environment, never on a command line)."""
    u = make_url(url)
    args = ["--host", u.host or "127.0.0.1", "--port", str(u.port or 5432)]
    if u.username:
        args += ["--username", u.username]
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return [*args, "--dbname", u.database or "postgres"], env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools).",
                          code="BACKUP_TOOL_MISSING")  # fmt: skip
    return found


def backup(url: str, path: Path) -> int:
    """Write a backup of the database at `url` to `path`; returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        src = sqlite3.connect(_sqlite_path(url))
        tmp = path.with_name(path.name + ".part")
        dst = sqlite3.connect(tmp)
        try:
            with dst:
                src.backup(dst)  # one step: a single consistent snapshot
        finally:
            dst.close()
            src.close()
        tmp.replace(path)
    else:
        args, env = _pg(url)
        command = [_tool("pg_dump"), "--format", "custom", "--no-owner", "--file", str(path)]
        done = subprocess.run([*command, *args], env=env, capture_output=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.decode(errors='replace')[-500:]}",
                              code="BACKUP_FAILED")  # fmt: skip
    return path.stat().st_size


def _sqlite_has_hub(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with sqlite3.connect(path) as conn:
        return bool(conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone())  # fmt: skip


def restore(url: str, path: Path, *, replace: bool = False) -> None:
    """Load the backup at `path` into the database at `url` (which must exist on
    PostgreSQL). Refuses one that already holds a hub unless `replace`."""
    if not path.exists():
        raise BackupError(f"No backup at {path}.", code="BACKUP_NOT_FOUND")
    if url.startswith("sqlite"):
        target = _sqlite_path(url)
        if _sqlite_has_hub(target) and not replace:
            raise BackupError("The database already holds a hub (restore --replace to overwrite).",
                              code="RESTORE_TARGET_NOT_EMPTY")  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(path)
        dst = sqlite3.connect(target)
        try:
            with dst:
                src.backup(dst)
        finally:
            dst.close()
            src.close()
        return
    args, env = _pg(url)
    if not replace:
        probe = subprocess.run([_tool("psql"), *args, "-tAc",
                                "SELECT to_regclass('public.alembic_version') IS NOT NULL"],
                               env=env, capture_output=True, text=True)  # fmt: skip
        if probe.returncode != 0:
            raise BackupError(f"Cannot reach the database: {probe.stderr[-300:]}",
                              code="RESTORE_FAILED")  # fmt: skip
        if probe.stdout.strip() == "t":
            raise BackupError("The database already holds a hub (restore --replace to overwrite).",
                              code="RESTORE_TARGET_NOT_EMPTY")  # fmt: skip
    done = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
                           "--single-transaction", "--exit-on-error", *args, str(path)],
                          env=env, capture_output=True)  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.decode(errors='replace')[-500:]}",
                          code="RESTORE_FAILED")  # fmt: skip
