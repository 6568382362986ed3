"""The simulated maternal-child system's district: mothers taken from the demo population
(so its records overlap the registry, with the usual typos), their pregnancies, visits,
deliveries, births and children's exams, as the change feed the system serves.

Deterministic for (seed, reference day, size): same people, same records, same times.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from hub.registry.idnumber import make

INSTITUTIONS = ("YKFYBJY", "YKDYRMYY", "YKJNSQ", "YKXCSQ")  # 永康妇幼保健院, 第一人民医院, …
COLOURS = ("绿", "绿", "绿", "绿", "黄", "黄", "橙", "红", "紫")
MODES = ("顺产", "顺产", "顺产", "剖宫产", "阴道助产")
CHILD_AGES = (1, 3, 6, 8, 12, 18, 24, 30, 36, 48, 60, 72)  # months
PRENATAL_WEEKS = (16, 20, 24, 28, 32, 36, 37, 38, 39, 40)
MALFORMED_KINDS = ("bad_date", "unknown_code", "broken_id", "missing_field")
_TYPO = {"芳": "方", "娜": "那", "静": "靜", "丽": "莉", "燕": "艳", "玲": "琳", "婷": "亭"}


@dataclass(frozen=True, slots=True)
class Mother:
    handbook_no: str
    name: str
    id_number: str
    phone: str
    address: str
    birth_date: dt.date
    region_code: str


@dataclass(slots=True)
class Feed:
    """Every record version, in the order the system serves them: (updated_at, id)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    mothers: int = 0
    births: int = 0
    twin_births: int = 0

    def add(self, rec: dict[str, Any]) -> None:
        self.records.append(rec)

    def sort(self) -> None:
        self.records.sort(key=lambda r: (r["updated_at"], r["id"], r["version"]))


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def mothers_from_demo(district: str, count: int, *, seed: int, scale: float) -> list[Mother]:
    """Women of 20–40 from the demo district (the same people `hub demo` loads)."""
    from hub.demo.generate import generate
    from hub.demo.people import REFERENCE_DATE, age_on

    d = generate(district, seed=0, scale=scale)
    rng = random.Random(seed)
    women = [
        r.person
        for r in d.residents
        if r.person.sex == "2" and 20 <= age_on(r.person.birth_date, REFERENCE_DATE) <= 40
    ]
    rng.shuffle(women)
    out = []
    for i, p in enumerate(women[:count]):
        name = p.name
        if rng.random() < 0.15 and name[-1] in _TYPO:  # a typing slip at the clinic
            name = name[:-1] + _TYPO[name[-1]]
        phone = p.phone or f"139{rng.randrange(10**8):08d}"
        if rng.random() < 0.2:
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"  # a new phone
        out.append(
            Mother(
                f"MCH{330784}{i + 1:06d}",
                name,
                p.id_number,
                phone,
                p.address,
                p.birth_date,
                p.region_code,
            )
        )
    return out


def synthetic_mothers(count: int, *, seed: int, region: str = "330784") -> list[Mother]:
    """Mothers the registry does not know yet (for benchmarks at scale: new residents)."""
    rng = random.Random(seed * 31 + 5)
    surnames, given = (
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗",
        "芳娜敏静丽艳娟霞燕玲桂兰英梅琳颖倩婷雪慧",
    )
    out = []
    for i in range(count):
        born = dt.date(1986, 1, 1) + dt.timedelta(days=rng.randint(0, 5000))
        number = make(region, born, rng.randrange(0, 499) * 2)
        name = rng.choice(surnames) + rng.choice(given) + rng.choice(given)
        out.append(
            Mother(
                f"MCHS{i + 1:07d}",
                name,
                number,
                f"13{rng.randrange(10**9):09d}",
                f"永康市{rng.choice('东西南北')}城街道{rng.randint(1, 300)}号",
                born,
                region,
            )
        )
    return out


