"""Bulk linking (`hub link`): many records per transaction through the online matcher.

The decision is `MatcherLinker.rank_and_decide`, the one the API uses; only the SQL is
grouped. Per batch: one query finds which stored residents share a blocking key with any
record of the batch, one fetches all their records; records of the batch see each other
through an in-process overlay (a record linked a moment ago is a candidate for the next
one, exactly as if it had been committed). Writes are a handful of multi-row statements.
The caller owns the transaction (one per batch) and commits.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    String,
    Table,
    bindparam,
    delete,
    false,
    func,
    insert,
    select,
    text,
    type_coerce,
    update,
)  # fmt: skip
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import service as access
from hub.access.principal import Principal, Scope
from hub.events.models import Event
from hub.registry import matching, mpi_index
from hub.registry.golden import Refreshed
from hub.registry.linking import LinkOutcome
from hub.registry.matching import Features
from hub.registry.models import (
    BlockingKeyRecent,
    DuplicateReview,
    Resident,
    ResidentCategory,
    ResidentIdentifier,
    SourceRecord,
)
from hub.registry.mpi import MatcherLinker, review_candidates
from hub.registry.prepare import Prepared, RawJSON, prepare
from hub.registry.records import ResidentRecord
from hub.registry.service import RegistryService, refreshed

R = cast(Table, Resident.__table__)
S = cast(Table, SourceRecord.__table__)
BKR = cast(Table, BlockingKeyRecent.__table__)
RI = cast(Table, ResidentIdentifier.__table__)
RC = cast(Table, ResidentCategory.__table__)
DR = cast(Table, DuplicateReview.__table__)
EV = cast(Table, Event.__table__)


@dataclass(slots=True)
class Linked:
    source: str
    source_id: str
    resident_id: int
    outcome: LinkOutcome


@dataclass(slots=True)
class _Src:
    """A source record as `golden.build` reads it."""

    id: int
    source: str
    payload: dict[str, Any]
    received_at: dt.datetime
    alone: Refreshed | None = None  # precomputed when this is the resident's only record


@dataclass(slots=True)
class _Item:
    p: Prepared
    target: int = 0  # resident: a stored id (> 0) or a new one of this batch (< 0)
    outcome: LinkOutcome = LinkOutcome.NEW
    decision: matching.Decision | None = None
    source_record_id: int | None = None  # stored already (an update)
    stored_features: dict[str, Any] | None = None  # of the stored record (its keys)
    first: _Item | None = None  # an earlier record of this batch with the same source id


@dataclass
class BulkLinker:
    """Links batches of records; keeps counts across batches for the report."""

    registry: RegistryService
    principal: Principal
    operation: str = "linkResidentRecords"
    outcomes: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if not isinstance(self.registry.linker, MatcherLinker):
            raise TypeError("bulk linking needs the matcher (MatcherLinker)")
        self.matcher: MatcherLinker = self.registry.linker

    async def link_batch(
        self, session: AsyncSession, batch: Sequence[tuple[ResidentRecord, list[str]]]
    ) -> list[Linked]:
        """Store and link `batch` ((record, problems found reading it)), in order."""
        return await self.link_prepared(session, [prepare(r, problems) for r, problems in batch])

    async def link_prepared(self, session: AsyncSession, batch: Sequence[Prepared]) -> list[Linked]:
        self.principal.require(Scope.RESIDENTS_WRITE)
        items = [_Item(p) for p in batch]
        if not items:
            return []
        await self._updates(session, items)
        await self._decide(session, items)
        ids = await self._write(session, items)
        return [Linked(i.p.source, i.p.source_id, ids[i.target], i.outcome) for i in items]

    # ---- deciding ----------------------------------------------------------------------

    async def _updates(self, session: AsyncSession, items: list[_Item]) -> None:
        """Records already stored (or earlier in the batch) are updates, not new links."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for it in items:
            wanted[it.p.source].add(it.p.source_id)
        stored: dict[tuple[str, str], tuple[int, int, Any]] = {}
        for source, ids in wanted.items():
            wanted_ids = mpi_index.one_of(session, S.c.source_id, sorted(ids))
            rows = await session.execute(select(S.c.id, S.c.source_id, S.c.resident_id,
                                                S.c.features)
                                         .where(S.c.source == source, wanted_ids))  # fmt: skip
            stored.update(((source, sid), (rid, res, f)) for rid, sid, res, f in rows)
        seen: dict[tuple[str, str], _Item] = {}
        for it in items:
            key = (it.p.source, it.p.source_id)
            if key in stored:
                it.source_record_id, it.target, it.stored_features = stored[key]
                it.outcome = LinkOutcome.LINKED
            elif key in seen:
                it.first = seen[key]
                it.outcome = LinkOutcome.LINKED
            else:
                seen[key] = it

    async def _decide(self, session: AsyncSession, items: list[_Item]) -> None:
        new = [it for it in items if it.source_record_id is None and it.first is None]
        hits: dict[str, set[int]] = defaultdict(set)
        for key, rid in await mpi_index.key_hits(session, (k for it in new for k in it.p.keys)):
            hits[key].add(rid)
        stored: dict[int, list[Features]] = defaultdict(list)
        for rid, _, f in await mpi_index.records_of(session, {r for s in hits.values() for r in s}):
            stored[rid].append(f)
        separated = await mpi_index.separations(session, (it.p.features.record_key for it in new))
        names = self.matcher.names
        await names.prefetch(session, (it.p.features.name for it in new))
        # The overlay: this batch's records, visible to the records after them.
        overlay_keys: dict[str, set[int]] = defaultdict(set)
        overlay: dict[int, list[Features]] = defaultdict(list)
        next_new = -1
        for it in items:
            if it.first is not None:
                it.target = it.first.target
                continue
            if it.source_record_id is not None:
                continue
            f, ks = it.p.features, it.p.keys
            residents = {r for k in ks for r in hits.get(k, ())}
            residents.update(r for k in ks for r in overlay_keys.get(k, ()))
            residents = {r for r in residents if r < 0 or r in stored}  # active ones only
            if separated:
                residents = {r for r in residents if (f.record_key, r) not in separated}
            candidates = [(r, g) for r in residents for g in (*stored.get(r, ()), *overlay[r])]
            d = self.matcher.rank_and_decide(f, candidates, names.cached_frequency(f.name))
            it.decision = d
            if d.outcome is matching.Outcome.LINKED and d.resident_id is not None:
                it.target, it.outcome = int(d.resident_id), LinkOutcome.LINKED
            else:
                it.target, next_new = next_new, next_new - 1
                it.outcome = LinkOutcome(d.outcome.value)
                names.note_new(f.name)
            for k in ks:
                overlay_keys[k].add(it.target)
            overlay[it.target].append(f)
        self.outcomes.update(it.outcome.value for it in items)

    # ---- writing -----------------------------------------------------------------------

    async def _write(self, session: AsyncSession, items: list[_Item]) -> dict[int, int]:
        now = dt.datetime.now(dt.UTC)
        handles = sorted({it.target for it in items if it.target < 0}, reverse=True)
        ids = {it.target: it.target for it in items if it.target > 0}
        ids.update(zip(handles, await allocate_ids(session, R, len(handles)), strict=True))
        written = await self._write_updates(session, items, now)
        fresh = [it for it in items if it.source_record_id is None and it.first is None]
        for it, sid in zip(fresh, await allocate_ids(session, S, len(fresh)), strict=True):
            it.source_record_id = sid
        latest: dict[int, _Item] = {}  # source record -> the last record of the batch for it
        for it in items:
            if it.first is not None:
                it.source_record_id = it.first.source_record_id
            if it.source_record_id is not None:
                latest[it.source_record_id] = it
        # New residents hold only records of this batch: their golden record is computed
        # here and inserted whole; residents already stored are re-read and updated.
        new_records: dict[int, list[_Src]] = defaultdict(list)
        for it in fresh:
            if it.target < 0:
                last = latest[it.source_record_id or 0]
                new_records[ids[it.target]].append(
                    _Src(it.source_record_id or 0, it.p.source, last.p.payload, now, last.p.alone)
                )
        await self._store_golden(session, new_records)
        if fresh:
            await insert_rows(session, S, [self._source_row(it, latest, ids, now) for it in fresh])
        keys = {(k, it.source_record_id) for it in fresh
                for k in latest[it.source_record_id or 0].p.keys}  # fmt: skip
        await insert_rows(session, BKR,
                          [{"key": k, "source_record_id": s} for k, s in keys])  # fmt: skip
        reviews = [self._review(it, ids, now) for it in fresh if it.outcome is LinkOutcome.REVIEW]
        if reviews := [r for r in reviews if r is not None]:
            await session.execute(insert(DR), reviews)
        stored = {ids[it.target] for it in items if it.target > 0}
        await self._refresh(session, stored)
        orgs = await self._organizations(session, stored)
        await _emit_all(session, [
            (f"resident.{'updated' if it.outcome is LinkOutcome.LINKED else 'created'}",
             ids[it.target], orgs.get(ids[it.target], []),
             {"source": it.p.source, "outcome": it.outcome.value})
            for it in items])  # fmt: skip
        await access.audit(session, self.principal, "WRITE", self.operation, set(ids.values()))
        await mpi_index.note_written(session, written + len(keys))
        return ids

    def _source_row(
        self, it: _Item, latest: dict[int, _Item], ids: dict[int, int], now: dt.datetime
    ) -> dict[str, Any]:
        last = latest[it.source_record_id or 0]  # a batch duplicate's payload wins
        d = it.decision
        best = d.candidates[0] if d is not None and d.candidates else None
        linked = best is not None and it.outcome is LinkOutcome.LINKED
        return {
            "id": it.source_record_id, "source": it.p.source, "source_id": it.p.source_id,
            "resident_id": ids[it.target], "payload": last.p.payload_json,
            "features": last.p.features_json, "flags": last.p.flags,
            "link_grade": best.grade.value if linked and best else None,
            "link_score": round(best.score, 6) if linked and best else None,
            "received_at": now, "updated_at": now,
        }  # fmt: skip

    def _review(self, it: _Item, ids: dict[int, int], now: dt.datetime) -> dict[str, Any] | None:
        assert it.decision is not None
        rid = ids[it.target]
        found = []
        for c in review_candidates(it.decision):
            c["resident_id"] = ids.get(c["resident_id"], c["resident_id"])
            if c["resident_id"] != rid:
                found.append(c)
        if not found:
            return None
        return {"status": "OPEN", "resident_id": rid, "source_record_id": it.source_record_id,
                "candidates": found, "top_score": found[0]["score"], "created_at": now}  # fmt: skip

    async def _write_updates(
        self, session: AsyncSession, items: list[_Item], now: dt.datetime
    ) -> int:
        """Records already stored: new payload and features, re-keyed. Returns the keys
        written."""
        ups = {it.source_record_id: it for it in items
               if it.source_record_id is not None and it.first is None}  # fmt: skip
        if not ups:
            return 0
        await mpi_index.unindex_records(
            session, {sid: it.stored_features for sid, it in ups.items()}
        )
        stmt = update(S).where(S.c.id == bindparam("b_id")).values(
            payload=bindparam("b_payload"), features=bindparam("b_features"),
            flags=bindparam("b_flags"), updated_at=bindparam("b_updated"))  # fmt: skip
        await session.execute(stmt, [
            {"b_id": sid, "b_payload": it.p.payload, "b_features": it.p.stored_features,
             "b_flags": it.p.flags, "b_updated": now} for sid, it in ups.items()])  # fmt: skip
        keys = {(k, sid) for sid, it in ups.items() for k in it.p.keys}
        if keys:
            await insert_rows(session, BKR,
                              [{"key": k, "source_record_id": s} for k, s in keys])  # fmt: skip
        return len(keys)

    async def _refresh(self, session: AsyncSession, resident_ids: set[int]) -> None:
        """Golden record, identifiers and categories of stored residents that got records."""
        if not resident_ids:
            return
        ids = sorted(resident_ids)
        records: dict[int, list[_Src]] = defaultdict(list)
        rows = await session.execute(
            select(S.c.resident_id, S.c.id, S.c.source, S.c.payload, S.c.received_at)
            .where(mpi_index.one_of(session, S.c.resident_id, ids)).order_by(S.c.id))  # fmt: skip
        for rid, sid, source, payload, received in rows:
            records[rid].append(_Src(sid, source, payload, _aware(received)))
        columns = [c for c in _GOLDEN_COLUMNS if c in R.c]
        found = await session.execute(select(R.c.id, *(R.c[c] for c in columns))
                                      .where(mpi_index.one_of(session, R.c.id, ids)))  # fmt: skip
        stored = {row[0]: dict(zip(columns, row[1:], strict=True)) for row in found}
        held: dict[int, _Held] = {rid: _Held(v, set(), set()) for rid, v in stored.items()}
        for rid, system, value in await session.execute(
            select(RI.c.resident_id, RI.c.system, RI.c.value)
            .where(mpi_index.one_of(session, RI.c.resident_id, ids))):  # fmt: skip
            held[rid].identifiers.add((system, value))
        for rid, category in await session.execute(
            select(RC.c.resident_id, RC.c.category)
            .where(mpi_index.one_of(session, RC.c.resident_id, ids))):  # fmt: skip
            held[rid].categories.add(category)
        await self._store_golden(session, records, held=held)

    async def _store_golden(
        self,
        session: AsyncSession,
        records: dict[int, list[_Src]],
        *,
        held: dict[int, _Held] | None = None,
    ) -> None:
        """Compute each resident's golden record (`service.refreshed`, as the API does) and
        write it with its identifiers and categories: INSERT new residents (no `held`); for
        stored ones (`held`: what is stored now) write only what changed. A further record
        of someone known mostly changes nothing indexed, and in a large registry every row
        or index entry rewritten is a page written at a random place."""
        if not records:
            return
        rows: list[dict[str, Any]] = []
        identifiers: list[dict[str, Any]] = []
        categories: list[dict[str, Any]] = []
        gone_identifiers: list[dict[str, Any]] = []
        gone_categories: list[dict[str, Any]] = []
        priority = await self.registry.ranking(session)
        now = dt.datetime.now(dt.UTC)
        bind = RI.c.value.type._cached_bind_processor((await session.connection()).dialect)

        def stored_form(value: str) -> str:
            return bind(value) if bind is not None else value

        for rid, recs in records.items():
            before = held.get(rid) if held is not None else None
            region, insurance = (
                (before.values["address_region"], before.values["insurance_type"])
                if before is not None
                else (None, None)
            )
            one = recs[0] if len(recs) == 1 else None
            if one is not None and one.alone is not None and region is None and insurance is None:
                r = one.alone  # computed by the reader; only the record id was unknown
                values = {**r.values, "updated_at": now,
                          "provenance": dict.fromkeys(r.values["provenance"], one.id)}  # fmt: skip
            else:
                r = refreshed(recs, priority, region, insurance)
                values = r.values
            if before is None:
                rows.append({"id": rid, **values})
                identifiers += [{"resident_id": rid, "system": s, "value": v}
                                for s, v in sorted(r.identifiers)]  # fmt: skip
                categories += [{"resident_id": rid, "category": c} for c in sorted(r.categories)]
                continue
            changed = {k for k, v in values.items() if k != "updated_at"
                       and (k not in before.values or before.values[k] != v)}  # fmt: skip
            if changed:
                # An indexed column is set only when it changed (its index entry is then
                # rewritten); the others are set anyway: the row is written either way.
                keep = _INDEXED_GOLDEN - changed
                rows.append({"id": rid, **{k: v for k, v in values.items() if k not in keep}})
            # Stored values are compared in their stored form (the column's bind
            # processor: a blind index stores HMAC(value), and reads back the hash).
            want = {(s, stored_form(v)): (s, v) for s, v in r.identifiers}
            identifiers += [{"resident_id": rid, "system": s, "value": v}
                            for key, (s, v) in sorted(want.items())
                            if key not in before.identifiers]  # fmt: skip
            gone = sorted(before.identifiers - set(want))
            gone_identifiers += [{"b_r": rid, "b_s": s, "b_v": v} for s, v in gone]
            categories += [{"resident_id": rid, "category": c}
                           for c in sorted(set(r.categories) - before.categories)]  # fmt: skip
            gone_categories += [{"b_r": rid, "b_c": c}
                                for c in sorted(before.categories - set(r.categories))]  # fmt: skip
        if held is None:
            await insert_rows(session, R, [{**row, "status": "ACTIVE", "created_at": now}
                                           for row in rows])  # fmt: skip
        else:
            # One UPDATE per set of columns (at most four: with or without each indexed
            # column).
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
            for row in rows:
                by_columns[tuple(sorted(k for k in row if k != "id"))].append(row)
            for columns, group in by_columns.items():
                stmt = update(R).where(R.c.id == bindparam("b_id")).values(
                    {c: bindparam(f"b_{c}") for c in columns})  # fmt: skip
                await session.execute(stmt, [{f"b_{k}": v for k, v in row.items()}
                                             for row in group])  # fmt: skip
        if gone_identifiers:
            await session.execute(delete(RI).where(
                RI.c.resident_id == bindparam("b_r"), RI.c.system == bindparam("b_s"),
                RI.c.value == type_coerce(bindparam("b_v"), String)),  # as stored
                gone_identifiers)  # fmt: skip
        if gone_categories:
            await session.execute(delete(RC).where(
                RC.c.resident_id == bindparam("b_r"), RC.c.category == bindparam("b_c")),
                gone_categories)  # fmt: skip
        await insert_rows(session, RI, identifiers)
        await insert_rows(session, RC, categories)

    async def _organizations(self, session: AsyncSession, ids: set[int]) -> dict[int, list[str]]:
        if not ids:
            return {}
        wanted = mpi_index.one_of(session, R.c.id, sorted(ids))
        rows = await session.execute(select(R.c.id, R.c.organization_id)
                                     .where(wanted, R.c.organization_id.is_not(None)))  # fmt: skip
        return {rid: [org] for rid, org in rows}


