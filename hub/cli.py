"""The `hub` command line. Imports stay inside commands: start-up cost matters for a CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

app = typer.Typer(
    help="Family doctor contract services hub (家庭医生签约服务信息交换平台).",
    no_args_is_help=True,
    add_completion=False,
)
client_app = typer.Typer(help="API clients and their tokens.", no_args_is_help=True)
app.add_typer(client_app, name="client")
source_app = typer.Typer(
    help="Source systems: the keys records are written as, and their trust.", no_args_is_help=True
)
app.add_typer(source_app, name="source")
webhooks_app = typer.Typer(
    help="Webhooks: failed deliveries and their replay.", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")
linkage_app = typer.Typer(help="Record linkage (MPI): the matching model.", no_args_is_help=True)
app.add_typer(linkage_app, name="linkage")
contracts_app = typer.Typer(help="Contracts (签约): the expiry roll.", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")
from adapters.cli import adapters_app, simulate_app  # noqa: E402  (typer only at import)
from hub.access.audit_cli import audit_app  # noqa: E402

app.add_typer(audit_app, name="audit")

app.add_typer(adapters_app, name="adapters")
app.add_typer(simulate_app, name="simulate")
from hub.imports.cli import import_app, report, report_refresh  # noqa: E402  (typer only at import)

app.add_typer(import_app, name="import")
app.command("report")(report)
app.command("report-refresh")(report_refresh)
from hub.immunization.cli import immunization_app  # noqa: E402

app.add_typer(immunization_app, name="immunization")
from hub.keys_cli import keys_app  # noqa: E402

app.add_typer(keys_app, name="keys")

T = TypeVar("T")

DatabaseOpt = Annotated[
    str | None, typer.Option("--database", help="Database URL (default HUB_DATABASE_URL).")
]


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
def backup(
    path: Annotated[Path, typer.Argument(help="Where the backup is written.")],
    database: DatabaseOpt = None,
) -> None:
    """Back up the whole database while the hub serves (SQLite: the online backup API;
    PostgreSQL: pg_dump, custom format)."""
    from hub.backup import BackupError
    from hub.backup import backup as take

    try:
        size = take(_url(database), path)
    except BackupError as exc:
        typer.echo(f"{exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backup written: {path} ({size} bytes)")


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A backup written by `hub backup`.")],
    database: DatabaseOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a database that already holds a hub.")
    ] = False,
) -> None:
    """Restore a backup into the database (PostgreSQL: it must exist; pg_restore)."""
    from hub.backup import BackupError
    from hub.backup import restore as load

    try:
        load(_url(database), path, replace=replace)
    except BackupError as exc:
        typer.echo(f"{exc.code}: {exc.message}", err=True)
        raise typer.Exit(2 if exc.code == "RESTORE_TARGET_NOT_EMPTY" else 1) from None
    typer.echo(f"restored from {path}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (HUB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (HUB_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    no_adapters: Annotated[
        bool,
        typer.Option(
            "--no-adapters",
            help="API only: start no adapter here (run them with "
            "`hub adapters run NAME` as workers of their own).",
        ),
    ] = False,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate",
            help="Upgrade the schema first (alembic upgrade heads); "
            "processes starting together run it once, the others wait.",
        ),
    ] = False,
) -> None:
    """Serve the GraphQL API (and start the adapters that are enabled)."""
    import os

    import uvicorn

    from hub.settings import get_settings

    if no_adapters:  # the workers uvicorn spawns read the same environment
        os.environ["HUB_ADAPTERS_ENABLED"] = "false"
        get_settings.cache_clear()
    s = get_settings()
    if migrate_first:
        from hub.migrate import upgrade

        upgrade(s.database_url)
    uvicorn.run(
        "hub.app:create_app",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )


@app.command()
def demo(
    database: DatabaseOpt = None,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Only when the registry is empty.")
    ] = False,
    scale: Annotated[float, typer.Option(help="Size factor for the generated districts.")] = 1.0,
) -> None:
    """Load the deterministic synthetic districts of the five seed regions."""
    from hub.demo.load import load_demo

    loaded = asyncio.run(load_demo(_url(database), if_empty=if_empty, scale=scale))
    typer.echo(loaded)
    if loaded.startswith("loaded"):  # contracts, referrals, a low-income list (hub.reports.demo)
        from hub.reports.demo import add_report_demo

        typer.echo("report data: " + asyncio.run(add_report_demo(_url(database))))


# ---- clients and source systems -------------------------------------------------------

ScopesOpt = Annotated[
    list[str] | None, typer.Option("--scope", help="A scope; repeat for several.")
]
OrganizationsOpt = Annotated[
    list[str] | None,
    typer.Option("--organization", help="Bind to an organization id; repeat for several."),
]
PractitionersOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--practitioner", help="Bind to a practitioner id (a family doctor's app); repeat."
    ),
]
SourcesOpt = Annotated[
    list[str] | None,
    typer.Option("--source", help="A registered source system it may write records as; repeat."),
]
ExpiresOpt = Annotated[
    str | None,
    typer.Option(
        "--expires",
        help="The token stops working at this time: YYYY-MM-DD (00:00 UTC) or an "
        "ISO 8601 time (UTC unless it says otherwise).",
    ),
]
ExpiresInOpt = Annotated[
    str | None,
    typer.Option(
        "--expires-in", help="The token stops working after this long: 90d, 12h, 30m or 2w."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RateOpt = Annotated[
    str | None,
    typer.Option("--rate", help="Requests per minute, e.g. 600/min (0: unlimited; default "
                 "HUB_DEFAULT_RATE_PER_MINUTE)."),
]
CostOpt = Annotated[
    str | None,
    typer.Option("--cost", help="Query cost per minute, e.g. 100000/min (0: unlimited; "
                 "default HUB_DEFAULT_COST_PER_MINUTE)."),
]
IntrospectionOpt = Annotated[
    bool | None,
    typer.Option("--introspection/--no-introspection",
                 help="Allow schema introspection (default: on in development mode, admins "
                      "only in production)."),
]


def _per_minute(value: str | None, option: str) -> int | None:
    """'600/min', '600/m', '10/s', '36000/h' or '600' as a count per minute."""
    if value is None:
        return None
    count, _, unit = value.strip().lower().partition("/")
    factor = {"": 1.0, "m": 1.0, "min": 1.0, "s": 60.0, "sec": 60.0, "h": 1 / 60,
              "hour": 1 / 60}.get(unit)  # fmt: skip
    if factor is None or not count.isdigit():
        raise _fail("INVALID_BUDGET", f"{option} is a count per minute like 600/min, got {value!r}")
    return round(int(count) * factor)

_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _fail(code: str, message: str) -> typer.Exit:
    typer.echo(f"error [{code}]: {message}", err=True)
    return typer.Exit(2)


def _expiry(expires: str | None, expires_in: str | None) -> dt.datetime | None:
    """--expires / --expires-in as an aware UTC time (None: neither was given)."""
    if expires and expires_in:
        raise _fail("INVALID_EXPIRY", "give --expires or --expires-in, not both")
    if expires_in:
        value = expires_in.strip().lower()
        unit = _DURATION_UNITS.get(value[-1:])
        if unit is None or not value[:-1].isdigit():
            raise _fail(
                "INVALID_EXPIRY",
                f"--expires-in must be a number and a unit (90d, 12h, 30m, 2w), got {expires_in!r}",
            )
        return dt.datetime.now(dt.UTC) + dt.timedelta(**{unit: int(value[:-1])})
    if expires:
        try:
            when = dt.datetime.fromisoformat(expires.strip())
        except ValueError:
            raise _fail(
                "INVALID_EXPIRY",
                f"--expires must be YYYY-MM-DD or an ISO 8601 time, got {expires!r}",
            ) from None
        return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    return None


def _in_session(database: str | None, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(session)` in one transaction; a domain error is printed with its code
    (stderr, exit 2) and nothing is committed."""
    from hub.db import Database
    from hub.errors import DomainError

    async def run() -> T:
        db = Database(_url(database))
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except DomainError as e:
        raise _fail(e.code, e.message) from None


