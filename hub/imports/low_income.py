"""低收入名单 import: one row per person as the poverty office / civil affairs send it. Each
person goes through the matcher (source `low-income`); the month's list replaces what
that month held; categories are set from the list and ended for people who left it.

A bad row is refused as ``row N: CODE message`` and the rest imports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import system
from hub.registry import idnumber
from hub.registry.models import SourceRecord
from hub.registry.records import ResidentRecord
from hub.registry.service import RegistryService
from hub.reports.models import LowIncomeMember, ResidentLocality
from hub.reports.periods import month as parse_month
from hub.reports.scope import region_policy

SOURCE = "low-income"
TOWNSHIP, VILLAGE = "乡镇（街道）", "村（社区）"
HEAD_NAME, HEAD_ID, NAME, ID, RELATION, CATEGORY = (
    "户主姓名", "户主身份证号", "姓名", "身份证号", "与户主关系", "类别")  # fmt: skip
COLUMNS = (TOWNSHIP, VILLAGE, HEAD_NAME, HEAD_ID, NAME, ID, RELATION, CATEGORY)
# 类别 as the lists write it -> registry population categories it sets.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "低保": ("SUBSISTENCE_ALLOWANCE", "LOW_INCOME_HOUSEHOLD"),
    "低保户": ("SUBSISTENCE_ALLOWANCE", "LOW_INCOME_HOUSEHOLD"),
    "特困": ("SUBSISTENCE_ALLOWANCE", "LOW_INCOME_HOUSEHOLD"),
    "五保": ("SUBSISTENCE_ALLOWANCE", "LOW_INCOME_HOUSEHOLD"),
    "低保边缘": ("LOW_INCOME_HOUSEHOLD",),
    "低收入农户": ("LOW_INCOME_HOUSEHOLD",),
    "建档立卡": ("REGISTERED_POOR",),
    "建档立卡贫困户": ("REGISTERED_POOR",),
    "困难群众": ("HARDSHIP",),
}
RELATIONS = {"本人": "SELF", "户主": "SELF", "配偶": "SPOUSE", "子": "CHILD", "女": "CHILD",
             "子女": "CHILD", "父母": "PARENT", "父亲": "PARENT", "母亲": "PARENT",
             "孙子女": "GRANDCHILD", "孙子": "GRANDCHILD", "孙女": "GRANDCHILD"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rejected:
    row: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.code} {self.message}"


@dataclass(slots=True)
class ImportResult:
    region: str
    month: str
    rows: int = 0
    imported: int = 0
    new_residents: int = 0
    households: int = 0
    ended: int = 0  # people on the previous list who left it
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (f"{self.region} {self.month}: {self.imported} of {self.rows} rows imported "
                f"({self.households} households, {self.new_residents} new residents), "
                f"{len(self.rejected)} refused, {self.ended} left the list")  # fmt: skip


def known_townships(region: str) -> set[str]:
    """The region's 乡镇（街道）: the district's streets and towns (hub.demo.districts holds
    the seed districts') and any township residents are already placed in."""
    from hub.demo.districts import DISTRICTS

    spec = DISTRICTS.get(region)
    return {s.name for s in spec.streets} if spec else set()


async def import_low_income(
    session: AsyncSession, registry: RegistryService, *, region: str, month: str,
    name: str, data: bytes,
) -> ImportResult:  # fmt: skip
    from hub.imports.files import rows as read_rows

    region_policy(region)
    period = parse_month(month)
    result = ImportResult(region, period.label)
    towns = known_townships(region) | set(await session.scalars(
        select(ResidentLocality.township).where(ResidentLocality.region_key == region).distinct()
    ))  # fmt: skip
    principal = system("import:low-income")
    members: dict[int, dict[str, object]] = {}
    for n, row in read_rows(name, data, COLUMNS):
        result.rows += 1
        problem = _check(row, towns)
        if problem:
            result.rejected.append(Rejected(n, *problem))
            continue
        person = idnumber.parse(row[ID])
        head = idnumber.parse(row[HEAD_ID])
        record = ResidentRecord(
            source=SOURCE, source_id=f"{region}:{person.value}", name=row[NAME],
            sex=person.sex, birth_date=person.birth_date, id_number=person.value,
            address=f"{row[TOWNSHIP]}{row[VILLAGE]}",
            categories=list(CATEGORIES[row[CATEGORY]]),
        )  # fmt: skip
        async with session.begin_nested():
            submitted = await registry.submit(session, principal, record, strict=False)
        rid = submitted.resident.id
        result.new_residents += submitted.outcome.value != "LINKED"
        members[rid] = dict(
            region_key=region, month=period.label, resident_id=rid, household_key=head.value,
            township=row[TOWNSHIP], village=row[VILLAGE] or None,
            relation=RELATIONS.get(row[RELATION], row[RELATION][:20] or None),
            category=row[CATEGORY][:40],
        )  # fmt: skip
    result.imported = len(members)
    result.households = len({m["household_key"] for m in members.values()})
    if not members:
        return result
    await session.execute(delete(LowIncomeMember).where(
        LowIncomeMember.region_key == region, LowIncomeMember.month == period.label))  # fmt: skip
    session.add_all(LowIncomeMember(**m) for m in members.values())  # type: ignore[arg-type]
    placed = set(await session.scalars(select(ResidentLocality.resident_id).where(
        ResidentLocality.resident_id.in_(list(members)))))  # fmt: skip
    session.add_all(
        ResidentLocality(resident_id=rid, region_key=region, township=str(m["township"]),
                         village=m["village"])  # type: ignore[arg-type]
        for rid, m in members.items() if rid not in placed
    )  # fmt: skip
    from hub.reports.locality import place

    await place(session, list(members))  # one township per household (the head's)
    result.ended = await _end_leavers(session, registry, region, period.label, set(members))
    await session.flush()
    return result


def _check(row: dict[str, str], towns: set[str]) -> tuple[str, str] | None:
    if not row[NAME]:
        return "MISSING_NAME", "姓名 is empty"
    person = idnumber.parse(row[ID])
    if not person.valid:
        return "INVALID_ID_NUMBER", f"身份证号 is not a valid ID number ({person.problem})"
    if not idnumber.parse(row[HEAD_ID]).valid:
        return "INVALID_HEAD_ID_NUMBER", "户主身份证号 is not a valid ID number"
    if not row[TOWNSHIP]:
        return "MISSING_TOWNSHIP", "乡镇（街道） is empty"
    if towns and row[TOWNSHIP] not in towns:
        return (
            "UNKNOWN_TOWNSHIP",
            f"乡镇（街道） {row[TOWNSHIP][:20]} is not a township of the region",
        )
    if row[CATEGORY] not in CATEGORIES:
        return (
            "UNKNOWN_CATEGORY",
            f"类别 {row[CATEGORY][:20]} is not one of {'、'.join(CATEGORIES)}",
        )
    return None


async def _end_leavers(
    session: AsyncSession, registry: RegistryService, region: str, month: str, kept: set[int]
) -> int:
    """People on the latest earlier list who are not on this one: their low-income record
    no longer carries the categories (this month's list is what holds)."""
    previous = await session.scalar(select(func.max(LowIncomeMember.month)).where(
        LowIncomeMember.region_key == region, LowIncomeMember.month < month))  # fmt: skip
    if previous is None:
        return 0
    listed = await session.scalars(select(LowIncomeMember.resident_id).where(
        LowIncomeMember.region_key == region, LowIncomeMember.month == previous))  # fmt: skip
    left = set(listed) - kept
    ended = 0
    principal = system("import:low-income")
    for src in (await session.scalars(select(SourceRecord).where(
        SourceRecord.source == SOURCE, SourceRecord.resident_id.in_(sorted(left))
    ))).all():  # fmt: skip
        payload = dict(src.payload, categories=[])
        fields = {k: v for k, v in payload.items() if k in _FIELDS - {"source", "source_id"}}
        record = ResidentRecord(source=SOURCE, source_id=src.source_id, **fields)
        if record.birth_date and isinstance(record.birth_date, str):
            record.birth_date = dt.date.fromisoformat(record.birth_date)
        await registry.submit(session, principal, record, strict=False)
        ended += 1
    return ended


_FIELDS = set(ResidentRecord.__dataclass_fields__)
