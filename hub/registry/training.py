"""`hub linkage train`: re-estimate the linkage model from the registry's own records.

A sample of stored source records (their payloads, as received) goes to
`hub.registry.train` (Splink on DuckDB: u by random sampling, m by EM); the result is a
new, versioned model file. The hub serves whichever file HUB_LINKAGE_MODEL names, so a
model is adopted (or rolled back) by pointing at a file and restarting.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any


async def sample_records(url: str, sample: int) -> list[dict[str, Any]]:
    """Up to `sample` source records spread evenly over the registry (every k-th id)."""
    from sqlalchemy import func, select

    from hub.db import Database
    from hub.registry.models import SourceRecord

    db = Database(url)
    try:
        async with db.reader() as s:
            total = int(await s.scalar(select(func.count()).select_from(SourceRecord)) or 0)
            step = max(1, math.ceil(total / max(sample, 1)))
            stmt = select(SourceRecord.source, SourceRecord.source_id, SourceRecord.payload)
            if step > 1:
                stmt = stmt.where(SourceRecord.id % step == 0)
            rows = await s.execute(stmt.order_by(SourceRecord.id).limit(sample))
            return [{**(payload or {}), "source": source, "source_id": sid}
                    for source, sid, payload in rows]  # fmt: skip
    finally:
        await db.dispose()


async def train_from_registry(
    url: str, out_dir: Path, *, sample: int = 200_000, base_model: Path | None = None
) -> tuple[Path, dict[str, Any]]:
    """Train on the registry at `url`; returns the new model file and its content."""
    import asyncio

    from hub.registry.mpi import model_path
    from hub.registry.train import train
    from hub.settings import get_settings

    records = await sample_records(url, sample)
    now = dt.datetime.now(dt.UTC)
    version = f"{now:%Y-%m-%d}.splink.{now:%H%M%S}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"linkage-model-{version}.json"
    base = base_model or model_path(get_settings())
    model = await asyncio.to_thread(train, records, path, base_model=base, version=version)
    return path, model
