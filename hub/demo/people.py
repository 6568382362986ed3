"""Deterministic synthetic people (合成居民): names, ID numbers, phones, addresses, cards.

A `PersonFactory` owns one `random.Random(seed)`, so the same seed and the same sequence
of calls always yield the same people. ID numbers are valid GB 11643 numbers that agree
with the person's birth date and sex, and are unique within a factory; so are insurance
cards and health record numbers. Nothing here touches a database.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from stdnum.cn import ric

from hub.demo import names
from hub.registry.idnumber import make

# Ages, population categories and "as of" facts of the demo are all taken on this day,
# so the data does not drift as the calendar moves.
REFERENCE_DATE = dt.date(2026, 11, 1)

MALE = "1"
FEMALE = "2"


class InsuranceType(StrEnum):
    """参保类型."""

    URBAN_EMPLOYEE = "URBAN_EMPLOYEE"  # 城镇职工基本医疗保险
    URBAN_RURAL_RESIDENT = "URBAN_RURAL_RESIDENT"  # 城乡居民基本医疗保险
    SELF_PAY = "SELF_PAY"  # 自费


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    """One synthetic resident as a source system would hold them."""

    name: str
    sex: str  # GB/T 2261.1: '1' male, '2' female
    birth_date: dt.date
    id_number: str
    phone: str | None
    address: str
    region_code: str  # GB/T 2260 code of the district the person lives in
    insurance_type: str  # an InsuranceType value
    insurance_card: str | None  # None for self-pay residents
    health_record_no: str

    def age(self, on: dt.date = REFERENCE_DATE) -> int:
        return age_on(self.birth_date, on)


def age_on(birth_date: dt.date, on: dt.date = REFERENCE_DATE) -> int:
    """Completed years of age on a day."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier; 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# Age pyramid close to the 7th census (about 17% under 15, 14% aged 65+):
# (youngest, oldest, percent of population).
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 6, 6.5),
    (7, 14, 9.0),
    (15, 24, 11.0),
    (25, 34, 15.0),
    (35, 44, 14.0),
    (45, 54, 15.0),
    (55, 64, 15.0),
    (65, 74, 9.0),
    (75, 84, 4.0),
    (85, 99, 1.5),
)

# Card numbers of the third-generation social security card: a letter and 8 digits.
_CARD_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


