# ruff: noqa: E501  (typer option declarations read better on one line)
"""`hub import low-income|insurance FILE` and `hub report NAME`: the CLI side of the lists
and the reports."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

import_app = typer.Typer(help="Lists that come in as files (低收入名单, 参保名单).",
                         no_args_is_help=True)  # fmt: skip

DatabaseOpt = Annotated[
    str | None, typer.Option("--database", help="Database URL (default HUB_DATABASE_URL).")
]
RegionOpt = Annotated[str, typer.Option("--region", help="Region policy key (wenzhou, jilin, …).")]


def _url(database: str | None) -> str:
    from hub.settings import get_settings

    return database or get_settings().database_url


def _run_import(database: str | None, kind: str, file: Path, **kw: Any) -> None:
    from hub.core import build_hub
    from hub.errors import DomainError
    from hub.imports import files

    async def run() -> Any:
        hub = build_hub(database_url=_url(database))
        try:
            async with hub.db.transaction(immediate=True) as session:
                data = files.read(file)
                if kind == "low-income":
                    from hub.imports.low_income import import_low_income

                    return await import_low_income(session, hub.registry, name=file.name,
                                                   data=data, **kw)  # fmt: skip
                from hub.imports.insurance import import_insurance

                return await import_insurance(session, hub.registry, name=file.name,
                                              data=data, **kw)  # fmt: skip
        finally:
            await hub.db.dispose()

    try:
        result = asyncio.run(run())
    except DomainError as e:
        typer.echo(f"{e.code}: {e.message}", err=True)
        raise typer.Exit(1) from None
    for r in result.rejected:
        typer.echo(str(r), err=True)
    typer.echo(result.summary)
    raise typer.Exit(0 if result.imported else 1)


@import_app.command("low-income")
def low_income(
    file: Path, region: RegionOpt,
    month: Annotated[str, typer.Option("--month", help="The list's month, YYYY-MM.")],
    database: DatabaseOpt = None,
) -> None:  # fmt: skip
    """Import a low-income list (乡镇（街道）, 村（社区）, 户主姓名, 户主身份证号, 姓名, 身份证号,
    与户主关系, 类别): bad rows are printed as `row N: CODE message`; exit 1 only when no
    row could be imported."""
    _run_import(database, "low-income", file, region=region, month=month)


@import_app.command("insurance")
def insurance(file: Path, region: RegionOpt, database: DatabaseOpt = None) -> None:
    """Import an insurance enrolment list (身份证号, 姓名, 参保类型, 参保日期[, 终止日期])."""
    _run_import(database, "insurance", file, region=region)


def report(
    name: Annotated[str, typer.Argument(help="coverage, low-income, package, fulfilment, referral or fee")],
    region: RegionOpt,
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout for CSV).")] = None,
    group_by: Annotated[str | None, typer.Option("--group-by")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (coverage)")] = None,
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM (low-income)")] = None,
    quarter: Annotated[str | None, typer.Option("--quarter", help="2026Q4 (package)")] = None,
    period: Annotated[str | None, typer.Option("--period", help="2026, 2026Q4 or 2026-11")] = None,
    database: DatabaseOpt = None,
) -> None:  # fmt: skip
    """Write a report as CSV or XLSX (the same report as GraphQL and /reports/NAME.FMT)."""
    from hub.access.principal import system
    from hub.db import Database
    from hub.errors import DomainError
    from hub.reports.export import FORMATS, render
    from hub.reports.service import run

    if fmt not in FORMATS:
        typer.echo(f"INVALID_FORMAT: --format must be csv or xlsx, not {fmt!r}", err=True)
        raise typer.Exit(2)
    if fmt == "xlsx" and out is None:
        typer.echo("MISSING_OUT: an XLSX report needs --out FILE", err=True)
        raise typer.Exit(2)
    args = {k: v for k, v in dict(region=region, groupBy=group_by, asOf=as_of, month=month,
                                  quarter=quarter, period=period).items() if v}  # fmt: skip

    async def go() -> bytes:
        db = Database(_url(database))
        try:
            async with db.reader() as session:
                return render(await run(session, system("cli:report"), name, args), fmt)
        finally:
            await db.dispose()

    try:
        data = asyncio.run(go())
    except DomainError as e:
        typer.echo(f"{e.code}: {e.message}", err=True)
        raise typer.Exit(2) from None
    if out is None:
        typer.echo(data.decode("utf-8-sig"), nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        typer.echo(f"wrote {out} ({len(data)} bytes)")


def report_refresh(
    region: Annotated[list[str] | None, typer.Option("--region", help="Region policy key; repeat for several (default: every region).")] = None,
    database: DatabaseOpt = None,
) -> None:  # fmt: skip
    """Recompute the report rollup (coverage and fulfilment snapshots for today) from
    scratch: what an unbound client's report answers from, stamped with this run's time.
    Run it from cron, or set HUB_REPORTS_REFRESH_EVERY for the server to."""
    import time

    from hub.db import Database
    from hub.errors import DomainError
    from hub.reports.jobs import RefreshSettings, refresh_all, regions

    keys = list(region or regions(RefreshSettings()))

    async def go() -> dict[str, int]:
        db = Database(_url(database))
        try:
            return await refresh_all(db, keys)
        finally:
            await db.dispose()

    t = time.perf_counter()
    try:
        done = asyncio.run(go())
    except DomainError as e:
        typer.echo(f"{e.code}: {e.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"refreshed {sum(done.values())} report snapshots for {', '.join(done)} "
               f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
