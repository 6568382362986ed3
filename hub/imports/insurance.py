# ruff: noqa: E501  (typer option declarations read better on one line)
"""参保名单 import: the insurance office's list (ID number, name, insurance type, enrolment
dates). Each person goes through the matcher as source `insurance`, so the resident's
insurance type (which drives package prices) follows the current enrolment."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import system
from hub.imports.low_income import ImportResult, Rejected
from hub.registry import idnumber
from hub.registry.records import ResidentRecord
from hub.registry.service import RegistryService
from hub.reports.models import InsuranceEnrolment
from hub.reports.scope import region_policy

SOURCE = "insurance"
ID, NAME, TYPE, STARTS, ENDS = "身份证号", "姓名", "参保类型", "参保日期", "终止日期"
COLUMNS = (ID, NAME, TYPE, STARTS)
TYPES = {"城镇职工": "URBAN_EMPLOYEE", "城镇职工基本医疗保险": "URBAN_EMPLOYEE",
         "城乡居民": "URBAN_RURAL_RESIDENT", "城乡居民医疗保险": "URBAN_RURAL_RESIDENT",
         "城乡居民基本医疗保险": "URBAN_RURAL_RESIDENT", "自费": "SELF_PAY"}  # fmt: skip


def _date(text: str) -> dt.date | None:
    text = text.strip()[:10].replace("/", "-").replace(".", "-")
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


async def import_insurance(
    session: AsyncSession, registry: RegistryService, *, region: str, name: str, data: bytes,
    today: dt.date | None = None,
) -> ImportResult:  # fmt: skip
    from hub.imports.files import rows as read_rows

    region_policy(region)
    today = today or dt.date.today()
    result = ImportResult(region, today.strftime("%Y-%m"))
    principal = system("import:insurance")
    seen: set[int] = set()
    for n, row in read_rows(name, data, COLUMNS):
        result.rows += 1
        person = idnumber.parse(row[ID])
        starts, ends = _date(row[STARTS]), _date(row.get(ENDS, ""))
        if not row[NAME]:
            result.rejected.append(Rejected(n, "MISSING_NAME", "姓名 is empty"))
        elif not person.valid:
            result.rejected.append(
                Rejected(
                    n, "INVALID_ID_NUMBER", f"身份证号 is not a valid ID number ({person.problem})"
                )
            )
        elif row[TYPE] not in TYPES:
            result.rejected.append(
                Rejected(
                    n,
                    "UNKNOWN_INSURANCE_TYPE",
                    f"参保类型 {row[TYPE][:20]} is not one of {'、'.join(TYPES)}",
                )
            )
        elif starts is None or (row.get(ENDS) and ends is None) or (ends and ends < starts):
            result.rejected.append(
                Rejected(
                    n,
                    "INVALID_DATE",
                    "参保日期/终止日期 must be dates YYYY-MM-DD, the end not before the start",
                )
            )
        else:
            current = ends is None or ends >= today
            record = ResidentRecord(
                source=SOURCE, source_id=f"{region}:{person.value}", name=row[NAME],
                sex=person.sex, birth_date=person.birth_date, id_number=person.value,
                insurance_type=TYPES[row[TYPE]] if current else "SELF_PAY",
            )  # fmt: skip
            async with session.begin_nested():
                submitted = await registry.submit(session, principal, record, strict=False)
            rid = submitted.resident.id
            result.new_residents += submitted.outcome.value != "LINKED"
            exists = await session.scalar(select(InsuranceEnrolment.id).where(
                InsuranceEnrolment.resident_id == rid,
                InsuranceEnrolment.insurance_type == TYPES[row[TYPE]],
                InsuranceEnrolment.starts_on == starts))  # fmt: skip
            if exists is None:
                session.add(InsuranceEnrolment(region_key=region, resident_id=rid,
                                               insurance_type=TYPES[row[TYPE]],
                                               starts_on=starts, ends_on=ends))  # fmt: skip
            else:
                enrolment = await session.get(InsuranceEnrolment, exists)
                if enrolment is not None:
                    enrolment.ends_on = ends
            seen.add(rid)
    result.imported = len(seen)
    result.households = len(seen)
    await session.flush()
    return result