class _Weighted:
    """Weighted choice with precomputed cumulative weights (random.choices re-sums)."""

    def __init__(self, items: dict[str, float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(items.values()))

    def pick(self, rng: random.Random) -> str:
        x = rng.random() * self.cumulative[-1]
        return self.items[bisect.bisect_right(self.cumulative, x)]


class PersonFactory:
    """Makes unique, reproducible synthetic residents of one district.

    `streets` are the district's streets/towns (街道/镇); addresses and health record
    numbers are drawn from them. `insurance_mix` is the adult-population share of
    (urban employee, urban-rural resident, self-pay). `migrant_share` is the share of
    adults whose ID number was issued elsewhere (Panyu has many migrant workers).
    `lane=(i, n)` restricts ID sequences to every n-th one starting at i, so factories
    with different lanes never issue the same number (migrants share home counties).
    """

    def __init__(
        self,
        seed: int,
        region_code: str,
        streets: Sequence[str],
        *,
        district_name: str | None = None,
        insurance_mix: tuple[float, float, float] = (0.45, 0.50, 0.05),
        migrant_share: float = 0.0,
        reference_date: dt.date = REFERENCE_DATE,
        lane: tuple[int, int] = (0, 1),
    ) -> None:
        if not streets:
            raise ValueError("a district needs at least one street or town")
        self.rng = random.Random(seed)
        self.region_code = region_code
        self.streets = tuple(streets)
        self.district_name = (
            district_name
            if district_name is not None
            else names.DISTRICT_NAMES.get(region_code, "")
        )
        self.insurance_mix = insurance_mix
        self.migrant_share = migrant_share
        self.reference_date = reference_date
        self.lane, self.lanes = lane
        self.area_code = next(
            (code for prefix, code in names.AREA_CODES.items() if region_code.startswith(prefix)),
            None,
        )
        boost = names.PROVINCE_SURNAMES.get(region_code[:2], {})
        self._surnames = _Weighted({s: w * boost.get(s, 1.0) for s, w in names.SURNAMES.items()})
        self._ages = [(lo, hi) for lo, hi, _ in AGE_BANDS]
        self._age_weights = list(itertools.accumulate(w for _, _, w in AGE_BANDS))
        self._used_ids: set[str] = set()
        self._used_cards: set[str] = set()
        self._record_seq: dict[tuple[int, int], int] = {}

    # -- the one call most users need ------------------------------------------------

    def person(
        self,
        *,
        sex: str | None = None,
        birth_date: dt.date | None = None,
        age_range: tuple[int, int] | None = None,
        surname: str | None = None,
        address: str | None = None,
        street: str | None = None,
        community: int | None = None,
        id_region: str | None = None,
        insurance_type: str | None = None,
    ) -> SyntheticPerson:
        """A new resident; any field passed in is kept, the rest is drawn at random.

        `street` and `community` (1-based number of the village/community committee)
        place the health record number; by default the street is read from `address`.
        `id_region` forces the region code printed in the ID number.
        """
        rng = self.rng
        sex = sex or (MALE if rng.random() < 0.5 else FEMALE)
        born = birth_date or self.birth_date(age_range)
        age = age_on(born, self.reference_date)
        if street is None:
            street = next((s for s in self.streets if address and s in address), None)
            street = street or rng.choice(self.streets)
        if address is None:
            address = self.address(street)
        if id_region is None:
            migrant = age >= 18 and rng.random() < self.migrant_share
            origins = migrant_origins(born.year) if migrant else ()
            id_region = rng.choice(origins) if origins else self.region_code
        insurance = insurance_type or self.insurance_type(age)
        return SyntheticPerson(
            name=(surname or self.surname()) + self.given_name(sex, born.year),
            sex=sex,
            birth_date=born,
            id_number=self.id_number(born, sex, id_region),
            phone=self.phone(age),
            address=address,
            region_code=self.region_code,
            insurance_type=str(insurance),
            insurance_card=None if insurance == InsuranceType.SELF_PAY else self.insurance_card(),
            health_record_no=self.health_record_no(street, community),
        )

    # -- the parts, usable on their own -----------------------------------------------

    def surname(self) -> str:
        return self._surnames.pick(self.rng)

    def given_name(self, sex: str, birth_year: int) -> str:
        """One or two characters in the style of the person's generation."""
        rng = self.rng
        cohort = next(c for c in names.GIVEN_COHORTS if birth_year <= c[0])
        _, single_share, male_first, male_second, female_first, female_second = cohort
        if birth_year <= names.GIVEN_COHORTS[0][0] and rng.random() < 0.3:
            return rng.choice(names.CLASSIC_NAMES[sex])
        first, second = (male_first, male_second) if sex == MALE else (female_first, female_second)
        if rng.random() < single_share:
            return rng.choice(second)
        last = rng.choice(second)
        # Reduplicated names (婷婷, 丽丽) are a girls' and nickname-style pattern.
        if sex == FEMALE and rng.random() < 0.04:
            return last * 2
        head = rng.choice(first)
        while head == last:
            head = rng.choice(first)
        return head + last

    def birth_date(self, age_range: tuple[int, int] | None = None) -> dt.date:
        """A birth date giving an age within `age_range` (inclusive) on the reference day;
        by default drawn from the census-like age pyramid."""
        rng = self.rng
        if age_range is None:
            x = rng.random() * self._age_weights[-1]
            age_range = self._ages[bisect.bisect_right(self._age_weights, x)]
        youngest, oldest = age_range
        latest = years_before(self.reference_date, youngest)
        earliest = years_before(self.reference_date, oldest + 1) + dt.timedelta(days=1)
        return earliest + dt.timedelta(days=rng.randrange((latest - earliest).days + 1))

    def id_number(self, birth_date: dt.date, sex: str, region: str | None = None) -> str:
        """A valid 18-character number, unique within this factory; the sequence is odd
        for men and even for women, as GB 11643 requires."""
        region = issuing_code(region or self.region_code, birth_date.year)
        parity = 1 if sex == MALE else 0
        slots = range(self.lane, 500, self.lanes)  # sequence = 2 * slot + parity
        for _ in range(50):
            number = make(region, birth_date, self.rng.choice(slots) * 2 + parity)
            if number not in self._used_ids:
                break
        else:  # a crowded birthday: fall back to the first free sequence
            free = (
                make(region, birth_date, slot * 2 + parity)
                for slot in slots
                if make(region, birth_date, slot * 2 + parity) not in self._used_ids
            )
            spare = next(free, None)
            if spare is None:
                raise ValueError(f"no free ID sequence for {region} {birth_date}")
            number = spare
        self._used_ids.add(number)
        return number

    def phone(self, age: int) -> str | None:
        """Children rarely have their own phone; older people more often a landline."""
        rng = self.rng
        if age < 12:
            return None
        if age < 18:
            mobile, landline = 0.5, 0.0
        elif age < 65:
            mobile, landline = 0.88, 0.07
        else:
            mobile, landline = 0.55, 0.30
        x = rng.random()
        if x < mobile or (x < mobile + landline and self.area_code is None):
            return self.mobile()
        if x < mobile + landline:
            return self.landline()
        return None

    def mobile(self) -> str:
        return rng_digits(self.rng, 8, prefix=self.rng.choice(names.MOBILE_PREFIXES))

    def landline(self) -> str:
        """ "020-84123456": area code and an 8-digit local number not starting with 0/1."""
        local = str(self.rng.randint(2, 8)) + rng_digits(self.rng, 7)
        return f"{self.area_code or '010'}-{local}"

    def address(self, street: str | None = None, *, village: str | None = None) -> str:
        """番禺区市桥街道光明北路88号3栋502, or 番禺区南村镇坑头村3巷12号 in a village
        (`village` given, or by chance in a town)."""
        rng = self.rng
        street = street or rng.choice(self.streets)
        prefix = self.district_name + street
        if village is None and street.endswith(("镇", "乡")) and rng.random() < 0.6:
            village = rng.choice(names.VILLAGE_STEMS) + "村"
        if village is not None:
            return f"{prefix}{village}{rng.randint(1, 12)}巷{rng.randint(1, 60)}号"
        road = rng.choice(names.ROAD_STEMS) + rng.choice(names.ROAD_SUFFIXES)
        number = rng.randint(1, 300)
        if rng.random() < 0.25:  # low-rise street houses have no building/flat number
            return f"{prefix}{road}{number}号"
        flat = f"{rng.randint(1, 18)}{rng.randint(1, 6):02d}"
        return f"{prefix}{road}{number}号{rng.randint(1, 12)}栋{flat}"

    def insurance_type(self, age: int) -> str:
        """Minors are covered by resident insurance; adults follow the district mix
        (scaled up because about a fifth of residents are minors)."""
        x = self.rng.random()
        if age < 18:
            return InsuranceType.SELF_PAY if x < 0.03 else InsuranceType.URBAN_RURAL_RESIDENT
        employee, _, self_pay = self.insurance_mix
        employee = min(employee / 0.78, 0.95)
        if x < employee:
            return InsuranceType.URBAN_EMPLOYEE
        if x < employee + self_pay:
            return InsuranceType.SELF_PAY
        return InsuranceType.URBAN_RURAL_RESIDENT

    def insurance_card(self) -> str:
        while True:
            card = rng_digits(self.rng, 8, prefix=self.rng.choice(_CARD_LETTERS))
            if card not in self._used_cards:
                self._used_cards.add(card)
                return card

    def health_record_no(self, street: str | None = None, community: int | None = None) -> str:
        """17 digits per the national health-record rules: region code (6), street/town
        (3), village/community committee (3), sequence within the community (5)."""
        street_no = self.streets.index(street) + 1 if street in self.streets else 1
        community = community or self.rng.randint(1, 20)
        key = (street_no, community)
        self._record_seq[key] = seq = self._record_seq.get(key, 0) + 1
        return f"{self.region_code}{street_no:03d}{community:03d}{seq:05d}"


@functools.cache
def code_valid_in(code: str, year: int) -> bool:
    """Whether the ID validator accepts `code` for someone born in `year`."""
    return ric.is_valid(make(code, dt.date(year, 1, 1), 1))


@functools.cache
def migrant_origins(birth_year: int) -> tuple[str, ...]:
    """Home counties of migrants whose code was in force in `birth_year`."""
    return tuple(c for c in names.MIGRANT_ORIGINS if code_valid_in(c, birth_year))


@functools.cache
def issuing_code(code: str, birth_year: int) -> str:
    """The region code an ID number of someone born in `birth_year` would carry: the
    current code, else an earlier code of the same county (番禺县 440126 before 番禺区),
    else the prefecture's code (郑州市 410100 for 二七区 before 1983)."""
    history = reversed(names.CODE_HISTORY.get(code, ()))
    # Last resorts (for migrants' home counties): another county of the same province,
    # its prefecture, then the province code itself.
    neighbours = [c for c in names.MIGRANT_ORIGINS if c[:2] == code[:2] and c != code]
    prefectures = [c[:4] + "00" for c in neighbours]
    candidates = (code, *history, code[:4] + "00", *neighbours, *prefectures)
    return next((c for c in candidates if code_valid_in(c, birth_year)), code[:2] + "0000")


def rng_digits(rng: random.Random, count: int, *, prefix: str = "") -> str:
    return prefix + f"{rng.randrange(10**count):0{count}d}"
