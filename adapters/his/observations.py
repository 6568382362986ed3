"""ORU^R01 results -> the hub's observations, through the versioned local code map.

Blood pressure becomes one LOINC 85354-9 panel with systolic (8480-6) and diastolic
(8462-4) components; fasting glucose is stored in mmol/L; every other result keeps its
code as sent: a LOINC code as is, a local code mapped through `mappings/his/` when it can
be, else stored unmapped with its local code and reported back. Nothing is dropped.
"""

from __future__ import annotations

from typing import Any

from adapters.his.translate import BP_PANEL, DIASTOLIC, SYSTOLIC, ObservationBatch
from hub.records.service import Result
from mappings.local_codes import CodeMap

LOINC = ("LN", "LOINC")
_TYPED = frozenset({"systolic", "diastolic", "blood_pressure", "fasting_glucose"})


def results_of(batch: ObservationBatch, codes: CodeMap) -> tuple[list[Result], list[str]]:
    """(results to store, local codes without a mapping)."""
    out: list[Result] = []
    unmapped: list[str] = []
    for bp in batch.blood_pressures:
        out.append(
            Result(
                code=BP_PANEL,
                code_system="LOINC",
                display="Blood pressure panel",
                components={SYSTOLIC: bp.systolic, DIASTOLIC: bp.diastolic},
                unit=bp.unit,
                effective_at=bp.time,
            )
        )
    for g in batch.glucose:
        out.append(
            Result(
                code="14771-0",
                code_system="LOINC",
                display="Fasting glucose",
                value_num=g.mmol_per_l,
                unit="mmol/L",
                effective_at=g.time,
                local_code=None if g.unit == "mmol/L" else f"{g.value} {g.unit}",
            )
        )
    for obs in batch.observations:
        if obs.kind in _TYPED:
            continue  # stored above in its typed form
        common: dict[str, Any] = {
            "value_num": obs.numeric,
            "value_text": obs.value or None,
            "unit": obs.unit or None,
            "status": obs.status or None,
            "effective_at": obs.time,
        }
        if obs.code_system.upper() in LOINC:
            out.append(
                Result(
                    obs.code,
                    "LOINC",
                    obs.display or None,
                    local_code=obs.local_code or None,
                    **common,
                )
            )
            continue
        local = f"{obs.code_system}:{obs.code}"
        found = codes.lookup(obs.code_system, obs.code)
        if found is not None:
            common["unit"] = common["unit"] or found.unit
            out.append(Result(found.code, found.system, found.display, local_code=local, **common))
        else:
            unmapped.append(local)
            out.append(
                Result(
                    obs.code,
                    f"local:{obs.code_system or '?'}",
                    obs.display or None,
                    local_code=local,
                    mapped=False,
                    **common,
                )
            )
    return out, unmapped
