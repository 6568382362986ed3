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
webhooks_app = typer.Typer(help="Webhooks: failed deliveries and their replay.",
                           no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
linkage_app = typer.Typer(help="Record linkage (MPI): the matching model.", no_args_is_help=True)
app.add_typer(linkage_app, name="linkage")
contracts_app = typer.Typer(help="Contracts (签约): the expiry roll.", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")
from adapters.cli import adapters_app, simulate_app  # noqa: E402  (typer only at import)

app.add_typer(adapters_app, name="adapters")
app.add_typer(simulate_app, name="simulate")

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


@app.command()
def link(
    file: Annotated[Path, typer.Argument(
        help="JSON lines: source, source_id, name, sex, birth_date, id_number, phone, address, "
        "… (absent = unknown).")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: source,source_id,person_id.")],
    database: Annotated[str | None, typer.Option(
        "--database", help="Link into this database (default: a new SQLite file in var/link/).")
    ] = None,
    batch: Annotated[int, typer.Option(help="Records per transaction.")] = 4000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Link every record of FILE through the matcher (the same one the API uses) and write
    each record's person: the final resident id. Bad lines are reported and skipped."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from hub.registry.linkfile import BadLine, fresh_database, link_file

    err = Console(stderr=True)
    if not file.is_file():
        err.print(f"error: no such file: {file}")
        raise typer.Exit(2)
    if database:
        from hub.migrate import upgrade

        url, ready = database, None
        upgrade(url)
    else:
        url, ready = fresh_database(Path("var") / "link", file.stem)
    progress = Progress(TextColumn("linking"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                        TextColumn("{task.fields[records]:,} records"), TimeElapsedColumn(),
                        console=err, disable=quiet, transient=False)  # fmt: skip
    task = progress.add_task("link", total=file.stat().st_size or 1, records=0)

    def bad(line: BadLine) -> None:
        progress.console.print(f"line {line.line}: skipped: {line.problem}")

    def advance(done: int, records: int) -> None:
        progress.update(task, completed=done, records=records)

    with progress:
        report = asyncio.run(link_file(file, out, url, batch_size=batch, on_bad_line=bad,
                                       on_progress=advance, before_first_write=ready,
                                       fresh=not database))  # fmt: skip
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(report.outcomes.items()))
    err.print(f"linked {report.records:,} records in {report.seconds:.1f} s "
              f"({report.per_second:,.0f}/s; {outcomes}); "
              f"{report.bad_lines} bad lines skipped")  # fmt: skip
    err.print(f"database: {url}")
    typer.echo(f"wrote {out}")


@linkage_app.command("train")
def linkage_train(
    out_dir: Annotated[Path, typer.Option(
        "--out-dir", help="Where to write the model file.")] = Path("var/linkage-models"),
    sample: Annotated[int, typer.Option(help="At most this many source records.")] = 200_000,
    database: DatabaseOpt = None,
) -> None:
    """Re-estimate the linkage model (m/u) from the registry's source records with Splink on
    DuckDB (EM), and write a new versioned model file. Serve it with HUB_LINKAGE_MODEL=path."""
    from hub.registry.training import train_from_registry

    path, model = asyncio.run(train_from_registry(_url(database), out_dir, sample=sample))
    typer.echo(f"model {model['version']} from {model['trained']['records']:,} records")
    typer.echo(f"wrote {path}\nserve it with: HUB_LINKAGE_MODEL={path}")


@linkage_app.command("compact")
def linkage_compact(database: DatabaseOpt = None) -> None:
    """Merge the recent blocking keys into the settled index now (in key order). Linking
    does it by itself when enough have gathered; run it after a bulk load, or before a
    backup, to leave the recent table empty."""
    from hub.db import Database
    from hub.registry.mpi_index import compact

    async def run() -> int:
        db = Database(_url(database))
        try:
            async with db.transaction() as session:
                return await compact(session, force=True)
        finally:
            await db.dispose()

    typer.echo(f"merged {asyncio.run(run()):,} recent blocking keys")


@webhooks_app.command("replay")
def webhooks_replay(
    delivery: Annotated[list[int] | None, typer.Option(
        "--delivery", help="A delivery id; repeat for several. Default: every FAILED one.")] = None,
    webhook: Annotated[int | None, typer.Option(help="Only this webhook's failed deliveries.")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Send failed webhook deliveries again now (each gets a fresh set of retries)."""
    from hub.access.principal import system
    from hub.db import Database
    from hub.events import webhooks
    from hub.events.dispatch import WebhookDispatcher
    from hub.events.settings import EventSettings

    async def run() -> list[str]:
        db = Database(_url(database))
        dispatcher = WebhookDispatcher(db, EventSettings())
        try:
            async with db.transaction() as session:
                ids = delivery or await webhooks.failed_ids(session, webhook)
                for i in ids:
                    await webhooks.replay(session, system("cli"), i)
            await dispatcher.start_client()
            await dispatcher.deliver_due(only=list(ids))
            async with db.reader() as session:
                rows = [await session.get(webhooks.WebhookDelivery, i) for i in ids]
            # PENDING: this attempt failed and will be retried, or a running server took it
            return [f"delivery {r.id} (event {r.event_id}): {r.status}"
                    + (f" ({r.last_error})" if r.last_error else "")
                    for r in rows if r is not None]
        finally:
            await dispatcher.stop()
            await db.dispose()

    from hub.errors import DomainError

    try:
        lines = asyncio.run(run())
    except DomainError as e:
        typer.echo(f"error [{e.code}]: {e.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo("\n".join(lines) if lines else "no failed deliveries")

def main() -> None:
    app()


if __name__ == "__main__":
    main()
