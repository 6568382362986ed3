"""The HIS adapter's hub side: HL7 v2 messages -> registry, records, merges, referrals.

`HisAdapter.read` translates without the database; `apply` takes a batch in arrival
order inside the runtime's transaction. Person messages (ADT A01/A04/A08/A28/A31) are
submitted together through the registry's batch path; an update for a patient the hub
has not seen is parked until its create arrives (or, after `park_seconds`, applied as a
create). A40 merges residents; ORU^R01 becomes a visit with observations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.his import translate
from adapters.his.observations import results_of
from adapters.his.translate import (
    HL7Error,
    Issue,
    MergeRecord,
    ObservationBatch,
    PersonRecord,
    ReferralReply,
)
from adapters.runtime.types import Applied, Dead, Message, Outcome, Park, Problem, Reject, Work
from hub.access.principal import Principal, system
from hub.errors import DomainError
from hub.registry.models import Resident, SourceRecord
from hub.registry.records import ResidentRecord
from hub.registry.service import validate
from mappings.local_codes import CodeMap

if TYPE_CHECKING:
    from hub.registry.service import RegistryService

SOURCE = "his"
CREATES = frozenset({"A01", "A04", "A28"})  # the others update a known patient
PAYLOAD_FIELDS = ("name", "sex", "birth_date", "id_number", "phone", "address")


@dataclass(slots=True)
class Known:
    resident_id: int
    payload: dict[str, Any]


class HisAdapter:
    name = SOURCE

    def __init__(
        self,
        registry: RegistryService,
        *,
        default_encoding: str = "utf-8",
        park_seconds: float = 300.0,
        codes: CodeMap | None = None,
        principal: Principal | None = None,
    ) -> None:
        self.registry, self.default_encoding = registry, default_encoding
        self.park_seconds = park_seconds
        self.codes = codes or CodeMap.load("his/lab-codes.yaml")
        self.principal = principal or system("adapter:his")

    # ------------------------------------------------------------------ reading

    def read(self, raw: bytes) -> Message:
        try:
            body = translate.parse(raw, default_encoding=self.default_encoding)
        except HL7Error as err:
            return Message(
                translate.peek_control_id(raw) or None,
                _peek_type(raw),
                problem=Problem(err.code, err.issue.text, err.ack_code, err.issue.location, err),
            )
        if isinstance(body, PersonRecord):
            return Message(
                body.control_id,
                f"ADT^{body.event_type}",
                body.source_id,
                body.source_id,
                body.event_time,
                body,
                warnings=body.issues,
            )
        if isinstance(body, MergeRecord):
            return Message(
                body.control_id,
                "ADT^A40",
                body.prior_source_id,  # the second registration: usually the late one
                None,
                body.event_time,
                body,
                warnings=body.issues,
            )
        if isinstance(body, ObservationBatch):
            return Message(
                body.control_id,
                "ORU^R01",
                body.source_id,
                None,
                body.event_time,
                body,
                warnings=body.issues,
            )
        return Message(
            body.control_id,
            "RRI^I12",
            f"referral:{body.referral_id}",
            None,
            body.event_time,
            body,
            warnings=body.issues,
        )

    # ----------------------------------------------------------------- applying

    async def apply(self, session: AsyncSession, batch: Sequence[Work]) -> list[Outcome]:
        """People first (one linking round for the batch), then merges, then results.
        Reordering is safe: one connection has one message in flight, so two messages
        of one batch came concurrently and had no order to keep."""
        mrs = set()
        for w in batch:
            body = w.message.body
            if isinstance(body, PersonRecord | ObservationBatch):
                mrs.add(body.source_id)
            elif isinstance(body, MergeRecord):
                mrs.update((body.source_id, body.prior_source_id))
        known = await self._known(session, mrs)
        outcomes: list[Outcome | None] = [None] * len(batch)
        people: list[tuple[int, PersonRecord]] = []
        creating = set()
        for i, w in enumerate(batch):
            body = w.message.body
            if not isinstance(body, PersonRecord):
                continue
            unknown = body.source_id not in known and body.source_id not in creating
            if body.event_type not in CREATES and unknown and self._waiting(w):
                outcomes[i] = Park(
                    "UNKNOWN_PATIENT",
                    f"{body.event_type} before the patient's registration (A04); waiting for it",
                )
                continue
            people.append((i, body))
            creating.add(body.source_id)
        if people:
            done = await self._people(session, [p for _, p in people], known)
            for (i, _), o in zip(people, done, strict=True):
                outcomes[i] = o
        results: list[tuple[int, Work, ObservationBatch]] = []
        for i, w in enumerate(batch):
            body = w.message.body
            if isinstance(body, MergeRecord):
                outcomes[i] = await self._merge(session, w, body, known)
            elif isinstance(body, ReferralReply):
                outcomes[i] = await self._referral_reply(session, body)
            elif isinstance(body, ObservationBatch):
                results.append((i, w, body))
        if results:
            done = await self._results(session, [(w, b) for _, w, b in results], known)
            for (i, _, _), o in zip(results, done, strict=True):
                outcomes[i] = o
        return [o for o in outcomes if o is not None]

    def _waiting(self, w: Work) -> bool:
        age = (dt.datetime.now(dt.UTC) - w.received_at).total_seconds()
        return age < self.park_seconds

    async def _known(self, session: AsyncSession, mrs: set[str]) -> dict[str, Known]:
        if not mrs:
            return {}
        rows = await session.execute(
            select(SourceRecord.source_id, SourceRecord.resident_id, SourceRecord.payload).where(
                SourceRecord.source == SOURCE, SourceRecord.source_id.in_(mrs)
            )
        )
        return {mr: Known(rid, payload) for mr, rid, payload in rows}

    async def _people(
        self, session: AsyncSession, people: list[PersonRecord], known: dict[str, Known]
    ) -> list[Outcome]:
        records = []
        for p in people:  # in order: a later update of the same patient merges on this one
            records.append(_record(p, known.get(p.source_id)))
            known[p.source_id] = Known(0, records[-1].payload())
        flags = [validate(replace(r), strict=False) for r in records]  # validate edits a copy
        linked = await self._submit(session, records)
        out: list[Outcome] = []
        for p, (rid, outcome), found in zip(people, linked, flags, strict=True):
            known[p.source_id].resident_id = rid
            warnings = p.issues + tuple(
                Issue(f.split(":")[0], "PID-3", f"kept and flagged: {f}", "102") for f in found
            )
            out.append(Applied({"resident_id": rid, "outcome": outcome}, warnings))
        return out

    async def _submit(
        self, session: AsyncSession, records: list[ResidentRecord]
    ) -> list[tuple[int, str]]:
        """(resident id, link outcome) per record. The matcher links a whole batch with a
        few statements (registry's BulkLinker); any other linker goes record by record."""
        from hub.registry.mpi import MatcherLinker

        if isinstance(self.registry.linker, MatcherLinker):
            from hub.registry.bulk import BulkLinker

            bulk = BulkLinker(self.registry, self.principal, operation="his:ADT")
            linked = await bulk.link_batch(session, [(r, []) for r in records])
            return [(x.resident_id, x.outcome.value) for x in linked]
        out = []
        for r in records:
            res = await self.registry.submit(session, self.principal, r, strict=False)
            out.append((res.resident.id, res.outcome.value))
        return out

    async def _resident(self, session: AsyncSession, resident_id: int) -> int:
        """Follow merges: a merged resident's records now belong to the survivor."""
        seen: set[int] = set()
        while resident_id not in seen:
            seen.add(resident_id)
            nxt = await session.scalar(
                select(Resident.merged_into_id).where(Resident.id == resident_id)
            )
            if nxt is None:
                break
            resident_id = nxt
        return resident_id

    async def _merge(
        self, session: AsyncSession, w: Work, m: MergeRecord, known: dict[str, Known]
    ) -> Outcome:
        survivor, prior = known.get(m.source_id), known.get(m.prior_source_id)
        if survivor is None or prior is None:
            missing = m.source_id if survivor is None else m.prior_source_id
            text = f"A40 names patient {missing}, not registered yet"
            return (
                Park("UNKNOWN_PATIENT", text)
                if self._waiting(w)
                else Dead("UNKNOWN_PATIENT", text + f" after {self.park_seconds:.0f}s")
            )
        keep = await self._resident(session, survivor.resident_id)
        gone = await self._resident(session, prior.resident_id)
        if keep == gone:  # the hub had already linked both records to one resident
            return Applied({"resident_id": keep, "merged": False, "already_linked": True})
        from hub.registry.merge import merge

        try:
            await merge(
                session,
                self.principal,
                survivor_id=keep,
                merged_id=gone,
                reason=f"HIS ADT^A40 {m.control_id}: {m.prior_source_id} -> {m.source_id}",
            )
        except DomainError as err:
            return Reject(Problem(err.code, err.message, "AE", "MRG-1", err))
        return Applied({"resident_id": keep, "merged_id": gone, "merged": True}, m.issues)

    async def _results(
        self,
        session: AsyncSession,
        batch: list[tuple[Work, ObservationBatch]],
        known: dict[str, Known],
    ) -> list[Outcome]:
        from hub.records.service import Visit, record_visits

        out: list[Outcome | None] = [None] * len(batch)
        visits: list[tuple[int, Visit, list[str], ObservationBatch]] = []
        survivors = await self._survivors(
            session, {known[b.source_id].resident_id for _, b in batch if b.source_id in known}
        )
        for n, (w, b) in enumerate(batch):
            patient = known.get(b.source_id)
            if patient is None:
                text = f"results for patient {b.source_id}, not registered yet"
                out[n] = (
                    Park("UNKNOWN_PATIENT", text)
                    if self._waiting(w)
                    else Dead("UNKNOWN_PATIENT", text + f" after {self.park_seconds:.0f}s")
                )
                continue
            results, unmapped = results_of(b, self.codes)
            visit = Visit(
                resident_id=survivors.get(patient.resident_id, patient.resident_id),
                origin=f"{b.assigning_authority}:{b.control_id}",
                results=results,
                started_at=b.event_time,
                facility=b.assigning_authority or None,
            )
            visits.append((n, visit, unmapped, b))
        recorded = await record_visits(
            session, self.principal, SOURCE, [v for _, v, _, _ in visits]
        )
        for (n, visit, unmapped, b), r in zip(visits, recorded, strict=True):
            result: dict[str, Any] = {
                "resident_id": visit.resident_id,
                "encounter_id": r.encounter_id,
                "kind": r.kind,
                "observations": r.observations,
                "delivery_recorded": r.delivery_recorded,
            }
            if unmapped:
                result["unmapped"] = unmapped
            warnings = b.issues + tuple(
                Issue(
                    "UNMAPPED_CODE",
                    "OBX-3",
                    f"local code {c} has no mapping "
                    f"({self.codes.name} {self.codes.version}); kept as sent",
                    "103",
                )
                for c in unmapped
            )
            out[n] = Applied(result, warnings)
        return [o for o in out if o is not None]

    async def _survivors(self, session: AsyncSession, ids: set[int]) -> dict[int, int]:
        """resident id -> the resident it was merged into, for those merged (usually none)."""
        if not ids:
            return {}
        rows = await session.execute(
            select(Resident.id, Resident.merged_into_id).where(
                Resident.id.in_(ids), Resident.merged_into_id.is_not(None)
            )
        )
        return {rid: await self._resident(session, into) for rid, into in rows if into is not None}

    async def _referral_reply(self, session: AsyncSession, reply: ReferralReply) -> Outcome:
        from adapters.his.push import apply_reply

        return await apply_reply(session, self.principal, reply)


def _record(p: PersonRecord, before: Known | None) -> ResidentRecord:
    """HL7 semantics: an absent field leaves the stored value, an HL7 null ("") clears it."""
    values: dict[str, Any] = dict(before.payload) if before is not None else {}
    for key in PAYLOAD_FIELDS:
        value = getattr(p, key)
        if value is None:
            continue
        if value == "":
            values.pop(key, None)
        else:
            values[key] = value.isoformat() if isinstance(value, dt.date) else value
    values.update(source=SOURCE, source_id=p.source_id)
    values = {k: v for k, v in values.items() if k in ResidentRecord.__dataclass_fields__}
    return ResidentRecord.from_payload(values)


def _peek_type(raw: bytes) -> str | None:
    """MSH-9 of an unreadable message, for the log (never raises)."""
    try:
        head = raw.split(b"\r", 1)[0].split(b"\n", 1)[0].decode("latin-1")
        parts = head.split(head[3]) if head.startswith("MSH") and len(head) > 3 else []
        return parts[8].replace(parts[1][:1] or "^", "^")[:20] if len(parts) > 8 else None
    except (IndexError, ValueError):
        return None
