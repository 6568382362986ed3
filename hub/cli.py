"""The `hub` command line. Imports stay inside commands: start-up cost matters for a CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Family doctor contract services hub (家庭医生签约服务信息交换平台).",
                  no_args_is_help=True, add_completion=False)
client_app = typer.Typer(help="API clients and their tokens.", no_args_is_help=True)
app.add_typer(client_app, name="client")
contracts_app = typer.Typer(help="Contracts (签约): the expiry roll.", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")

DatabaseOpt = Annotated[str | None, typer.Option("--database", help="Database URL (default HUB_DATABASE_URL).")]


def _url(database: str | None) -> str:
    from hub.settings import get_settings

    return database or get_settings().database_url


@app.command()
def migrate(database: DatabaseOpt = None) -> None:
    """Bring the database schema up to date (alembic upgrade heads)."""
    from hub.migrate import upgrade

    upgrade(_url(database))
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (HUB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (HUB_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the GraphQL API (and start the adapters that are enabled)."""
    import uvicorn

    from hub.settings import get_settings

    s = get_settings()
    uvicorn.run("hub.app:create_app", factory=True, host=host or s.host, port=port or s.port,
                workers=workers, loop="uvloop", http="httptools", log_level="warning")


@app.command()
def demo(
    database: DatabaseOpt = None,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only when the registry is empty.")] = False,
    scale: Annotated[float, typer.Option(help="Size factor for the generated districts.")] = 1.0,
) -> None:
    """Load the deterministic synthetic districts of the five seed regions."""
    from hub.demo.load import load_demo

    loaded = asyncio.run(load_demo(_url(database), if_empty=if_empty, scale=scale))
    typer.echo(loaded)


@client_app.command("create")
def client_create(
    name: str,
    scope: Annotated[list[str], typer.Option("--scope", help="A scope; repeat for several.")],
    organization: Annotated[list[str] | None, typer.Option(
        "--organization", help="Bind to an organization id; repeat for several.")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Register an API client. Prints its bearer token alone on the last line."""
    from hub.access.service import create_client
    from hub.db import Database
    from hub.errors import DomainError

    async def run() -> str:
        db = Database(_url(database))
        try:
            async with db.transaction() as session:
                client, token = await create_client(session, name, scope, organization or [])
                return f"client {client.id} '{client.name}' scopes={','.join(client.scopes)}\n{token}"
        finally:
            await db.dispose()

    try:
        typer.echo(asyncio.run(run()))
    except DomainError as e:
        typer.echo(f"error [{e.code}]: {e.message}", err=True)
        raise typer.Exit(2) from None


@app.command("export-schema")
def export_schema(out: Annotated[Path, typer.Option(help="Where to write the SDL.")] = Path("schema/schema.graphql")) -> None:
    """Write the GraphQL SDL (schema/schema.graphql)."""
    from schema import build_schema

    out.write_text(build_schema().as_str() + "\n", encoding="utf-8")
    typer.echo(f"wrote {out}")


@contracts_app.command("roll")
def contracts_roll(
    date: Annotated[str | None, typer.Option(
        "--date", help="Roll to this day, YYYY-MM-DD (default: today).")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Apply expiry to every contract whose period ended before DATE: auto-renew, fall back to
    the free package, convert to no-fee signing, or expire (期满处理). Safe to run twice."""
    import datetime as dt

    from hub.contracts.roll import roll
    from hub.db import Database

    try:
        day = dt.date.fromisoformat(date) if date else dt.date.today()
    except ValueError:
        typer.echo(f"error: --date must be YYYY-MM-DD, got {date!r}", err=True)
        raise typer.Exit(2) from None

    async def run() -> str:
        db = Database(_url(database))
        try:
            return str(await roll(db, day))
        finally:
            await db.dispose()

    typer.echo(asyncio.run(run()))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
