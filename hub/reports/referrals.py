"""双向转诊: referrals created in the period by direction and status, time from request to
acceptance (median, p90), reserved-capacity use per hospital, down-referrals."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.directory.models import Organization
from hub.referrals.models import Booking, Referral, ReferralTransition
from hub.reports.periods import Period
from hub.reports.scope import referral_scope, region_policy, require_reports
from hub.reports.tables import Column, Report, Table

STATUSES = ("REQUESTED", "RECEIVED", "ACCEPTED", "REJECTED", "ARRIVED", "COMPLETED", "CANCELLED")
STATUS_ZH = dict(zip(STATUSES, ("已申请", "已接收", "已接受", "已拒绝", "已到院", "已完成",
                               "已取消"),
                     strict=True))  # fmt: skip
DIRECTION_ZH = {"UP": "上转", "DOWN": "下转"}
DIRECTION_COLUMNS = (
    Column("label", "转诊方向", "text"),
    Column("total", "转诊人次"),
    *(Column(s.lower(), STATUS_ZH[s]) for s in STATUSES),
    Column("medianHoursToAccept", "受理时长中位数（小时）", "hours"),
    Column("p90HoursToAccept", "受理时长P90（小时）", "hours"),
)
HOSPITAL_COLUMNS = (
    Column("label", "医院", "text"),
    Column("up", "接收上转人次"),
    Column("accepted", "接受人次"),
    Column("down", "下转人次"),
    Column("reservedBooked", "使用预留号源/床位"),
)


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 1)


async def referral_report(
    session: AsyncSession, principal: Principal, *, region: str, period: Period
) -> Report:
    require_reports(principal)
    policy = region_policy(region)
    team_org = Organization.__table__.alias("team_org")
    stmt = (
        select(Referral.id, Referral.direction, Referral.status, Referral.hospital_id,
               Referral.created_at)
        .join(team_org, team_org.c.id == Referral.team_organization_id)
        .where(team_org.c.region_key == region, Referral.created_at >= _start(period.start),
               Referral.created_at < _start(period.end + dt.timedelta(days=1)),
               *referral_scope(principal))
    )  # fmt: skip
    rows = (await session.execute(stmt)).all()
    ids = [r.id for r in rows]
    accepted_at: dict[int, Any] = {}
    booked: Counter[str] = Counter()
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        for rid, at in (await session.execute(
            select(ReferralTransition.referral_id, func.min(ReferralTransition.at))
            .where(ReferralTransition.referral_id.in_(part),
                   ReferralTransition.to_status == "ACCEPTED")
            .group_by(ReferralTransition.referral_id)
        )).all():  # fmt: skip
            accepted_at[rid] = at
        for rid, n in (await session.execute(
            select(Booking.referral_id, func.count()).where(
                Booking.referral_id.in_(part), Booking.status == "BOOKED"
            ).group_by(Booking.referral_id)
        )).all():  # fmt: skip
            booked[str(rid)] += n
    by_dir: dict[str, Counter[str]] = defaultdict(Counter)
    waits: dict[str, list[float]] = defaultdict(list)
    per_hospital: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        by_dir[r.direction][r.status] += 1
        h = per_hospital[r.hospital_id]
        h["up" if r.direction == "UP" else "down"] += 1
        h["reservedBooked"] += booked[str(r.id)]
        if r.id in accepted_at:
            h["accepted"] += 1
            waits[r.direction].append(
                (_aware(accepted_at[r.id]) - _aware(r.created_at)).total_seconds() / 3600
            )

    def direction_row(
        key: str, label: str, counts: Counter[str], hours: list[float]
    ) -> dict[str, Any]:
        return dict(key=key, label=label, total=sum(counts.values()),
                    **{s.lower(): counts[s] for s in STATUSES},
                    medianHoursToAccept=_quantile(sorted(hours), 0.5),
                    p90HoursToAccept=_quantile(sorted(hours), 0.9))  # fmt: skip

    directions = [direction_row(d, DIRECTION_ZH[d], by_dir[d], waits[d]) for d in ("UP", "DOWN")]
    total = direction_row(
        "TOTAL", "合计", by_dir["UP"] + by_dir["DOWN"], waits["UP"] + waits["DOWN"]
    )
    names = dict((await session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(list(per_hospital)))
    )).tuples().all())  # fmt: skip
    hospitals = [dict(key=h, label=names.get(h, h), up=c["up"], accepted=c["accepted"],
                      down=c["down"], reservedBooked=c["reservedBooked"])
                 for h, c in sorted(per_hospital.items())]  # fmt: skip
    title = f"{policy.name_zh}双向转诊统计（{period.label}）"
    return Report("referral", title, [
        Table("directions", f"{title}·按方向与状态", DIRECTION_COLUMNS, directions, total),
        Table("hospitals", f"{title}·按医院", HOSPITAL_COLUMNS, hospitals, None),
    ], dict(region=region, period=period.label))  # fmt: skip


def _start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _aware(at: Any) -> Any:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
