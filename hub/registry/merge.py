"""Merging two residents (合并) and taking a record back out of one (拆分).

A merge moves every source record of the merged resident to the survivor, marks the
merged one MERGED (it stays readable, `merged_into_id` points on: FHIR Patient.link
replaced-by), re-points other domains' rows, and rebuilds the survivor's golden record.
An unmerge detaches one source record into its former resident (if a merge brought it)
or a new one, and records a separation so the matcher never joins the pair again.

Both are audited (WRITE) and emit an event in the caller's transaction. Never commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    TextClause,
    and_,
    delete,
    false,
    func,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import service as access
from hub.access.principal import Principal, Scope
from hub.db import Base
from hub.errors import DomainError, NotFound
from hub.events.service import emit
from hub.registry import repository
from hub.registry.models import (
    DuplicateReview,
    Household,
    LinkSeparation,
    Resident,
    ResidentCategory,
    ResidentIdentifier,
    ResidentMerge,
    ResidentStatus,
    ReviewStatus,
)

# Registry tables handled here explicitly; every other table with a foreign key to
# resident.id is re-pointed generically (contracts, referrals, clinical records, ...).
OWNED_TABLES = frozenset({
    "resident", "resident_identifier", "resident_category", "source_record",
    "duplicate_review", "link_separation", "resident_merge", "blocking_key",
    "blocking_key_recent",
})  # fmt: skip

# Other domains may add (session, survivor_id, merged_id) callbacks run after a merge.
after_merge: list[Callable[[AsyncSession, int, int], Awaitable[None]]] = []


class MergeError(DomainError):
    code = "MERGE_NOT_ALLOWED"


def record_key(source: str, source_id: str) -> str:
    """The matcher's name for a source record (`Features.record_key`)."""
    return f"{source}:{source_id}"


async def merge(
    session: AsyncSession, principal: Principal, *, survivor_id: int, merged_id: int, reason: str
) -> Resident:
    """Merge resident `merged_id` into `survivor_id`; returns the survivor."""
    principal.require(Scope.LINKAGE_ADMIN)
    _require_reason(reason)
    survivor = await _final(session, await _get(session, survivor_id, "survivorId"))
    merged = await _get(session, merged_id, "mergedId")
    if merged.status == ResidentStatus.MERGED:
        raise MergeError(
            f"Resident {merged_id} was already merged into {merged.merged_into_id}.",
            field="mergedId", code="ALREADY_MERGED")  # fmt: skip
    if survivor.id == merged.id:
        raise MergeError("A resident cannot be merged into itself.", field="mergedId",
                         code="SAME_RESIDENT")  # fmt: skip
    await _merge_rows(session, principal, survivor, merged, reason)
    await _refresh(session, survivor)
    emit(session, "resident.merged", "Resident", survivor.id, merged_id=merged.id,
         organization_ids=_orgs(survivor, merged))  # fmt: skip
    await access.audit(session, principal, "WRITE", "mergeResidents", [survivor.id, merged.id])
    return survivor


async def _merge_rows(
    session: AsyncSession, principal: Principal, survivor: Resident, merged: Resident, reason: str
) -> None:
    records = await repository.source_records(session, [merged.id])
    survivor_records = await repository.source_records(session, [survivor.id])
    for rec in records:
        rec.resident_id = survivor.id
    # A person's explicit merge overrides an earlier separation between the two.
    keys_m = [record_key(r.source, r.source_id) for r in records]
    keys_s = [record_key(r.source, r.source_id) for r in survivor_records]
    await session.execute(delete(LinkSeparation).where(or_(
        and_(LinkSeparation.resident_id == survivor.id, LinkSeparation.record_key.in_(keys_m)),
        and_(LinkSeparation.resident_id == merged.id, LinkSeparation.record_key.in_(keys_s)),
    )))  # fmt: skip
    # Separations follow the person: "not this resident" now means "not the survivor".
    await session.execute(update(LinkSeparation).where(LinkSeparation.resident_id == merged.id)
                          .values(resident_id=survivor.id))  # fmt: skip
    moved = await repoint(session, survivor.id, merged.id)
    if merged.household_id and not survivor.household_id:
        survivor.household_id = merged.household_id
        survivor.household_relation = merged.household_relation
    await session.execute(update(Household).where(Household.head_resident_id == merged.id)
                          .values(head_resident_id=survivor.id))  # fmt: skip
    for fld in ("organization_id", "team_id", "region_key"):
        if getattr(survivor, fld) is None:
            setattr(survivor, fld, getattr(merged, fld))
    merged.status = ResidentStatus.MERGED
    merged.merged_into_id = survivor.id
    # Chains stay one hop long: whoever pointed at the merged resident now points on.
    await session.execute(update(Resident).where(Resident.merged_into_id == merged.id)
                          .values(merged_into_id=survivor.id))  # fmt: skip
    for table in (ResidentIdentifier, ResidentCategory):  # the survivor's now
        await session.execute(delete(table).where(table.resident_id == merged.id))
    await _settle_reviews(session, principal, survivor.id, merged.id)
    session.add(ResidentMerge(
        survivor_id=survivor.id, merged_id=merged.id, reason=reason,
        source_record_ids=[r.id for r in records], moved_rows=moved, created_by=principal.name,
    ))  # fmt: skip
    await session.flush()
    from hub.reports.locality import place

    await place(session, [survivor.id])  # the household the survivor now lives in
    for hook in after_merge:
        await hook(session, survivor.id, merged.id)


