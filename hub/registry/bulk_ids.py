"""The registry's batch path for records linked by identifier only (newborns, 出生医学证明).

`NewbornLinker` (hub/maternal/service.py) decides a newborn by its ID number, else its
birth certificate number, never probabilistically (twins share mother and birth date).
`IdentifierBulkLinker` makes that same decision for a whole batch and writes it with
`BulkLinker`'s few multi-row statements, one audit row for the batch (the hash chain
gets one link per batch, not one per record, and stays verifiable) and one outbox event
per record. Identifiers are looked up through `repository.by_identifier`, the function
the per-record path uses, so whatever that function does to stored identifiers (field
encryption, a blind index) applies here too.

Records of the batch see each other: a record whose ID number or certificate an earlier
record of the batch brought links to that record's resident, as it would have had the
earlier one been committed first. The caller owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from hub.registry import idnumber, repository
from hub.registry.bulk import BulkLinker, _Item
from hub.registry.linking import LinkOutcome
from hub.registry.matcher.linker import Candidate, Decision, Outcome
from hub.registry.matcher.model import Grade
from hub.registry.models import IdentifierSystem


def _wanted(it: _Item) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """The (system, value) the per-record NewbornLinker looks up: the valid ID number
    first, then the birth certificate number."""
    number = idnumber.parse(it.p.payload.get("id_number"))
    by_id = (IdentifierSystem.ID_CARD, number.value) if number.valid else None
    cert = it.p.payload.get("birth_certificate_no")
    by_cert = (IdentifierSystem.BIRTH_CERTIFICATE_NO, str(cert)) if cert else None
    return by_id, by_cert


class IdentifierBulkLinker(BulkLinker):
    async def _decide(self, session: AsyncSession, items: list[_Item]) -> None:
        new = [it for it in items if it.source_record_id is None and it.first is None]
        wanted = {w for it in new for w in _wanted(it) if w is not None}
        stored: dict[tuple[str, str], list[int]] = {}
        for system, value in sorted(wanted):
            stored[(system, value)] = await repository.by_identifier(session, system, value)
        overlay: dict[tuple[str, str], list[int]] = defaultdict(list)  # this batch's
        next_new = -1
        for it in items:
            if it.first is not None:
                it.target = it.first.target
                continue
            if it.source_record_id is not None:  # an update: its resident keeps the record
                for w in _wanted(it):
                    if w is not None and it.target not in overlay[w]:
                        overlay[w].append(it.target)
                continue
            found: list[int] = []
            for w in _wanted(it):
                if w is not None and not found:
                    found = [*stored.get(w, ()), *overlay.get(w, ())]
            if found:
                rid = found[0]
                it.target, it.outcome = rid, LinkOutcome.LINKED
                it.decision = Decision(
                    Outcome.LINKED, rid, [Candidate(rid, 1.0, Grade.CERTAIN, 0.0, "id")]
                )
            else:
                it.target, next_new = next_new, next_new - 1
                it.outcome = LinkOutcome.NEW
                it.decision = Decision(Outcome.NEW, None, [], provisional=True)
            for w in _wanted(it):
                if w is not None and it.target not in overlay[w]:
                    overlay[w].append(it.target)
        self.outcomes.update(it.outcome.value for it in items)
