"""`hub audit`: show a resident's audit trail, verify the hash chain, prune by age."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

audit_app = typer.Typer(help="The privacy audit trail: who read or changed whose record.",
                        no_args_is_help=True)  # fmt: skip
T = TypeVar("T")
DatabaseOpt = Annotated[
    str | None, typer.Option("--database", help="Database URL (default HUB_DATABASE_URL).")
]


def _run(database: str | None, work: Callable[[Any], Awaitable[T]]) -> T:
    from hub.db import Database
    from hub.settings import get_settings

    async def run() -> T:
        db = Database(database or get_settings().database_url)
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _date(value: str, option: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        typer.echo(f"error [INVALID_DATE]: {option} is YYYY-MM-DD or ISO 8601, got {value!r}",
                   err=True)  # fmt: skip
        raise typer.Exit(2) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@audit_app.command("show")
def show(
    resident: Annotated[int | None, typer.Option("--resident", help="A resident id.")] = None,
    client: Annotated[int | None, typer.Option("--client", help="A client id.")] = None,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print FHIR AuditEvents.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Who read or changed a resident's record, when, through which operation."""
    from hub.access.audit import list_events
    from hub.access.principal import system

    async def work(session: Any) -> list[Any]:
        rows, _, _ = await list_events(
            session, system("cli"), resident_id=resident, client_id=client,
            since=_date(since, "--since") if since else None, limit=max(1, min(limit, 10_000)))
        return rows  # fmt: skip

    rows = _run(database, work)
    if as_json:
        import json

        from mappings.audit import audit_event

        typer.echo(json.dumps([audit_event(r) for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("no audit events")
    for r in rows:
        at = r.at.astimezone(dt.UTC).isoformat(timespec="seconds")
        typer.echo(f"{at}  {r.action:<5} {r.operation:<28} {r.actor:<24} "
                   f"client={r.client_id or '-'} request={r.request_id or '-'} "
                   f"residents={','.join(r.resident_ids)}")  # fmt: skip


@audit_app.command("verify")
def verify(database: DatabaseOpt = None) -> None:
    """Recompute the hash chain: exit 1 and name the rows when one was edited or removed."""
    from hub.access.audit import verify as check

    verdict = _run(database, check)
    for problem in verdict.problems:
        typer.echo(f"BROKEN {problem}")
    if not verdict.ok:
        typer.echo(f"audit chain BROKEN ({len(verdict.problems)} problems, {verdict.rows} rows)")
        raise typer.Exit(1)
    typer.echo(f"audit chain ok: {verdict.rows} rows")


@audit_app.command("prune")
def prune(
    before: Annotated[str, typer.Option("--before", help="Delete rows older than this date.")],
    database: DatabaseOpt = None,
) -> None:
    """Retention by age: delete the oldest rows; the chain stays verifiable (the last
    pruned row's hash is kept as its checkpoint)."""
    from hub.access.audit import prune as cut

    when = _date(before, "--before")
    removed = _run(database, lambda s: cut(s, when))
    typer.echo(f"pruned {removed} audit rows before {when.isoformat()}")