def generate(mothers: list[Mother], *, today: dt.date, seed: int, malformed: bool = False) -> Feed:
    rng = random.Random(seed * 7919 + 17)
    feed = Feed(mothers=len(mothers))
    seq = iter(range(1, 10**9))
    twin_every = 20

    def rec(kind: str, when: dt.datetime, data: dict[str, Any]) -> dict[str, Any]:
        lag = dt.timedelta(hours=rng.randint(1, 36))
        updated = min(when + lag, dt.datetime.combine(today, dt.time(6, 0)))
        r = {
            "id": f"R{next(seq):07d}",
            "kind": kind,
            "version": 1,
            "deleted": False,
            "updated_at": _iso(updated),
            "data": data,
        }
        feed.add(r)
        return r

    def at(day: dt.date, hour: int | None = None) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour if hour is not None else rng.randint(8, 17)))

    delivered_count = 0
    for m in mothers:
        lmp = today - dt.timedelta(days=rng.randint(60, 520))
        edd = lmp + dt.timedelta(days=280)
        week = rng.randint(7, 14)
        reg_day = lmp + dt.timedelta(weeks=week)
        if reg_day >= today:
            reg_day, week = today - dt.timedelta(days=1), (today - lmp).days // 7
        base = {"handbook_no": m.handbook_no}
        rec(
            "pregnancy_registration",
            at(reg_day),
            {
                **base,
                "mother_name": m.name,
                "mother_id_number": m.id_number,
                "mother_phone": m.phone,
                "address": m.address,
                "lmp": lmp.isoformat(),
                "edd": edd.isoformat(),
                "gravidity": rng.randint(1, 3),
                "parity": rng.randint(0, 1),
                "institution": rng.choice(INSTITUTIONS),
                "registered_on": reg_day.isoformat(),
                "registered_week": week,
            },
        )
        due = lmp + dt.timedelta(days=rng.randint(266, 290))
        delivered: dt.date | None = due if due < today else None
        for w in PRENATAL_WEEKS:
            day = lmp + dt.timedelta(weeks=w, days=rng.randint(0, 4))
            if day >= today or (delivered and day >= delivered) or rng.random() < 0.1:
                continue
            rec(
                "prenatal_visit",
                at(day),
                {
                    **base,
                    "visit_date": day.isoformat(),
                    "gestational_week": w,
                    "institution": rng.choice(INSTITUTIONS),
                    "risk_colour": rng.choice(COLOURS),
                    "systolic": rng.randint(100, 150),
                    "diastolic": rng.randint(60, 95),
                    "weight_kg": round(rng.uniform(50, 85), 1),
                    "findings": "",
                },
            )
        if delivered is None:
            continue
        delivered_count += 1
        babies = 2 if delivered_count % twin_every == 3 else 1
        feed.births += babies
        feed.twin_births += babies == 2
        left = delivered + dt.timedelta(days=rng.randint(2, 5))
        discharged: dt.date | None = left if left < today else None
        birth_time = at(delivered, rng.randint(0, 23)) + dt.timedelta(minutes=rng.randint(0, 59))
        rec(
            "delivery",
            birth_time,
            {
                **base,
                "delivered_at": _iso(birth_time),
                "institution": rng.choice(INSTITUTIONS[:2]),
                "mode": rng.choice(MODES),
                "discharge_date": discharged.isoformat() if discharged else None,
                "outcome": "活产",
                "babies": babies,
            },
        )
        for b in range(babies):
            sex = rng.choice("12")
            born = birth_time + dt.timedelta(minutes=b * rng.randint(2, 20))
            word = "子" if sex == "1" else "女"
            name = rng.choice(
                [
                    "",
                    f"{m.name}之{word}",
                    f"{m.name[0]}{rng.choice('小晓子欣')}{rng.choice('宝贝乐安')}",
                ]
            )
            cert = f"P33{delivered:%y}{next(seq):08d}"
            seqno = rng.randrange(0, 499) * 2 + (1 if sex == "1" else 0)
            child_id = make(m.region_code, delivered, seqno)
            rec(
                "birth_certificate",
                born + dt.timedelta(days=rng.randint(0, 3)),
                {
                    **base,
                    "certificate_no": cert,
                    "child_name": name,
                    "sex": sex,
                    "born_at": _iso(born),
                    "birth_weight_g": rng.randint(2300, 4200),
                    "mother_name": m.name,
                    "mother_id_number": m.id_number,
                    "father_name": f"{m.name[0]}{rng.choice('建国志强伟')}",
                    "father_id_number": None,
                    "birthplace": rng.choice(INSTITUTIONS[:2]),
                    "birth_order": b + 1,
                },
            )
            if discharged is None:
                continue
            day = discharged + dt.timedelta(days=rng.randint(2, 7))
            if day < today and rng.random() < 0.85:
                rec(
                    "newborn_visit",
                    at(day),
                    {
                        **base,
                        "certificate_no": cert,
                        "visit_date": day.isoformat(),
                        "institution": rng.choice(INSTITUTIONS[2:]),
                        "weight_kg": round(rng.uniform(2.5, 4.5), 2),
                        "jaundice": rng.random() < 0.2,
                        "findings": "",
                    },
                )
            for months in CHILD_AGES:
                day = delivered + dt.timedelta(days=int(months * 30.44) + rng.randint(0, 10))
                if day >= today or rng.random() < 0.1:
                    continue
                rec(
                    "child_exam",
                    at(day),
                    {
                        **base,
                        "certificate_no": cert,
                        "exam_date": day.isoformat(),
                        "age_months": months,
                        "institution": rng.choice(INSTITUTIONS[2:]),
                        # the child's ID number, once the household registration has it
                        "child_id_number": child_id if months >= 3 else None,
                        "height_cm": round(50 + months * 1.6 + rng.uniform(-2, 2), 1),
                        "weight_kg": round(3.3 + months * 0.35 + rng.uniform(-0.5, 0.5), 2),
                        "development": rng.choice(["正常", "正常", "正常", "可疑"]),
                        "anaemia": rng.random() < 0.08,
                        "findings": "",
                    },
                )
        if discharged is None:
            continue
        day = discharged + dt.timedelta(days=rng.randint(2, 7))
        if day < today and rng.random() < 0.8:
            rec(
                "postpartum_visit",
                at(day),
                {
                    **base,
                    "visit_date": day.isoformat(),
                    "institution": rng.choice(INSTITUTIONS[2:]),
                    "systolic": rng.randint(100, 140),
                    "diastolic": rng.randint(60, 90),
                    "findings": "",
                },
            )
        day = delivered + dt.timedelta(days=rng.randint(42, 48))
        if day < today and rng.random() < 0.85:
            rec(
                "postpartum_42day",
                at(day),
                {
                    **base,
                    "visit_date": day.isoformat(),
                    "institution": rng.choice(INSTITUTIONS[:2]),
                    "systolic": rng.randint(100, 140),
                    "diastolic": rng.randint(60, 90),
                    "recovered": rng.random() < 0.95,
                    "findings": "",
                },
            )
    _corrections(feed, rng, today)
    if malformed:
        _malformed(feed, rng, mothers, today, seq)
    feed.sort()
    return feed


