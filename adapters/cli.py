"""`hub adapters ...` and `hub simulate ...`: operators' commands for the adapters.

Wired into `hub/cli.py`; imports stay inside the commands (start-up cost matters).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Annotated, Any

import typer

adapters_app = typer.Typer(
    help="Adapters: status, dead letters, replay, kill switch, run.", no_args_is_help=True
)
simulate_app = typer.Typer(help="Simulators of the external systems.", no_args_is_help=True)

AdapterOpt = Annotated[str, typer.Option("--adapter", help="Adapter name (his).")]
DatabaseOpt = Annotated[str | None, typer.Option("--database", help="Database URL.")]


def _hub(database: str | None) -> Any:
    from hub.core import build_hub
    from hub.logs import configure

    hub = build_hub(database_url=database) if database else build_hub()
    configure(hub.settings.log_level, hub.settings.log_json)
    return hub


def _operator() -> Any:
    from hub.access.principal import system

    return system("cli")


@adapters_app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="One adapter; default all.")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Counters per adapter: received, applied, duplicates, failed, dead-lettered, lag."""
    from adapters.runtime import control

    async def run() -> list[dict[str, Any]]:
        hub = _hub(database)
        try:
            async with hub.db.reader() as session:
                out = []
                for n in [name] if name else sorted(control.KNOWN):
                    s = await control.status(
                        session, _operator(), n, default=control.default_enabled(hub, n)
                    )
                    out.append(asdict(s))
                return out
        finally:
            await hub.db.dispose()

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2, default=str))


