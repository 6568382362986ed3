"""What every report returns: titled tables of rows, with the columns' Chinese headings and
kinds, so GraphQL, CSV/XLSX export and the dashboard all read one shape."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "int", "share", "money", "hours"]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    heading_zh: str
    kind: Kind = "int"


@dataclass(slots=True)
class Table:
    name: str
    title_zh: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] | None = None


@dataclass(slots=True)
class Report:
    """A report: its title (with region and period) and one or more tables."""

    name: str
    title_zh: str
    tables: list[Table]
    args: dict[str, Any] = field(default_factory=dict)
    # When it was read from the refreshed rollup (hub.reports.snapshots): its staleness.
    # None: computed now.
    refreshed_at: dt.datetime | None = None

    @property
    def main(self) -> Table:
        return self.tables[0]


def share(part: int, whole: int) -> float | None:
    """A coverage as a fraction rounded to 4 places (0.3124); None when nothing to cover."""
    return round(part / whole, 4) if whole else None