async def unmerge_record(
    session: AsyncSession, principal: Principal, *, source: str, source_id: str, reason: str
) -> Resident:
    """Detach one source record from its resident; returns the resident now holding it."""
    principal.require(Scope.LINKAGE_ADMIN)
    _require_reason(reason)
    src = await repository.source_record(session, source, source_id)
    if src is None:
        raise NotFound(f"No source record {source}/{source_id}.", field="sourceId")
    current = await _final(session, await _get(session, src.resident_id, "sourceId"))
    others = [r for r in await repository.source_records(session, [current.id]) if r.id != src.id]
    if not others:
        raise MergeError("This is the resident's only source record; there is nothing to "
                         "separate it from.", field="sourceId", code="ONLY_RECORD")  # fmt: skip
    target, history = await _former(session, current, src.id)
    if target is not None:
        target.status, target.merged_into_id = ResidentStatus.ACTIVE, None
        if history is not None:
            await _move_back(session, history, current.id, target.id)
    else:
        target = Resident(organization_id=current.organization_id, team_id=current.team_id,
                          region_key=current.region_key)  # fmt: skip
        session.add(target)
        await session.flush()
    src.resident_id = target.id
    # Never again automatically: neither this record with the resident it left, nor that
    # resident's records with this one (both directions of the matcher's question).
    session.add(
        LinkSeparation(
            record_key=record_key(src.source, src.source_id),
            resident_id=current.id,
            reason=reason,
            created_by=principal.name,
        )
    )
    session.add_all(
        LinkSeparation(record_key=record_key(o.source, o.source_id), resident_id=target.id,
                       reason=reason, created_by=principal.name)
        for o in others
    )  # fmt: skip
    await session.flush()
    await _refresh(session, current)
    await _refresh(session, target)
    emit(session, "resident.unmerged", "Resident", target.id, from_resident_id=current.id,
         source=src.source, organization_ids=_orgs(current, target))  # fmt: skip
    await access.audit(session, principal, "WRITE", "unmergeRecord", [current.id, target.id])
    return target


async def separate(
    session: AsyncSession, principal: Principal, *, resident_id: int, other_id: int, reason: str
) -> None:
    """Record that two residents are different people (a review said so): each record of
    one is separated from the other, so the matcher never links them."""
    rows: list[LinkSeparation] = []
    for a, b in ((resident_id, other_id), (other_id, resident_id)):
        for rec in await repository.source_records(session, [a]):
            rows.append(
                LinkSeparation(
                    record_key=record_key(rec.source, rec.source_id),
                    resident_id=b,
                    reason=reason,
                    created_by=principal.name,
                )
            )
    session.add_all(rows)
    await session.flush()


async def separated_pairs(session: AsyncSession, key: str) -> set[int]:
    """Residents a record must never be linked to."""
    rows = await session.scalars(
        select(LinkSeparation.resident_id).where(LinkSeparation.record_key == key)
    )
    return set(rows)


# ---- dependent rows -----------------------------------------------------------------------


def _dependent_columns() -> list[tuple[Table, Any]]:
    out = []
    for table in Base.metadata.sorted_tables:
        if table.name in OWNED_TABLES:
            continue
        for col in table.columns:
            if any(fk.column.table.name == "resident" for fk in col.foreign_keys):
                out.append((table, col))
    return out


def _partial_unique(table: Table, col: Any) -> list[ColumnElement[bool] | None]:
    """Where clauses of unique indexes on this column alone (None: unique outright)."""
    found = []
    for idx in table.indexes:
        if idx.unique and [c.name for c in idx.columns] == [col.name]:
            opts = idx.dialect_options
            where = opts["postgresql"].get("where")
            found.append(where if where is not None else opts["sqlite"].get("where"))
    return found


def _negated(where: Any) -> Any:
    """NOT of an index's WHERE clause (a text() clause cannot be negated directly)."""
    if isinstance(where, TextClause):
        return text(f"NOT ({where.text})")
    return not_(where)


