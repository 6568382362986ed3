"""履约: per team and package item, services required and done in the period, the rate,
and the signed residents with an overdue item. Items and windows come from the policy
through hub.contracts.fulfilment, the same rules a contract's own progress uses."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.contracts import fulfilment as rules
from hub.contracts.facts import age_categories, policy_categories
from hub.contracts.lifecycle import Period as ContractPeriod
from hub.contracts.models import Contract, ContractPackage, ServiceDelivery
from hub.directory.models import Team
from hub.registry.models import Resident, ResidentCategory
from hub.reports.periods import Period
from hub.reports.scope import contract_scope, in_effect, region_policy, require_reports
from hub.reports.tables import Column, Report, Table, share

COLUMNS = (
    Column("team", "家庭医生团队", "text"),
    Column("item", "服务项目", "text"),
    Column("required", "应服务次数"),
    Column("done", "已服务次数"),
    Column("rate", "履约率", "share"),
    Column("overdueResidents", "逾期未服务人数"),
)
TEAM_COLUMNS = (
    Column("team", "家庭医生团队", "text"),
    Column("contracts", "签约人数"),
    Column("required", "应服务次数"),
    Column("done", "已服务次数"),
    Column("rate", "履约率", "share"),
    Column("overdueResidents", "有逾期项目的人数"),
)


def _chunks(ids: list[int], n: int = 500) -> Any:
    for i in range(0, len(ids), n):
        yield ids[i : i + n]


async def fulfilment_report(
    session: AsyncSession, principal: Principal, *, region: str, period: Period,
    group_by: str = "TEAM_ITEM",
) -> Report:  # fmt: skip
    """Only items with a countable frequency (per year, per quarter) are counted; windows
    that began by the period's end (or today) and overlap the period."""
    require_reports(principal)
    policy = region_policy(region)
    as_of = min(period.end, dt.date.today())
    contracts = (await session.execute(
        select(Contract.id, Contract.resident_id, Contract.team_id, Contract.starts_on,
               Contract.ends_on, Resident.birth_date)
        .join(Resident, Resident.id == Contract.resident_id)
        .where(Contract.region_key == region, in_effect(as_of), *contract_scope(principal))
    )).all()  # fmt: skip
    ids = [c.id for c in contracts]
    rids = [c.resident_id for c in contracts]
    packs: dict[int, list[str]] = defaultdict(list)
    chosen: dict[int, list[str]] = defaultdict(list)
    cats: dict[int, list[str]] = defaultdict(list)
    done: dict[int, list[tuple[str, dt.date]]] = defaultdict(list)
    for part in _chunks(ids):
        for cid, code, items in (await session.execute(select(
            ContractPackage.contract_id, ContractPackage.code, ContractPackage.chosen_items
        ).where(ContractPackage.contract_id.in_(part)))).all():  # fmt: skip
            packs[cid].append(code)
            chosen[cid] += list(items or [])
        for cid, item, on in (await session.execute(select(
            ServiceDelivery.contract_id, ServiceDelivery.item_code, ServiceDelivery.performed_on
        ).where(ServiceDelivery.contract_id.in_(part)))).all():  # fmt: skip
            done[cid].append((item, on))
    for part in _chunks(rids):
        for rid, cat in (await session.execute(select(
            ResidentCategory.resident_id, ResidentCategory.category
        ).where(ResidentCategory.resident_id.in_(part)))).all():  # fmt: skip
            cats[rid].append(cat)
    names = dict((await session.execute(select(Team.id, Team.name))).tuples().all())
    item_names = {it.code: it.name_zh for p in policy.packages for it in p.items}
    cell: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    overdue_cell: dict[tuple[str, str], set[int]] = defaultdict(set)
    team_contracts: dict[str, int] = defaultdict(int)
    overdue_team: dict[str, set[int]] = defaultdict(set)
    owed: dict[tuple[Any, ...], list[Any]] = {}
    for c in contracts:
        team_contracts[c.team_id] += 1
        categories = policy_categories(cats[c.resident_id]) | age_categories(c.birth_date, as_of)
        combo = (tuple(sorted(packs[c.id])), categories, tuple(sorted(chosen[c.id])))
        if combo not in owed:  # most contracts share a handful of package/category mixes
            try:
                owed[combo] = rules.contract_items(policy, combo[0], categories, combo[2] or None)
            except KeyError:
                owed[combo] = []  # a package this policy no longer lists
        items = owed[combo]
        if not items:
            continue
        progress = rules.fulfilment(items, ContractPeriod(c.starts_on, c.ends_on), done[c.id],
                                    as_of=as_of)  # fmt: skip
        for p in progress:
            if p.required is None or rules._day(p.window_end) < period.start:
                continue
            k = (c.team_id, p.item_code)
            cell[k][0] += p.required
            cell[k][1] += min(p.done, p.required)
            if p.status is rules.ItemStatus.OVERDUE:
                overdue_cell[k].add(c.resident_id)
                overdue_team[c.team_id].add(c.resident_id)
    rows = []
    for (team, item), (req, dn) in sorted(cell.items()):
        rows.append(dict(key=f"{team}/{item}", teamId=team, team=names.get(team, team),
                         itemCode=item, item=item_names.get(item, item), required=req,
                         done=dn, rate=share(dn, req),
                         overdueResidents=len(overdue_cell[(team, item)])))  # fmt: skip
    teams = []
    for team in sorted(team_contracts):
        req = sum(v[0] for k, v in cell.items() if k[0] == team)
        dn = sum(v[1] for k, v in cell.items() if k[0] == team)
        teams.append(dict(key=team, teamId=team, team=names.get(team, team),
                          contracts=team_contracts[team], required=req, done=dn,
                          rate=share(dn, req),
                          overdueResidents=len(overdue_team[team])))  # fmt: skip
    req = sum(v[0] for v in cell.values())
    dn = sum(v[1] for v in cell.values())
    everyone = set().union(*overdue_team.values()) if overdue_team else set()
    total = dict(key="TOTAL", teamId="", team="合计", contracts=len(contracts), required=req,
                 done=dn, rate=share(dn, req), overdueResidents=len(everyone))  # fmt: skip
    title = f"{policy.name_zh}家庭医生签约服务履约情况（{period.label}）"
    tables = [Table("teams", f"{title}·按团队", TEAM_COLUMNS, teams, total),
              Table("items", f"{title}·按团队和服务项目", COLUMNS, rows, None)]  # fmt: skip
    if group_by == "TEAM_ITEM":
        tables.reverse()
    return Report("fulfilment", title, tables,
                  dict(region=region, period=period.label, groupBy=group_by))  # fmt: skip