# The golden record's columns `golden.refreshed` computes (updated_at aside).
_GOLDEN_COLUMNS = (
    "name", "sex", "birth_date", "id_number", "insurance_card", "health_record_no",
    "birth_certificate_no", "address_text", "address_region", "insurance_type",
    "mother_id_number", "phones", "guardian", "id_number_flags", "provenance",
)  # fmt: skip


# Golden columns with an index of their own on resident (ix_resident_name, _birth).
_INDEXED_GOLDEN = frozenset({"name", "birth_date"})


@dataclass(slots=True)
class _Held:
    """What a stored resident's golden record, identifiers and categories are now."""

    values: dict[str, Any]
    identifiers: set[tuple[str, str]]
    categories: set[str]


async def insert_rows(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """A multi-row INSERT handed to the driver as one executemany. Values go through the
    columns' bind processors (JSON, timestamps) as with `insert(table)`, without
    SQLAlchemy's per-row parameter bookkeeping, which was the larger part of writing a
    record's ~14 rows. Rows must give every column that has no server default."""
    if not rows:
        return
    conn = await session.connection()
    dialect = conn.dialect
    columns = list(rows[0])
    if dialect.paramstyle == "qmark":
        marks = ", ".join("?" for _ in columns)
    else:  # asyncpg: numeric_dollar
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    sql = f"INSERT INTO {dialect.identifier_preparer.quote(table.name)} ({names}) VALUES ({marks})"
    procs = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
    if any(procs):
        params = [
            tuple(v if f is None or v is None or type(v) is RawJSON else f(v)
                  for f, v in zip(procs, (row[c] for c in columns), strict=True))
            for row in rows
        ]  # fmt: skip
    else:
        params = [tuple(row[c] for c in columns) for row in rows]
    await conn.exec_driver_sql(sql, params)


async def allocate_ids(session: AsyncSession, table: Any, n: int) -> list[int]:
    """n new primary keys for `table`, taken before inserting so that the rows of a batch
    go in as one multi-row INSERT (RETURNING would cost a statement per row on SQLite)."""
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        rows = await session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": n})  # fmt: skip
        return [int(i) for (i,) in rows]
    # SQLite: a (no-op) write first takes the database's write lock, so no other writer
    # can insert between reading max(id) and our INSERT.
    await session.execute(update(table).where(false()).values(id=table.c.id))
    top = await session.scalar(select(func.max(table.c.id)))
    start = int(top or 0) + 1
    return list(range(start, start + n))


async def _emit_all(
    session: AsyncSession, events: list[tuple[str, int, list[str], dict[str, Any]]]
) -> None:
    """`hub.events.service.emit` for many events: one multi-row INSERT (the outbox)."""
    if not events:
        return
    await session.execute(insert(EV), [
        {"type": t, "aggregate_type": "Resident", "aggregate_id": str(rid),
         "organization_ids": orgs, "data": data} for t, rid, orgs, data in events])  # fmt: skip
    try:  # wake the feed's readers on commit, as emit() does (they poll anyway)
        from hub.events import signals

        signals.mark(session)
    except ImportError:
        pass


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
