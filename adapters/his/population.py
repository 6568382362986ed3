"""Synthetic patients of a Panyu (番禺) hospital, the HL7 messages about them, and the
faulty variants the simulator sends (`Faults`, `plan`).

Deterministic for a seed — same people, same bytes, message times included — so tests
and benchmarks can be replayed.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace

from hub.registry.idnumber import make

HOSPITAL = ("HIS", "PYZXYY")  # 番禺区中心医院: sending application, facility
REFERENCE_DAY = dt.date(2026, 1, 1)  # ages are relative to this, never to today
_BASE_TIME = dt.datetime(2026, 1, 5, 8, 0, 0)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史"
    "陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧阳"
)
_MALE = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢佳阳建国志文荣"
_FEMALE = "芳娜敏静丽艳娟霞燕玲桂兰英梅琳颖倩婷雪慧红萍洁晶妍琪怡欣诗雅思颖晓月秀凤"
_TOWNS = (
    "市桥街道", "沙头街道", "东环街道", "桥南街道", "小谷围街道", "大石街道", "洛浦街道",
    "石壁街道", "钟村街道", "大龙街道", "沙湾街道", "南村镇", "新造镇", "化龙镇", "石楼镇",
    "石碁镇",
)  # fmt: skip
_ROADS = (
    "繁华路", "光明北路", "禺山大道", "清河东路", "兴业大道", "市广路", "番禺大道", "迎宾路",
    "汉溪大道", "富华中路", "德兴路", "大北路",
)  # fmt: skip
# Birth places (GB/T 2260): mostly Panyu (440113; 440126 before 2000), some migrants.
_REGIONS = ("440113",) * 6 + ("440126",) * 2 + ("430521", "450981", "441581", "360731")
_CHARSET_LABELS = {"utf-8": "UNICODE UTF-8", "gb18030": "GB 18030", "gbk": "GBK"}


@dataclass(frozen=True, slots=True)
class Person:
    mr_id: str  # 病案号
    id_number: str
    family: str
    given: str
    sex: str  # GB/T 2261.1
    birth_date: dt.date
    phone: str
    town: str
    street: str  # road and number
    unit: str  # building and room

    @property
    def name(self) -> str:
        return self.family + self.given

    def moved(self, rng: random.Random) -> Person:
        """The same patient with a new phone and address (for ADT^A08)."""
        return replace(self, phone=_phone(rng), town=rng.choice(_TOWNS),
                       street=_street(rng), unit=_unit(rng))  # fmt: skip

    def duplicate_registration(self, rng: random.Random) -> Person:
        """Registered again under a second MR number (forgot the card): merged by A40."""
        return replace(self, mr_id=f"{self.mr_id}D{rng.randrange(10)}")


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _street(rng: random.Random) -> str:
    return f"{rng.choice(_ROADS)}{rng.randint(1, 380)}号"


def _unit(rng: random.Random) -> str:
    return f"{rng.randint(1, 30)}栋{rng.randint(1, 33)}{rng.randint(1, 8):02d}房"


def population(n: int, *, seed: int = 1) -> list[Person]:
    """`n` distinct people; family-doctor-heavy ages (many over 60, some children)."""
    rng = random.Random(seed)
    people: list[Person] = []
    seen: set[str] = set()
    while len(people) < n:
        band = rng.random()
        age = (rng.randint(0, 6) if band < 0.1 else rng.randint(7, 17) if band < 0.2
               else rng.randint(18, 59) if band < 0.6 else rng.randint(60, 99))  # fmt: skip
        born = REFERENCE_DAY - dt.timedelta(days=age * 365 + rng.randrange(365))
        sex = rng.choice("12")
        sequence = rng.randrange(0, 999, 2) + (1 if sex == "1" else 0)  # odd = male
        number = make(rng.choice(_REGIONS), born, sequence)
        if number in seen:
            continue
        seen.add(number)
        surname = "欧阳" if rng.random() < 0.01 else rng.choice(_SURNAMES[:-2])
        pool = _MALE if sex == "1" else _FEMALE
        given = "".join(rng.choice(pool) for _ in range(1 if rng.random() < 0.3 else 2))
        people.append(Person(
            mr_id=f"PY{seed % 100:02d}{len(people) + 1:07d}", id_number=number,
            family=surname, given=given, sex=sex, birth_date=born, phone=_phone(rng),
            town=rng.choice(_TOWNS), street=_street(rng), unit=_unit(rng),
        ))  # fmt: skip
    return people


def _msh(kind: str, cid: str, when: dt.datetime, charset: str) -> str:
    structure = {"A04": "ADT_A01", "A08": "ADT_A01", "A40": "ADT_A39", "R01": "ORU_R01"}[kind]
    mtype = "ORU" if kind == "R01" else "ADT"
    return "|".join([
        "MSH", "^~\\&", *HOSPITAL, "FDHUB", "FDHUB", when.strftime("%Y%m%d%H%M%S"), "",
        f"{mtype}^{kind}^{structure}", cid, "P", "2.5", "", "", "AL", "NE", "CHN",
        _CHARSET_LABELS[charset],
    ])  # fmt: skip


def _pid(p: Person, rng: random.Random) -> str:
    # Both spellings of a Chinese name occur in the wild: all in the family component, or
    # family^given.
    name = f"{p.name}^^^^^^L" if rng.random() < 0.5 else f"{p.family}^{p.given}^^^^^L"
    sex = "M" if p.sex == "1" else "F"
    address = f"{p.town}{p.street}^{p.unit}^广州市^广东省^511400^CHN^H^番禺区^440113"
    return (
        f"PID|1||{p.mr_id}^^^{HOSPITAL[1]}^MR~{p.id_number}^^^CHN^NNCHN||{name}||"
        f"{p.birth_date:%Y%m%d}|{sex}|||{address}||{p.phone}^PRN^CP|||||||{p.id_number}"
    )


def _results(p: Person, rng: random.Random, when: str) -> list[str]:
    old = (REFERENCE_DAY - p.birth_date).days > 60 * 365
    systolic = rng.randint(118, 168) if old else rng.randint(100, 142)
    diastolic = rng.randint(62, min(systolic - 25, 100))
    lines = [
        f"OBR|1||{when}BP|85354-9^Blood pressure panel^LN|||{when}",
        f"OBX|1|NM|8480-6^Systolic blood pressure^LN|1|{systolic}|mm[Hg]^^UCUM|90-139||||F|||"
        f"{when}",
        f"OBX|2|NM|8462-4^Diastolic blood pressure^LN|1|{diastolic}|mm[Hg]^^UCUM|60-89||||F|||"
        f"{when}",
    ]
    if rng.random() < 0.6:
        glucose = round(rng.uniform(4.2, 9.8), 1)
        flag = "H" if glucose > 6.1 else "N"
        lines += [
            f"OBR|2||{when}GLU|GLU^空腹血糖^L|||{when}",
            f"OBX|1|NM|14771-0^Fasting glucose^LN||{glucose}|mmol/L^^UCUM|3.9-6.1|{flag}|||F",
            f"OBX|2|NM|HBA1C^糖化血红蛋白^L||{round(rng.uniform(4.8, 9.0), 1)}|%|4-6||||F",
        ]
    return lines


def hl7_message(
    p: Person,
    kind: str,
    control_id: str,
    charset: str = "utf-8",
    *,
    rng: random.Random,
    prior_mr_id: str | None = None,
) -> bytes:
    """ADT^A04 / ADT^A08 / ADT^A40 (with `prior_mr_id`) / ORU^R01 for `p`, encoded as the
    MSH-18 label says (utf-8, or GB 18030 / GBK)."""
    when = _BASE_TIME + dt.timedelta(seconds=rng.randrange(90 * 86400))
    stamp = when.strftime("%Y%m%d%H%M%S")
    lines = [_msh(kind, control_id, when, charset)]
    if kind in ("A04", "A08", "A40"):
        lines.append(f"EVN|{kind}|{stamp}")
    lines.append(_pid(p, rng))
    if kind in ("A04", "A08"):
        lines.append(f"PV1|1|O|全科门诊^^^{HOSPITAL[1]}")
    elif kind == "A40":
        lines.append(f"MRG|{prior_mr_id}^^^{HOSPITAL[1]}^MR")
    elif kind == "R01":
        lines += _results(p, rng, stamp)
    codec = "utf-8" if charset == "utf-8" else "gb18030"
    return ("\r".join(lines) + "\r").encode(codec)


# ------------------------------------------------------------------ message plan

MALFORMED_KINDS = (
    "junk",  # bytes before the start block -> AA for the message after them
    "truncated",  # a frame cut short by the next start block -> AA for the whole one
    "no_end",  # no end block, then the connection closes -> no answer, resent -> AA
    "newlines",  # \n between segments -> AA
    "wrong_encoding",  # GBK bytes declared UTF-8 -> AR
    "missing_field",  # PID-3 without an MR id -> AE
    "invalid_id",  # ID number with a wrong check digit -> AA (kept as received)
    "unknown_code",  # sex code "X" -> AA with a warning
)
_EXPECTED = {"wrong_encoding": "AR", "missing_field": "AE"}


@dataclass(frozen=True, slots=True)
class Faults:
    """Fault switches. Rates are per message (0..1); `down`/`slow_delay` are seconds."""

    duplicate: float = 0.0
    out_of_order: float = 0.0
    malformed: float = 0.0
    malformed_kinds: tuple[str, ...] = MALFORMED_KINDS
    slow: float = 0.0  # share of messages trickled in pieces, their ACK read late
    slow_delay: float = 0.2
    down: float = 0.0  # HospitalServer: refuse connections this long after start

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """'duplicate=0.1,out_of_order,malformed=0.2:newlines+junk,slow=0.05,down=2'."""
        values: dict[str, object] = {}
        for item in filter(None, (s.strip() for s in spec.split(","))):
            name, _, raw = item.partition("=")
            name = name.strip().replace("-", "_")
            if name not in cls.__dataclass_fields__ or name == "malformed_kinds":
                raise ValueError(f"unknown fault {name!r}")
            rate, _, kinds = raw.partition(":")
            values[name] = float(rate) if rate else (1.0 if name == "down" else 0.1)
            if kinds:
                chosen = tuple(k.strip() for k in kinds.split("+"))
                if not set(chosen) <= set(MALFORMED_KINDS):
                    raise ValueError(f"unknown malformed kinds in {kinds!r}")
                values["malformed_kinds"] = chosen
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Outgoing:
    control_id: str
    kind: str  # A04, A08, A40, R01
    payload: bytes
    expected: str | None  # the ACK code a correct hub gives: AA / AE / AR
    fault: str | None = None
    mr_id: str = ""  # messages about one patient travel on one connection, in order
    charset: str = "utf-8"


def plan(
    count: int, *, seed: int = 1, faults: Faults = Faults(), encoding: str = "mixed"
) -> list[Outgoing]:
    """`count` messages (plus duplicates), deterministic for a seed. Each person is
    registered (A04) before their updates, results and merges unless out_of_order."""
    rng = random.Random(seed)
    people = iter(population(max(count, 1), seed=seed))
    out: list[Outgoing] = []
    serial = 0

    def add(person: Person, kind: str, **kw: object) -> Outgoing:
        nonlocal serial
        serial += 1
        charset = encoding if encoding != "mixed" else rng.choice(
            ("utf-8", "utf-8", "utf-8", "gb18030", "gbk")
        )  # fmt: skip
        cid = f"SIM{seed:04d}{serial:07d}"
        payload = hl7_message(person, kind, cid, charset, rng=rng, **kw)  # type: ignore[arg-type]
        msg = Outgoing(cid, kind, payload, "AA", mr_id=person.mr_id, charset=charset)
        out.append(msg)
        return msg

    while len(out) < count:
        person = next(people)
        a04 = add(person, "A04")
        roll = rng.random()
        if roll < 0.2 and len(out) < count:
            moved = person.moved(rng)
            a08 = add(moved, "A08")
            if rng.random() < faults.out_of_order:  # the update overtakes its create
                out[-2:] = [replace(a08, fault="out_of_order"), a04]
        elif roll < 0.5 and len(out) < count:
            add(person, "R01")
        elif roll < 0.55 and len(out) + 1 < count:
            duplicate = person.duplicate_registration(rng)
            add(duplicate, "A04")
            add(person, "A40", prior_mr_id=duplicate.mr_id)
    out = out[:count]
    out = [_maybe_malformed(m, faults, rng) for m in out]
    for i in range(len(out) - 1, -1, -1):  # backwards so inserts don't shift what's left
        if rng.random() < faults.duplicate:
            m = out[i]
            again = replace(m, fault=f"{m.fault}+duplicate" if m.fault else "duplicate")
            out.insert(min(len(out), i + 1 + rng.randrange(3)), again)
    return out


def _maybe_malformed(m: Outgoing, faults: Faults, rng: random.Random) -> Outgoing:
    if m.fault or rng.random() >= faults.malformed or m.kind not in ("A04", "A08"):
        return m
    kind = rng.choice(faults.malformed_kinds)
    codec = "utf-8" if m.charset == "utf-8" else "gb18030"
    text = m.payload.decode(codec)
    if kind == "newlines":
        text = text.replace("\r", "\n")
    elif kind == "missing_field":
        pid = next(s for s in text.split("\r") if s.startswith("PID|"))
        fields = pid.split("|")
        fields[3] = "~".join(r for r in fields[3].split("~") if not r.endswith("^MR"))
        text = text.replace(pid, "|".join(fields))
    elif kind == "invalid_id":
        pid = next(s for s in text.split("\r") if s.startswith("PID|"))
        number = pid.split("|")[3].split("~")[1].split("^")[0]
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        text = text.replace(pid, pid.replace(number, wrong))
    elif kind == "unknown_code":
        pid = next(s for s in text.split("\r") if s.startswith("PID|"))
        fields = pid.split("|")
        fields[8] = "X"
        text = text.replace(pid, "|".join(fields))
    if kind == "wrong_encoding":  # GBK bytes under a UTF-8 label
        lines = text.split("\r")
        msh = lines[0].split("|")
        msh[17] = "UNICODE UTF-8"
        payload = "\r".join(["|".join(msh), *lines[1:]]).encode("gb18030")
    else:
        payload = text.encode(codec)
    return replace(m, payload=payload, expected=_EXPECTED.get(kind, "AA"), fault=kind)