def _corrections(feed: Feed, rng: random.Random, today: dt.date) -> None:
    """A few records re-sent with new content (a later updated_at), a few deleted."""
    visits = [r for r in feed.records if r["kind"] in ("prenatal_visit", "child_exam")]
    for r in rng.sample(visits, min(len(visits), max(1, len(visits) // 20))):
        data = dict(r["data"])
        if "weight_kg" in data:
            data["weight_kg"] = round(float(data["weight_kg"]) + 0.3, 2)
        data["findings"] = "更正"
        feed.add({**r, "version": 2, "data": data, "updated_at": _later(r["updated_at"], today)})
    for r in rng.sample(visits, min(len(visits), max(1, len(visits) // 100))):
        feed.add({**r, "version": 3, "deleted": True, "updated_at": _later(r["updated_at"], today)})


def _later(iso: str, today: dt.date) -> str:
    t = dt.datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S") + dt.timedelta(days=2)
    return _iso(min(t, dt.datetime.combine(today, dt.time(7, 0))))


def _malformed(
    feed: Feed, rng: random.Random, mothers: list[Mother], today: dt.date, seq: Any
) -> None:
    """Records a correct consumer must refuse, one kind after another (2% of the feed)."""
    n = max(len(MALFORMED_KINDS), len(feed.records) // 50)
    regs = [r for r in feed.records if r["kind"] == "pregnancy_registration"]
    for i in range(n):
        kind = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
        base = dict(rng.choice(regs)["data"])
        base["handbook_no"] = f"MCHX{i:06d}"
        if kind == "bad_date":
            base["lmp"] = "2026-13-45"
        elif kind == "unknown_code":
            base = {
                "handbook_no": rng.choice(regs)["data"]["handbook_no"],
                "visit_date": today.isoformat(),
                "gestational_week": 20,
                "institution": "YKFYBJY",
                "risk_colour": "蓝",
                "systolic": 120,
                "diastolic": 80,
            }
        elif kind == "broken_id":
            base["mother_id_number"] = base["mother_id_number"][:-3] + "X1"
        else:
            base.pop("lmp", None)
            base.pop("mother_id_number", None)
        record_kind = "prenatal_visit" if kind == "unknown_code" else "pregnancy_registration"
        when = dt.datetime.combine(today - dt.timedelta(days=rng.randint(1, 300)), dt.time(9))
        feed.add(
            {
                "id": f"R{next(seq):07d}",
                "kind": record_kind,
                "version": 1,
                "deleted": False,
                "updated_at": _iso(when),
                "data": base,
                "malformed": kind,
            }
        )
