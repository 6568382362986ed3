"""`hub immunization …`: the forecast a clinic can script, and the daily recompute."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

immunization_app = typer.Typer(
    help="Immunization (预防接种): the national schedule, forecasts, due lists.",
    no_args_is_help=True,
)


@immunization_app.command("forecast")
def forecast_command(
    file: Annotated[str, typer.Argument(help="JSON file, or - for standard input.")],
    schedule: Annotated[
        Path | None, typer.Option("--schedule", help="Schedule data file (default: 2021).")
    ] = None,
) -> None:
    """Evaluate doses and forecast each series.

    Input: {"birthDate", "asOf", "doses": [{"vaccine", "date"}]}; bad input exits with 2.
    """
    from hub.immunization.forecast import ForecastInputError, forecast, parse_request
    from hub.immunization.schedule import load_schedule

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        typer.echo(f"error: (input): not JSON: {error.msg} at line {error.lineno}", err=True)
        raise typer.Exit(2) from None
    rules = load_schedule(str(schedule) if schedule else None)
    try:
        birth, doses, as_of = parse_request(raw, schedule=rules, today=dt.date.today())
    except ForecastInputError as error:
        typer.echo(f"error: {error.field}: {error.message}", err=True)
        typer.echo(
            json.dumps(
                {"error": {"code": error.code, "field": error.field, "message": error.message}},
                ensure_ascii=False,
            ),
            err=True,
        )
        raise typer.Exit(2) from None
    result = forecast(birth, doses, as_of, schedule=rules)
    typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
