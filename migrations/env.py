"""Alembic environment: async engines (aiosqlite / asyncpg), batch mode for SQLite."""

import asyncio
import contextlib
from collections.abc import Iterator
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import hub.models  # noqa: F401  (registers every table)
from hub.db import Base
from hub.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = _url()
    if url.startswith("sqlite"):
        from hub.db import _ensure_sqlite_dir

        _ensure_sqlite_dir(url)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    with _sqlite_file_lock(url):
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # N processes upgrading together: one runs the migrations, the others wait
                # here and then find the schema at its heads (a session lock: it outlives
                # the commit and ends with the connection).
                await connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATE_LOCK})
                await connection.commit()
            await connection.run_sync(do_run_migrations)
    await engine.dispose()


MIGRATE_LOCK = 0x6875625F6D6967  # "hub_mig": the advisory lock key of `alembic upgrade`


@contextlib.contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    """On SQLite, an exclusive lock on `<database>.migrate.lock` around the upgrade."""
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if not path or path == ":memory:":
        yield
        return
    import fcntl

    with open(f"{path}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async_migrations())
