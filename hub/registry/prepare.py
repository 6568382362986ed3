"""A record made ready for linking without a database: validated as an adapter's record
(kept and flagged, never refused), its matcher features, stored form and blocking keys.

Deliberately light (no SQLAlchemy): `hub link` prepares the next batch in a forked child
process while the parent links the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.registry.matcher.features import Features, keys_of
from hub.registry.records import ResidentRecord, validate


@dataclass(slots=True)
class Prepared:
    source: str
    source_id: str
    flags: list[str]
    payload: dict[str, Any]  # as stored
    features: Features
    stored_features: dict[str, Any]  # features.to_dict(), as stored
    keys: list[str]  # blocking keys


def prepare(record: ResidentRecord, problems: Sequence[str] = ()) -> Prepared:
    flags = [*problems, *validate(record, strict=False)]
    f = Features.from_record(record)
    return Prepared(record.source, record.source_id, flags, record.payload(), f, f.to_dict(),
                    keys_of(f))  # fmt: skip
