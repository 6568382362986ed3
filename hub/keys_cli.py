"""`hub keys`: the data keys of encryption at rest (hub.crypto)."""

from __future__ import annotations

from typing import Annotated

import typer

keys_app = typer.Typer(
    help="Encryption at rest: data keys and their rotation.", no_args_is_help=True
)


@keys_app.command("new")
def new() -> None:
    """Print a fresh random 32-byte key (base64url), for HUB_DATA_KEYS or HUB_INDEX_KEY."""
    from hub.crypto import new_key

    typer.echo(new_key())


@keys_app.command("rotate")
def rotate(
    database: Annotated[
        str | None, typer.Option("--database", help="Database URL (default HUB_DATABASE_URL).")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")] = 500,
) -> None:
    """Re-encrypt every stored value under the current data key (HUB_DATA_KEY_CURRENT), in
    batches while the hub serves. Keep the old key ids configured until it has finished;
    running it again resumes (values already under the current key are skipped)."""
    import asyncio

    from hub.crypto import DataKeyError, KeyConfigError, configure
    from hub.db import Database
    from hub.keys import rotate as run_rotation
    from hub.settings import get_settings

    settings = get_settings()
    try:
        ring = configure(settings)
    except KeyConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None

    def progress(table: str, scanned: int, rewritten: int) -> None:
        typer.echo(f"{table}: {scanned} rows scanned, {rewritten} re-encrypted", err=True)

    async def go() -> None:
        db = Database(database or settings.database_url)
        try:
            out = await run_rotation(db.engine, ring, batch=batch, progress=progress)
        finally:
            await db.dispose()
        before = ", ".join(f"{k}: {n}" for k, n in sorted(out.by_key_before.items()))
        typer.echo(f"current key: {out.current}")
        typer.echo(f"values found by key before: {before or 'none'}")
        for table, n in out.rewritten.items():
            typer.echo(f"{table}: {out.scanned[table]} rows, {n} re-encrypted")

    try:
        asyncio.run(go())
    except DataKeyError as e:
        typer.echo(f"error: {e.code}: {e.message} (the batches before it are committed)", err=True)
        raise typer.Exit(1) from None
