"""The five seed regions as demo districts (示范区): streets, institutions and sizes.

Street and town names, county codes (GB/T 2260) and the named hospitals and health
centres are real (the Yongkang centres are the ones the seed lists), except Jilin's
district hospital, added so the demo has a secondary hospital there; communities,
villages, people and teams are synthetic. Sizes are for `scale=1.0` of
`hub.demo.generate.generate`: Panyu is the big district, the others are small samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Street:
    """A street (街道) or town (镇/乡) with its primary-care institution and teams."""

    name: str
    weight: float  # relative number of residents
    teams: int
    centre: str | None = None  # institution name when it differs from the usual pattern
    stations: int = 0  # community health stations (社区卫生服务站) under the centre
    village_clinics: int = 0  # village clinics (村卫生室) under a township centre
    communities: tuple[str, ...] = ()  # known community/village names; the rest generated

    @property
    def is_town(self) -> bool:
        return self.name.endswith(("镇", "乡"))


@dataclass(frozen=True, slots=True)
class Hospital:
    name: str
    kind: str  # SECONDARY_HOSPITAL | TERTIARY_HOSPITAL | MATERNAL_CHILD_HOSPITAL
    street: str  # where it stands


@dataclass(frozen=True, slots=True)
class DistrictSpec:
    """What a demo district looks like; `generate` turns it into people and teams."""

    key: str
    name: str  # county-level name: 番禺区
    city: str  # prefix used in institution names: 广州市
    region_code: str  # GB/T 2260
    streets: tuple[Street, ...]
    hospitals: tuple[Hospital, ...]
    residents: int  # at scale 1.0
    capacity_households: int  # per team: about 1,000, at most 1,500 [EQ]
    # Share of adults insured as (urban employee, urban-rural resident, self-pay).
    insurance_mix: tuple[float, float, float]
    migrant_share: float = 0.0  # households whose ID numbers come from other provinces
    # Household-level categories: share of households whose members all carry it.
    household_categories: Mapping[str, float] = field(default_factory=dict)
    team_naming: str = (
        "street"  # "street": 市桥街道第3家庭医生团队; "leader": 石柱中心卫生院张三签约团队
    )

    @property
    def teams(self) -> int:
        return sum(s.teams for s in self.streets)


def _frozen(mapping: dict[str, float]) -> Mapping[str, float]:
    return MappingProxyType(mapping)


PANYU = DistrictSpec(
    key="panyu",
    name="番禺区",
    city="广州市",
    region_code="440113",
    streets=(
        Street("市桥街道", 10, 7, stations=2),
        Street("沙头街道", 6, 4),
        Street("东环街道", 6, 4),
        Street("桥南街道", 6, 4),
        Street("小谷围街道", 3, 2, communities=("北亭村", "南亭村", "穗石村", "贝岗村")),
        Street("大石街道", 8, 5, stations=1),
        Street("洛浦街道", 7, 5),
        Street("石壁街道", 5, 3),
        Street("钟村街道", 6, 4),
        Street("大龙街道", 5, 3),
        Street("南村镇", 7, 4, communities=("坑头村", "板桥村", "员岗村", "里仁洞村")),
        Street("新造镇", 2, 2),
        Street("化龙镇", 3, 3),
        Street("石楼镇", 4, 3, communities=("大岭村",)),
        Street("石碁镇", 6, 4),
        Street("沙湾镇", 4, 3, communities=("紫坭村", "三善村")),
    ),
    hospitals=(
        Hospital("广州市番禺区中心医院", "TERTIARY_HOSPITAL", "桥南街道"),
        Hospital("广州市番禺区何贤纪念医院", "TERTIARY_HOSPITAL", "市桥街道"),
        Hospital("广州市番禺区第二人民医院", "SECONDARY_HOSPITAL", "大石街道"),
        Hospital("广州市番禺区中医院", "SECONDARY_HOSPITAL", "市桥街道"),
        Hospital("广州市番禺区妇幼保健院", "MATERNAL_CHILD_HOSPITAL", "市桥街道"),
    ),
    residents=20_400,
    capacity_households=1_200,
    insurance_mix=(0.45, 0.50, 0.05),
    migrant_share=0.25,
    household_categories=_frozen({"SUBSISTENCE_ALLOWANCE": 0.015}),
)

# Wenzhou's seed is about rural low-income households (农村低收入农户), so the demo
# district is a rural county where they are a large share of the sample.
WENZHOU = DistrictSpec(
    key="wenzhou",
    name="苍南县",
    city="温州市",
    region_code="330327",
    streets=(
        Street("灵溪镇", 3, 1, village_clinics=1),
        Street("矾山镇", 2, 1, village_clinics=1),
        Street("马站镇", 2, 1, village_clinics=1),
        Street("桥墩镇", 2, 1, village_clinics=1),
    ),
    hospitals=(Hospital("苍南县人民医院", "SECONDARY_HOSPITAL", "灵溪镇"),),
    residents=1_200,
    capacity_households=1_000,
    insurance_mix=(0.10, 0.85, 0.05),
    household_categories=_frozen({"LOW_INCOME_HOUSEHOLD": 0.30, "SUBSISTENCE_ALLOWANCE": 0.05}),
)

JILIN = DistrictSpec(
    key="jilin",
    name="船营区",
    city="吉林市",
    region_code="220204",
    streets=(
        Street("北京路街道", 3, 1),
        Street("德胜街道", 3, 1),
        Street("致和街道", 2, 1),
        Street("向阳街道", 2, 1),
        Street("搜登站镇", 2, 1, village_clinics=2),
    ),
    hospitals=(
        Hospital("吉林市中心医院", "TERTIARY_HOSPITAL", "德胜街道"),
        # Synthetic (not a real hospital's name): a district hospital (二级医院), so the
        # demo can show Jilin's "1+1+1" combination signing and secondary referrals.
        Hospital("吉林市船营区人民医院", "SECONDARY_HOSPITAL", "北京路街道"),
    ),
    residents=1_600,
    capacity_households=1_000,
    insurance_mix=(0.40, 0.55, 0.05),
    household_categories=_frozen({"REGISTERED_POOR": 0.04, "SUBSISTENCE_ALLOWANCE": 0.03}),
)

YONGKANG = DistrictSpec(
    key="yongkang",
    name="永康市",
    city="",  # a county-level city: its institutions are named 永康市…
    region_code="330784",
    streets=(
        Street("东城街道", 3, 1),
        Street("西城街道", 2, 1),
        Street("江南街道", 3, 1),
        Street("石柱镇", 2, 1, centre="永康市石柱中心卫生院", village_clinics=1),
        Street("芝英镇", 2, 1, centre="永康市芝英中心卫生院", village_clinics=1),
        Street("古山镇", 2, 1, centre="永康市古山中心卫生院"),
    ),
    hospitals=(
        Hospital("永康市第一人民医院", "SECONDARY_HOSPITAL", "东城街道"),
        Hospital("永康市妇幼保健院", "MATERNAL_CHILD_HOSPITAL", "西城街道"),
    ),
    residents=1_800,
    capacity_households=1_200,
    insurance_mix=(0.25, 0.70, 0.05),
    migrant_share=0.15,
    household_categories=_frozen({"HARDSHIP": 0.03, "SUBSISTENCE_ALLOWANCE": 0.02}),
    team_naming="leader",  # the seed names teams after their doctor: 石柱中心卫生院…签约团队
)

ERQI = DistrictSpec(
    key="erqi",
    name="二七区",
    city="郑州市",
    region_code="410103",
    streets=(
        Street("淮河路街道", 2, 1),
        Street("解放路街道", 2, 1),
        Street("铭功路街道", 2, 1),
        Street("大学路街道", 2, 1),
        Street("长江路街道", 2, 1),
        Street("马寨镇", 2, 1, village_clinics=1),
    ),
    hospitals=(
        Hospital("郑州大学第一附属医院", "TERTIARY_HOSPITAL", "大学路街道"),
        Hospital("郑州市二七区人民医院", "SECONDARY_HOSPITAL", "铭功路街道"),
    ),
    residents=2_000,
    capacity_households=1_500,  # [EQ]: about 1,000, at most 1,500 households per team
    insurance_mix=(0.45, 0.50, 0.05),
    migrant_share=0.10,
    household_categories=_frozen({"SUBSISTENCE_ALLOWANCE": 0.015}),
)

DISTRICTS: Mapping[str, DistrictSpec] = MappingProxyType(
    {d.key: d for d in (PANYU, WENZHOU, JILIN, YONGKANG, ERQI)}
)


def get(key: str) -> DistrictSpec:
    try:
        return DISTRICTS[key]
    except KeyError:
        raise KeyError(f"unknown demo district {key!r}; known: {', '.join(DISTRICTS)}") from None