@adapters_app.command("dead-letters")
def dead_letters(
    adapter: AdapterOpt = "his",
    limit: Annotated[int, typer.Option(help="How many.")] = 50,
    after: Annotated[int | None, typer.Option(help="Page: ids after this one.")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Messages that could not be applied (rejected or given up), with the reason."""
    from adapters.runtime import control

    async def run() -> list[dict[str, Any]]:
        hub = _hub(database)
        try:
            async with hub.db.reader() as session:
                rows = await control.dead_letters(
                    session, _operator(), adapter, after=after, limit=limit
                )
                return [
                    {
                        "id": r.id,
                        "adapter": r.adapter,
                        "status": r.status,
                        "received_at": r.received_at.isoformat(),
                        "control_id": r.control_id,
                        "message_type": r.message_type,
                        "attempts": r.attempts,
                        "ack": r.ack_code,
                        "error_code": r.error_code,
                        "error": r.error_text,
                    }
                    for r in rows
                ]
        finally:
            await hub.db.dispose()

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))


@adapters_app.command("replay")
def replay(
    message_id: Annotated[int | None, typer.Argument(help="The dead letter's id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter of the adapter.")] = False,
    adapter: AdapterOpt = "his",
    database: DatabaseOpt = None,
) -> None:
    """Apply dead letters again (after fixing a code map or the data they wait for)."""
    from adapters.runtime import control
    from adapters.runtime.db import writing
    from adapters.runtime.log import dead_letter_ids
    from hub.errors import DomainError

    if (message_id is None) == (not all_):
        typer.echo("give a message id or --all", err=True)
        raise typer.Exit(2)

    async def run() -> dict[str, Any]:
        hub = _hub(database)
        try:
            impl = control.build(hub, adapter)
            results: list[Any] = []
            after: int | None = None
            while True:
                async with writing(hub.db) as session:
                    if message_id is not None:
                        ids = [message_id]
                    else:
                        ids = await dead_letter_ids(session, adapter, after=after, limit=200)
                    if not ids:
                        break
                    results += await control.replay(session, _operator(), impl, ids)
                if message_id is not None:
                    break
                after = ids[-1]
            return {**control.summarize(results), "results": [asdict(r) for r in results][:50]}
        finally:
            await hub.db.dispose()

    try:
        typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))
    except DomainError as e:
        typer.echo(f"error [{e.code}]: {e.message}", err=True)
        raise typer.Exit(2) from None


def _switch(name: str, enabled: bool, reason: str | None, database: str | None) -> None:
    from adapters.runtime import control
    from adapters.runtime.db import writing
    from hub.errors import DomainError

    async def run() -> None:
        hub = _hub(database)
        try:
            async with writing(hub.db) as session:
                await control.set_enabled(session, _operator(), name, enabled, reason)
        finally:
            await hub.db.dispose()

    try:
        asyncio.run(run())
    except DomainError as e:
        typer.echo(f"error [{e.code}]: {e.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{name}: {'enabled' if enabled else 'disabled'}")


@adapters_app.command("enable")
def enable(name: str, database: DatabaseOpt = None) -> None:
    """Switch an adapter on (running processes follow within seconds)."""
    _switch(name, True, None, database)


@adapters_app.command("disable")
def disable(
    name: str,
    reason: Annotated[str | None, typer.Option(help="Why (kept with the switch).")] = None,
    database: DatabaseOpt = None,
) -> None:
    """The kill switch: the adapter stops taking and applying messages; nothing is lost
    (the HIS keeps its queue while the listener is closed)."""
    _switch(name, False, reason, database)


@adapters_app.command("run")
def run_adapter(
    name: Annotated[str, typer.Argument(help="his, maternal, immunization or cdc")],
    host: Annotated[str | None, typer.Option(help="Listen address (HUB_HIS_MLLP_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (HUB_HIS_MLLP_PORT).")] = None,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="pull adapters: stop when nothing is newer.")
    ] = False,
    database: DatabaseOpt = None,
) -> None:
    """Run one adapter alone (its listener and loops), without the API."""
    if name not in ("his", "maternal", "immunization", "cdc"):
        typer.echo(f"no adapter '{name}' to run (his, maternal, immunization, cdc)", err=True)
        raise typer.Exit(2)

    async def main() -> None:
        hub = _hub(database)
        try:
            if name == "cdc":
                from adapters.cdc.adapter import run as run_cdc

                await run_cdc(hub, until_idle=until_idle)
            elif name == "immunization":
                from adapters.immunization.adapter import run as run_immunization

                await run_immunization(hub, until_idle=until_idle)
            elif name == "maternal":
                from adapters.maternal.adapter import run as run_maternal

                await run_maternal(hub, until_idle=until_idle)
            else:
                from adapters.his.adapter import run

                await run(hub, host=host, port=port)
        finally:
            await hub.db.dispose()

    try:
        import uvloop  # as `hub serve` (uvicorn --loop uvloop): sockets cost less

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


@simulate_app.command(
    "his",
    add_help_option=False,  # --help goes to the simulator's own options
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def simulate_his(ctx: typer.Context) -> None:
    """The simulated hospital: `hub simulate his --count 1000 --faults duplicate=0.1 ...`
    (see `hub simulate his --help`)."""
    from adapters.his.simulator import main

    raise typer.Exit(main(list(ctx.args)))


@simulate_app.command(
    "maternal",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def simulate_maternal(ctx: typer.Context) -> None:
    """The simulated maternal-child system (HTTP): `hub simulate maternal --port 8090
    --token T --seed 1 --faults all` (see `hub simulate maternal --help`)."""
    from adapters.maternal.simulator import main

    raise typer.Exit(main(list(ctx.args)))


@simulate_app.command(
    "immunization",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def simulate_immunization(ctx: typer.Context) -> None:
    """The simulated immunization information system (XML over HTTP): `hub simulate
    immunization --port 8091 --token T --seed 1 --faults all` (see its --help)."""
    from adapters.immunization.simulator import main

    raise typer.Exit(main(list(ctx.args)))


@simulate_app.command(
    "cdc",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def simulate_cdc(ctx: typer.Context) -> None:
    """The simulated infectious-disease reporting system (TB notifications, JSON):
    `hub simulate cdc --port 8092 --token T --seed 1 --faults all` (see its --help)."""
    from adapters.cdc.simulator import main

    raise typer.Exit(main(list(ctx.args)))
