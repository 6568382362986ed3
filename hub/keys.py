"""`hub keys rotate`: rewrite every encrypted value under the current data key.

Batches of rows in primary-key order, one transaction each, so the hub keeps serving and a
stopped run loses at most one batch; running it again skips what is done (a value already
under the current key is left alone), which is what makes it resumable. Rows are locked
while they are rewritten on PostgreSQL (FOR UPDATE); SQLite's single writer gives the same.
Values written before encryption was turned on (plain) are encrypted on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Table, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.crypto import EncryptedBytes, EncryptedJSON, EncryptedString, KeyRing, key_id_of

Encrypted = EncryptedString | EncryptedJSON | EncryptedBytes


def encrypted_columns() -> Iterator[tuple[Table, Column[Any], list[Column[Any]]]]:
    """(table, primary key, encrypted columns) of every table with encrypted columns."""
    import hub.models  # noqa: F401  (registers every table)
    from hub.db import Base

    for table in Base.metadata.sorted_tables:
        cols = [c for c in table.columns if isinstance(c.type, Encrypted)]
        pk = list(table.primary_key.columns)
        if cols and len(pk) == 1:
            yield table, pk[0], cols


def rewrap(raw: Any, typ: Encrypted, ring: KeyRing) -> Any:
    """The stored form of `raw` under the ring's current key, or None if it is already."""
    if raw is None or key_id_of(raw) == ring.current:
        return None
    value = typ.process_result_value(raw, None)  # type: ignore[arg-type]
    return typ.process_bind_param(value, None)  # type: ignore[arg-type]


@dataclass
class Rotation:
    current: str
    scanned: dict[str, int] = field(default_factory=dict)
    rewritten: dict[str, int] = field(default_factory=dict)
    by_key_before: dict[str, int] = field(default_factory=dict)  # key id (or "plain") -> values


async def rotate(
    engine: AsyncEngine,
    ring: KeyRing,
    *,
    batch: int = 500,
    progress: Callable[[str, int, int], None] | None = None,
) -> Rotation:
    """Re-encrypt every row whose values are not under `ring.current`; the ring must hold
    every key id still stored (a missing one raises DataKeyError and stops the run, with
    the batches before it committed)."""
    from hub import crypto

    crypto.use(ring)
    out = Rotation(ring.current)
    pg = engine.dialect.name == "postgresql"
    for table, pk, cols in encrypted_columns():
        name = table.name
        raw_cols = [type_coerce(c, c.type.impl_instance).label(c.name) for c in cols]
        after: Any = None
        out.scanned[name] = out.rewritten[name] = 0
        while True:
            async with engine.begin() as conn:
                stmt = select(pk, *raw_cols).order_by(pk).limit(batch)
                if after is not None:
                    stmt = stmt.where(pk > after)
                if pg:
                    stmt = stmt.with_for_update()
                rows = (await conn.execute(stmt)).all()
                if not rows:
                    break
                for row in rows:
                    changes: dict[str, Any] = {}
                    for c, raw in zip(cols, row[1:], strict=True):
                        if raw is not None:
                            kid = key_id_of(raw) or "plain"
                            out.by_key_before[kid] = out.by_key_before.get(kid, 0) + 1
                        new = rewrap(raw, c.type, ring)  # type: ignore[arg-type]
                        if new is not None:
                            changes[c.name] = type_coerce(new, c.type.impl_instance)
                    if changes:
                        await conn.execute(update(table).where(pk == row[0]).values(**changes))
                        out.rewritten[name] += 1
                out.scanned[name] += len(rows)
                after = rows[-1][0]
            if progress:
                progress(name, out.scanned[name], out.rewritten[name])
    return out