async def repoint(session: AsyncSession, survivor_id: int, merged_id: int) -> dict[str, list[Any]]:
    """Move other domains' rows from the merged resident to the survivor. A row the
    survivor may hold only once (one ACTIVE contract) stays where it is when the survivor
    already has one: it remains readable through the merged resident. Returns what moved."""
    moved: dict[str, list[Any]] = {}
    for table, col in _dependent_columns():
        cond: ColumnElement[bool] = col == merged_id
        for where in _partial_unique(table, col):
            clash = select(func.count()).select_from(table).where(col == survivor_id)
            if where is not None:
                clash = clash.where(where)
            if await session.scalar(clash):
                cond = and_(cond, _negated(where)) if where is not None else and_(cond, false())
        pk = list(table.primary_key.columns)
        if len(pk) == 1:
            ids = list(await session.scalars(select(pk[0]).where(cond)))
            if ids:
                await session.execute(update(table).where(pk[0].in_(ids))
                                      .values({col.name: survivor_id}))  # fmt: skip
                moved[f"{table.name}.{col.name}"] = ids
        else:
            await session.execute(update(table).where(cond).values({col.name: survivor_id}))
    return moved


async def _move_back(
    session: AsyncSession, history: ResidentMerge, holder_id: int, former_id: int
) -> None:
    """Give the reactivated resident back the rows its merge had moved (if still there)."""
    columns = {f"{t.name}.{c.name}": (t, c) for t, c in _dependent_columns()}
    for name, ids in (history.moved_rows or {}).items():
        if name not in columns or not ids:
            continue
        table, col = columns[name]
        pk = list(table.primary_key.columns)[0]
        await session.execute(update(table).where(pk.in_(ids), col == holder_id)
                              .values({col.name: former_id}))  # fmt: skip
    history.moved_rows = {}


async def _former(
    session: AsyncSession, current: Resident, source_record_id: int
) -> tuple[Resident | None, ResidentMerge | None]:
    """The resident a merge took this record from, if that resident is still merged here."""
    merges = await session.scalars(
        select(ResidentMerge).where(ResidentMerge.survivor_id == current.id)
        .order_by(ResidentMerge.id.desc()))  # fmt: skip
    for m in merges:
        if source_record_id in (m.source_record_ids or []):
            former = await session.get(Resident, m.merged_id)
            if former is not None and former.merged_into_id == current.id:
                return former, m
            return None, None
    # Merged via an older survivor that itself was merged into `current`: look there too.
    former_rows = await session.execute(
        select(ResidentMerge, Resident)
        .join(Resident, Resident.id == ResidentMerge.merged_id)
        .where(Resident.merged_into_id == current.id)
        .order_by(ResidentMerge.id.desc()))  # fmt: skip
    for m, former in former_rows:
        if source_record_id in (m.source_record_ids or []):
            return former, m
    return None, None


async def _settle_reviews(
    session: AsyncSession, principal: Principal, survivor_id: int, merged_id: int
) -> None:
    """Open reviews about the merged resident are settled by the merge."""
    rows = await session.scalars(select(DuplicateReview).where(
        DuplicateReview.status == ReviewStatus.OPEN,
        DuplicateReview.resident_id.in_([survivor_id, merged_id])))  # fmt: skip
    from hub.db import utcnow

    for review in rows:
        ids = {c.get("resident_id") for c in review.candidates or []}
        if review.resident_id == merged_id or merged_id in ids:
            review.status = ReviewStatus.OBSOLETE
            review.decided_resident_id = survivor_id
            review.resolved_by = principal.name
            review.resolved_at = utcnow()


# ---- helpers -------------------------------------------------------------------------------


def _require_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise DomainError("Give a reason: link changes are audited.", field="reason",
                          code="REASON_REQUIRED")  # fmt: skip


async def _get(session: AsyncSession, resident_id: int, fld: str) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None:
        raise NotFound(f"No resident {resident_id}.", field=fld)
    return resident


async def _final(session: AsyncSession, resident: Resident) -> Resident:
    seen: set[int] = set()
    while resident.merged_into_id and resident.id not in seen:
        seen.add(resident.id)
        nxt = await session.get(Resident, resident.merged_into_id)
        if nxt is None:
            break
        resident = nxt
    return resident


def _orgs(*residents: Resident) -> list[str]:
    return sorted({r.organization_id for r in residents if r.organization_id})


async def _refresh(session: AsyncSession, resident: Resident) -> None:
    """Rebuild the golden record with the configured source priority."""
    from hub.registry.linking import IdentifierLinker
    from hub.registry.service import RegistryService
    from hub.settings import get_settings

    await RegistryService(IdentifierLinker(), get_settings().source_priority).refresh(
        session, resident)  # fmt: skip
