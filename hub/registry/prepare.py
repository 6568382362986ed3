"""A record made ready for linking without a database: validated as an adapter's record
(kept and flagged, never refused), its matcher features, stored form and blocking keys.

Deliberately light (no SQLAlchemy): `hub link` prepares the next batch in a forked child
process while the parent links the current one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.registry.golden import Refreshed, refreshed
from hub.registry.matcher.features import Features, keys_of
from hub.registry.records import ResidentRecord, validate


class RawJSON(str):
    """JSON text serialized already (in the reader process): written to a JSON column as
    it is (`hub.registry.bulk.insert_rows` skips the column's serializer)."""


@dataclass(slots=True)
class _One:
    """The record as `golden.build` reads it (id 0: the real id is known later)."""

    id: int
    source: str
    payload: dict[str, Any]
    received_at: dt.datetime


@dataclass(slots=True)
class Prepared:
    source: str
    source_id: str
    flags: list[str]
    payload: dict[str, Any]  # as stored
    features: Features
    stored_features: dict[str, Any]  # features.to_dict(), as stored
    keys: list[str]  # blocking keys
    payload_json: RawJSON
    features_json: RawJSON
    # The golden record of a resident holding only this record (the common case for a
    # NEW one); provenance points at record id 0, replaced when the id is known.
    alone: Refreshed


def prepare(record: ResidentRecord, problems: Sequence[str] = ()) -> Prepared:
    flags = [*problems, *validate(record, strict=False)]
    f = Features.from_record(record)
    payload, stored = record.payload(), f.to_dict()
    alone = refreshed([_One(0, record.source, payload, dt.datetime.now(dt.UTC))], ())
    return Prepared(record.source, record.source_id, flags, payload, f, stored, keys_of(f),
                    RawJSON(json.dumps(payload)), RawJSON(json.dumps(stored)), alone)  # fmt: skip
