"""A valid dose counts toward the child package's immunization item (履约): for a resident
with an active contract whose package owes the region's item (mappings/immunization/
fulfilment.yaml), each dose the national schedule's evaluation says is valid is recorded as
a service delivery once — keyed by the source's event id, so a re-sent record never counts
twice; a dose that is not valid (too early, interval too short) counts for nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.immunization.models import VaccinationEvent
from mappings.immunization.fulfilment import item_for


def source_ref(event: VaccinationEvent) -> str:
    return f"dose:{event.source_event_id}"


async def count_valid_doses(
    session: AsyncSession,
    principal: Principal,
    resident_id: int,
    birth_date: dt.date | None,
    events: Sequence[VaccinationEvent],
    *,
    source: str,
) -> int:
    """Record a delivery for each valid dose of `events` (the ones a message carried);
    returns how many deliveries it recorded or found already recorded."""
    from hub.contracts import repository as contracts
    from hub.contracts.delivery import record_delivery
    from hub.immunization.service import forecasts

    doses = [e for e in events if e.vaccine is not None and not e.entered_in_error]
    if birth_date is None or not doses:
        return 0
    contract = await contracts.active_contract(session, resident_id)
    if contract is None:
        return 0
    code = item_for(contract.region_key)
    if code is None:
        return 0
    today = dt.date.today()
    result = (await forecasts(session, [(resident_id, birth_date)], today))[resident_id]
    valid = Counter((e.vaccine, e.date) for e in result.evaluations if e.valid)
    counted = 0
    for e in sorted(doses, key=lambda d: (d.given_on, d.id or 0)):
        key = (str(e.vaccine), e.given_on)
        if valid[key] <= 0:
            continue
        valid[key] -= 1
        row = await record_delivery(
            session, principal, resident_id=resident_id, performed_on=e.given_on,
            item_code=code, source=source, source_ref=source_ref(e),
        )  # fmt: skip
        counted += row is not None
    return counted