def _status(client: Any) -> str:
    if not client.active:
        return "revoked"
    if client.expires_at is not None and client.expires_at <= dt.datetime.now(dt.UTC):
        return "expired"
    return "active"


def _when(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


def _client_dict(client: Any) -> dict[str, Any]:
    """What may be shown of a client: never its token hash."""
    return {
        "id": client.id,
        "name": client.name,
        "status": _status(client),
        "scopes": list(client.scopes),
        "organization_ids": list(client.organization_ids or ()),
        "practitioner_ids": list(client.practitioner_ids or ()),
        "sources": list(client.sources or ()),
        "created_at": _when(client.created_at),
        "expires_at": _when(client.expires_at),
        "revoked_at": _when(client.revoked_at),
        "rotated_at": _when(client.rotated_at),
        "rate_per_minute": client.rate_per_minute,  # None: the settings' default
        "cost_per_minute": client.cost_per_minute,
        "introspection": client.introspection,
    }


def _summary(client: Any) -> str:
    d = _client_dict(client)
    parts = [
        f"client {d['id']} '{d['name']}' ({d['status']})",
        f"scopes={','.join(d['scopes']) or '-'}",
    ]
    for key, label in (
        ("organization_ids", "organizations"),
        ("practitioner_ids", "practitioners"),
        ("sources", "sources"),
    ):
        if d[key]:
            parts.append(f"{label}={','.join(d[key])}")
    parts.append(f"expires={d['expires_at'] or 'never'}")
    for key, label in (("rate_per_minute", "rate"), ("cost_per_minute", "cost")):
        if d[key] is not None:
            parts.append(f"{label}={d[key] or 'unlimited'}{'/min' if d[key] else ''}")
    return " ".join(parts)


def _print_json(value: Any) -> None:
    import json

    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A table on stdout: rich when installed (a wide console when piped, so no cell is
    folded), plain aligned columns otherwise."""
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency today
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        for line in [headers, *rows]:
            typer.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=10_000)
    table = Table(*headers, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@client_app.command("create")
def client_create(
    name: str,
    scope: Annotated[list[str], typer.Option("--scope", help="A scope; repeat for several.")],
    organization: OrganizationsOpt = None,
    practitioner: PractitionersOpt = None,
    source: SourcesOpt = None,
    expires: ExpiresOpt = None,
    expires_in: ExpiresInOpt = None,
    rate: RateOpt = None,
    cost: CostOpt = None,
    introspection: IntrospectionOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Register an API client; prints its bearer token alone on the last line.

    A name already registered is refused: `hub client rotate NAME` gives it a new token."""
    from hub.access.service import create_client

    expires_at = _expiry(expires, expires_in)

    async def work(session: Any) -> str:
        client, token = await create_client(
            session,
            name,
            scope,
            organization or [],
            practitioner_ids=practitioner or [],
            sources=source or [],
            expires_at=expires_at,
            rate_per_minute=_per_minute(rate, "--rate"),
            cost_per_minute=_per_minute(cost, "--cost"),
            introspection=introspection,
        )
        return f"{_summary(client)}\n{token}"

    typer.echo(_in_session(database, work))


@client_app.command("list")
def client_list(as_json: JsonOpt = False, database: DatabaseOpt = None) -> None:
    """Every client: scopes, bindings, status (active, revoked, expired) and expiry."""
    from hub.access.service import list_clients

    async def work(session: Any) -> list[dict[str, Any]]:
        return [_client_dict(c) for c in await list_clients(session)]

    clients = _in_session(database, work)
    if as_json:
        _print_json(clients)
        return
    if not clients:
        typer.echo("no clients (hub client create NAME --scope S)")
        return
    _print_table(
        ["id", "name", "scopes", "organizations", "practitioners", "sources", "status", "expires"],
        [
            [
                str(c["id"]),
                c["name"],
                ",".join(c["scopes"]),
                ",".join(c["organization_ids"]),
                ",".join(c["practitioner_ids"]),
                ",".join(c["sources"]),
                c["status"],
                c["expires_at"] or "never",
            ]
            for c in clients
        ],
    )


@client_app.command("show")
def client_show(name: str, as_json: JsonOpt = False, database: DatabaseOpt = None) -> None:
    """One client's details (never its token: that was shown once, at create or rotate)."""
    from hub.access.service import get_client

    async def work(session: Any) -> dict[str, Any]:
        return _client_dict(await get_client(session, name))

    client = _in_session(database, work)
    if as_json:
        _print_json(client)
        return
    for key, value in client.items():
        shown = ",".join(value) if isinstance(value, list) else value
        typer.echo(f"{key + ':':<18}{shown if shown not in (None, '') else '-'}")


@client_app.command("revoke")
def client_revoke(name: str, database: DatabaseOpt = None) -> None:
    """Revoke a client: its token stops working.

    Running servers follow within their token cache's lifetime (30 s). `hub client rotate
    NAME` brings the client back with a new token."""
    from hub.access.service import revoke_client

    async def work(session: Any) -> str:
        return _summary(await revoke_client(session, name))

    typer.echo(_in_session(database, work))


@client_app.command("rotate")
def client_rotate(
    name: str,
    expires: ExpiresOpt = None,
    expires_in: ExpiresInOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """A new token for a client; prints it alone on the last line.

    The old token stops working; a revoked client is active again."""
    from hub.access.service import rotate_client

    expires_at = _expiry(expires, expires_in)

    async def work(session: Any) -> str:
        client, token = await rotate_client(session, name, expires_at=expires_at)
        return f"{_summary(client)}\n{token}"

    typer.echo(_in_session(database, work))


@client_app.command("update")
def client_update(
    name: str,
    scope: ScopesOpt = None,
    organization: OrganizationsOpt = None,
    practitioner: PractitionersOpt = None,
    source: SourcesOpt = None,
    expires: ExpiresOpt = None,
    expires_in: ExpiresInOpt = None,
    no_expiry: Annotated[
        bool, typer.Option("--no-expiry", help="The token no longer expires.")
    ] = False,
    rate: RateOpt = None,
    cost: CostOpt = None,
    introspection: IntrospectionOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Change a client's scopes, bindings, sources, expiry or budgets (the token stays).

    Each option given replaces that whole list; the ones not given stay as they are."""
    from hub.access.service import update_client

    expires_at = _expiry(expires, expires_in)
    if no_expiry and expires_at is not None:
        raise _fail("INVALID_EXPIRY", "give --no-expiry or an expiry, not both")

    async def work(session: Any) -> str:
        client = await update_client(
            session,
            name,
            scopes=scope,
            organization_ids=organization,
            practitioner_ids=practitioner,
            sources=source,
            expires_at=expires_at,
            rate_per_minute=_per_minute(rate, "--rate"),
            cost_per_minute=_per_minute(cost, "--cost"),
            introspection=introspection,
        )
        if no_expiry:
            client.expires_at = None
        await session.flush()
        return _summary(client)

    typer.echo(_in_session(database, work))


@client_app.command("oauth")
def client_oauth(
    name: str,
    redirect_uri: Annotated[
        list[str],
        typer.Option("--redirect-uri", help="Where codes may be sent (repeat for several)."),
    ],
    database: DatabaseOpt = None,
) -> None:
    """Register a residents:delegate client as an OAuth 2.0 public app (SMART standalone
    launch, PKCE S256): its client_id is NAME; each --redirect-uri replaces the list."""
    from hub.access.oauth import register

    async def work(session: Any) -> str:
        app = await register(session, name, redirect_uri)
        return f"client_id={name} redirect_uris={' '.join(app.redirect_uris)}"

    typer.echo(_in_session(database, work))


def _source_dict(row: Any) -> dict[str, Any]:
    return {
        "key": row.key,
        "name": row.name,
        "trust": row.trust,
        "verifies_identity": row.verifies_identity,
    }


@source_app.command("list")
def source_list(as_json: JsonOpt = False, database: DatabaseOpt = None) -> None:
    """The source systems, most trusted first: the order golden-record fields are taken in."""
    from hub.access.service import list_sources

    async def work(session: Any) -> list[dict[str, Any]]:
        return [_source_dict(s) for s in await list_sources(session)]

    sources = _in_session(database, work)
    if as_json:
        _print_json(sources)
        return
    _print_table(
        ["key", "name", "trust", "verifies identity"],
        [
            [s["key"], s["name"], str(s["trust"]), "yes" if s["verifies_identity"] else "no"]
            for s in sources
        ],
    )


@source_app.command("add")
def source_add(
    key: str,
    trust: Annotated[
        int,
        typer.Option(
            "--trust", help="0-1000; a higher trust wins a golden-record field (his is 100)."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="A readable name (default: the key, or unchanged when re-ranking)."
        ),
    ] = None,
    verifies_identity: Annotated[
        bool | None,
        typer.Option(
            "--verifies-identity/--no-verifies-identity",
            help="Its identity is checked against the ID card (default: no, or unchanged).",
        ),
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Register a source system, or re-rank (rename) an existing one.

    Running servers pick the new ranking up within seconds."""
    from hub.access.models import SourceSystem
    from hub.access.service import add_source

    async def work(session: Any) -> str:
        before = await session.get(SourceSystem, key)
        old = None if before is None else before.trust
        verifies = verifies_identity
        if verifies is None:
            verifies = bool(before.verifies_identity) if before is not None else False
        row = await add_source(session, key, name or "", trust=trust, verifies_identity=verifies)
        what = "added" if old is None else f"re-ranked: trust {old} -> {row.trust}"
        return (
            f"source {row.key} '{row.name}' trust={row.trust} "
            f"verifies_identity={'yes' if row.verifies_identity else 'no'} ({what})"
        )

    typer.echo(_in_session(database, work))


@app.command("export-schema")
def export_schema(
    out: Annotated[Path, typer.Option(help="Where to write the SDL.")] = Path(
        "schema/schema.graphql"
    ),
) -> None:
    """Write the GraphQL SDL (schema/schema.graphql)."""
    from schema import build_schema

    out.write_text(build_schema().as_str() + "\n", encoding="utf-8")
    typer.echo(f"wrote {out}")


@contracts_app.command("roll")
def contracts_roll(
    date: Annotated[
        str | None, typer.Option("--date", help="Roll to this day, YYYY-MM-DD (default: today).")
    ] = None,
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
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON lines: source, source_id, name, sex, birth_date, id_number, phone, address, "
            "… (absent = unknown)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: source,source_id,person_id.")],
    database: Annotated[
        str | None,
        typer.Option(
            "--database", help="Link into this database (default: a new SQLite file in var/link/)."
        ),
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
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where to write the model file.")
    ] = Path("var/linkage-models"),
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
    delivery: Annotated[
        list[int] | None,
        typer.Option(
            "--delivery", help="A delivery id; repeat for several. Default: every FAILED one."
        ),
    ] = None,
    webhook: Annotated[
        int | None, typer.Option(help="Only this webhook's failed deliveries.")
    ] = None,
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
            return [
                f"delivery {r.id} (event {r.event_id}): {r.status}"
                + (f" ({r.last_error})" if r.last_error else "")
                for r in rows
                if r is not None
            ]
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
