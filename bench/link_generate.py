"""Synthetic linkage data in the `hub link` input format, with the truth.

Households in three districts (温州瑞安, 金华永康, 广州番禺) — parents, grandparents,
children, twins, newborns registered under a stand-in name (李娜之子) — each person sent
by 1–6 source systems (his, vendor, maternal, immunization) with the errors such systems
make: missing ID numbers, mistyped check digits, 15-digit old numbers, the mother's
number on a baby's record, spaces and traditional characters in names, homophones and
typos, a wrong sex, day/month swaps and digit typos in birth dates, other phones, and
addresses written four ways. Common names (王芳, 张伟) make namesakes, as in a real
district. Deterministic for a seed.

    .venv/bin/python bench/link_generate.py --persons 5000 --out var/bench/link-5k
        -> link-5k.jsonl, link-5k-truth.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.registry.idnumber import make  # noqa: E402

DISTRICTS = {
    "330381": ("温州市瑞安市", "温州", "0577", ["安阳街道", "玉海街道", "莘塍街道", "仙降街道",
               "飞云街道", "汀田街道", "上望街道", "南滨街道", "湖岭镇", "塘下镇", "马屿镇"]),
    "330784": ("金华市永康市", "金华", "0579", ["西城街道", "东城街道", "花街镇", "石柱镇",
               "龙山镇", "西溪镇", "前仓镇", "古山镇", "芝英镇", "象珠镇"]),
    "440113": ("广州市番禺区", "广州", "020", ["市桥街道", "桥南街道", "石壁街道", "大石街道",
               "沙头街道", "洛浦街道", "东环街道", "新造镇", "南村镇", "钟村街道", "小谷围街道"]),
}  # fmt: skip
ROADS = ["市桥路", "桥东路", "中山路", "人民路", "东风路", "建设路", "光明北路", "育才路",
         "解放路", "环城路", "大北路", "新华街", "兴业大道", "繁华路", "禺山大道", "德兴路",
         "清河路", "金山大道", "园林路", "胜利路", "文化路", "学前街"]  # fmt: skip
# Surnames with rough weights (per mille of the population).
SURNAMES = (
    "王70 李70 张65 刘55 陈50 杨30 黄25 赵22 吴20 周20 徐16 孙15 马14 朱13 胡12 郭11 何11 "
    "高10 林10 罗9 郑9 梁9 谢8 宋7 唐7 许6 韩6 冯6 邓6 曹6 彭5 曾5 肖5 田5 董5 袁5 潘5 于5 "
    "蒋5 蔡5 余5 杜4 叶4 程4 苏4 魏4 吕4 丁4 任4 沈3 姚3 卢3 姜3 崔3 钟3 谭3 陆3 汪3 范3 "
    "金3 石3 廖3 贾3 夏3 韦3 付3 方3 白2 邹2 孟2 熊2 秦2 邱2 江2 尹2 薛2 闫2 段2 雷2 侯2 "
    "龙2 史2 陶2 黎2 贺2 顾2 毛2 郝2 龚2 邵2 万2 钱2 严1 覃1 武1 戴1 莫1 孔1 向1 汤1 "
    "欧阳1 司马1 单1 区1 查1 翟1"
)
GIVEN = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 秀英 华 "
    "建华 建国 志强 文 玲 婷 浩 宇 轩 子轩 浩然 梓涵 一诺 欣怡 雨涵 佳怡 家豪 俊杰 "
    "子涵 思涵 梓萱 晨 辰 鹏 睿 琳 萱 怡 嘉 瑶 彬 斌 鑫 凯 帆 昊 宁 蕾 露 颖 倩 雪 梅 "
    "兰 春梅 海燕 玉兰 淑珍 建军 国强 红 英 健 晓 飞 博 航 宏 亮 东 雷 宸 铭 泽 诺"
).split()
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华文玲婷浩宇轩涵怡豪"
    "俊晨辰鹏睿琳萱嘉瑶彬斌鑫凯帆昊宁蕾露颖倩雪梅兰燕健晓飞博航宏"
    "亮东宸铭泽诺思欣雨佳梓子一家志建国海春秋玉淑珍"
)
# Same sound, other character (homophones typists pick): one is swapped in by an error.
HOMOPHONES = {"伟": "玮", "敏": "民", "静": "婧", "丽": "莉", "磊": "垒", "娟": "鹃", "杰": "洁",
              "涛": "韬", "明": "铭", "霞": "侠", "斌": "彬", "彬": "斌", "晨": "辰", "辰": "晨",
              "怡": "宜", "睿": "瑞", "佳": "嘉", "嘉": "佳", "钰": "玉", "玉": "钰", "张": "章",
              "章": "张", "程": "陈", "陈": "程", "志": "智", "红": "虹", "萱": "轩", "琳": "林",
              "媚": "梅", "梅": "媚", "华": "桦", "芳": "方", "宇": "雨", "洋": "阳"}  # fmt: skip
TRADITIONAL = {"钱": "錢", "鹏": "鵬", "冯": "馮", "兰": "蘭", "辉": "輝", "宏": "宏", "国": "國",
               "华": "華", "刘": "劉", "陈": "陳", "张": "張", "杨": "楊", "黄": "黃", "赵": "趙",
               "吴": "吳", "孙": "孫", "郑": "鄭", "邓": "鄧", "苏": "蘇", "龙": "龍", "丽": "麗",
               "静": "靜", "伟": "偉", "涛": "濤", "强": "強", "军": "軍", "杰": "傑", "娟": "娟",
               "艳": "艷", "红": "紅", "东": "東", "晓": "曉", "飞": "飛", "凯": "凱", "宁": "寧",
               "雪": "雪", "叶": "葉", "韩": "韓", "许": "許", "罗": "羅", "梁": "梁",
               "谢": "謝"}  # fmt: skip
COMMON_NAMES = ["王芳", "李娜", "张伟", "王伟", "李伟", "张敏", "王静", "李静", "张丽", "刘洋",
                "王磊", "李强", "陈静", "刘伟", "王丽", "张静", "李敏", "王敏", "张磊",
                "陈伟"]  # fmt: skip
TODAY = dt.date(2026, 11, 1)


@dataclass
class Person:
    pid: str
    name: str
    sex: str
    birth: dt.date
    region: str
    id_number: str
    phones: list[str]
    address: tuple[str, str, str, int, int, int]  # region, township, road, no, building, room
    insurance_card: str
    health_record_no: str
    mother: Person | None = None
    guardian: Person | None = None
    newborn_name: str | None = None  # a stand-in name used before naming (李娜之子)
    records: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        surnames, weights = [], []
        for item in SURNAMES.split():
            surnames.append(item.rstrip("0123456789"))
            weights.append(int(item[len(surnames[-1]) :]))
        self.surnames, self.surname_weights = surnames, weights
        self.n = 0
        self.seqs: dict[tuple[str, dt.date], int] = {}
        self.phones: set[str] = set()

    # ---- people ------------------------------------------------------------------------

    def surname(self) -> str:
        return self.rng.choices(self.surnames, self.surname_weights)[0]

    def given(self, sibling: str | None = None) -> str:
        r = self.rng.random()
        if sibling and len(sibling) == 2 and r < 0.5:  # 同辈字: 家豪 / 家乐
            return sibling[0] + self.rng.choice(GIVEN_CHARS)
        if r < 0.55:
            return self.rng.choice(GIVEN)
        n = 1 if r < 0.65 else 2
        return "".join(self.rng.choice(GIVEN_CHARS) for _ in range(n))

    def full_name(self, surname: str, sibling: str | None = None) -> str:
        if sibling is None and self.rng.random() < 0.03:
            return self.rng.choice(COMMON_NAMES)
        return surname + self.given(sibling)

    def phone(self) -> str:
        while True:
            p = self.rng.choice("3456789") + "".join(
                self.rng.choice("0123456789") for _ in range(9)
            )
            p = "1" + p
            if p not in self.phones:
                self.phones.add(p)
                return p

    def id_for(self, region: str, birth: dt.date, sex: str) -> str:
        seq = self.seqs.get((region, birth), self.rng.randrange(0, 400))
        seq += 1 + self.rng.randrange(0, 3)
        if (seq % 2 == 1) != (sex == "1"):
            seq += 1
        self.seqs[(region, birth)] = seq
        return make(region, birth, seq % 1000)

    def person(self, name: str, sex: str, birth: dt.date, home: tuple, **kw: Any) -> Person:
        self.n += 1
        region = home[0]
        digits = "".join(self.rng.choice("0123456789") for _ in range(9))
        hr = "".join(self.rng.choice("0123456789") for _ in range(11))
        return Person(pid=f"P{self.n:07d}", name=name, sex=sex, birth=birth, region=region,
                      id_number=self.id_for(region, birth, sex),
                      phones=[self.phone()] + ([self.phone()] if self.rng.random() < 0.3 else []),
                      address=home, insurance_card=region + digits, health_record_no=region + hr,
                      **kw)  # fmt: skip

    def birth(self, lo: int, hi: int) -> dt.date:
        start, end = dt.date(lo, 1, 1), min(dt.date(hi, 12, 31), TODAY - dt.timedelta(days=3))
        return start + dt.timedelta(days=self.rng.randrange((end - start).days + 1))

    def household(self) -> list[Person]:
        region = self.rng.choice(list(DISTRICTS))
        town = self.rng.choice(DISTRICTS[region][3])
        home = (region, town, self.rng.choice(ROADS), self.rng.randrange(1, 300),
                self.rng.randrange(1, 30),
                self.rng.randrange(1, 25) * 100 + self.rng.randrange(1, 40))  # fmt: skip
        r = self.rng.random()
        people: list[Person] = []
        if r < 0.25:  # one person, any adult age
            sex = self.rng.choice("12")
            people.append(
                self.person(self.full_name(self.surname()), sex, self.birth(1930, 2004), home)
            )
            return people
        father_surname = self.surname()
        born = self.birth(1945, 2000)
        father = self.person(self.full_name(father_surname), "1", born, home)
        mother_birth = min(
            born + dt.timedelta(days=self.rng.randrange(-1500, 2500)), dt.date(2004, 12, 31)
        )
        mother = self.person(self.full_name(self.surname()), "2", mother_birth, home)
        mother.phones = mother.phones[:1]
        people += [father, mother]
        if self.rng.random() < 0.2:  # a grandparent lives with them
            gp_sex = self.rng.choice("12")
            gp = self.person(self.full_name(father_surname if gp_sex == "1" else self.surname()),
                             gp_sex, self.birth(1930, max(1931, born.year - 18)), home)  # fmt: skip
            people.append(gp)
        kids = self.rng.choices([0, 1, 2, 3], [0.15, 0.45, 0.3, 0.1])[0]
        first_possible = max(mother_birth.year + 20, 1990)
        sibling_given: str | None = None
        for _ in range(kids):
            if first_possible > TODAY.year:
                break
            b = self.birth(first_possible, TODAY.year)
            twins = 2 if self.rng.random() < 0.04 else 1
            for _t in range(twins):
                sex = self.rng.choice("12")
                name = self.full_name(father_surname, sibling_given)
                sibling_given = name[len(father_surname) :] if len(name) > 2 else sibling_given
                child = self.person(name, sex, b, home, mother=mother, guardian=mother)
                if (TODAY - b).days < 365 and self.rng.random() < 0.6:
                    child.newborn_name = f"{mother.name}之{'子' if sex == '1' else '女'}"
                people.append(child)
            first_possible = b.year + 1
        return people

    # ---- records -----------------------------------------------------------------------

    def sources_for(self, p: Person) -> list[str]:
        n = self.rng.choices([1, 2, 3, 4, 5, 6], [0.36, 0.37, 0.16, 0.08, 0.025, 0.005])[0]
        child = (TODAY - p.birth).days < 7 * 365
        pool = ["his", "vendor"] + (["maternal", "immunization"] if child else [])
        if p.sex == "2" and 1976 < p.birth.year < 2004 and self.rng.random() < 0.3:
            pool.append("maternal")
        return [self.rng.choice(pool) for _ in range(n)]

    def records(self, p: Person) -> Iterator[dict[str, Any]]:
        for source in self.sources_for(p):
            yield self.record(p, source)

    def record(self, p: Person, source: str) -> dict[str, Any]:
        rng = self.rng
        child = (TODAY - p.birth).days < 7 * 365
        r: dict[str, Any] = {"source": source}
        name = p.name
        if p.newborn_name and source in ("maternal", "immunization") and rng.random() < 0.7:
            name = p.newborn_name
        r["name"] = self.name_error(name)
        sex = p.sex
        x = rng.random()
        if x < 0.025:
            sex = "1" if sex == "2" else "2"
        elif x < 0.04:
            sex = "0"
        r["sex"] = sex
        r["birth_date"] = self.date_error(p.birth).isoformat()
        id_missing = {"his": 0.1, "vendor": 0.08, "maternal": 0.2, "immunization": 0.35}[source]
        if p.newborn_name and name == p.newborn_name:
            id_missing = 0.8
        if rng.random() >= id_missing:
            r["id_number"] = self.id_error(p)
        if rng.random() < (0.9 if source != "maternal" else 0.7):
            r["phone"] = self.phone_form(
                rng.choice(p.phones) if rng.random() < 0.85 else self.phone()
            )
        if rng.random() < 0.88:
            r["address"] = self.address_form(p.address)
        if source in ("his", "vendor") and rng.random() < 0.55:
            r["insurance_card"] = p.insurance_card
        if source in ("vendor", "maternal") and rng.random() < 0.5:
            r["health_record_no"] = p.health_record_no
        if child and p.mother is not None and source in ("maternal", "immunization"):
            r["mother_id_number"] = p.mother.id_number
            r["guardian_name"] = p.mother.name
            r["guardian_phone"] = p.mother.phones[0]
        if child and p.mother is not None and source in ("his", "vendor") and rng.random() < 0.004:
            r["id_number"] = p.mother.id_number  # the mother's number typed on the baby
        return {k: v for k, v in r.items() if v not in (None, "")}

    def name_error(self, name: str) -> str:
        rng = self.rng
        x = rng.random()
        if x < 0.04 and len(name) >= 2:
            return name[0] + " " + name[1:]
        if x < 0.065:
            return "".join(TRADITIONAL.get(c, c) for c in name)
        if x < 0.085:
            i = rng.randrange(1, len(name)) if len(name) > 1 else 0
            if name[i] in HOMOPHONES:
                return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]
        if x < 0.09 and len(name) >= 3:
            i = rng.randrange(1, len(name))
            return name[:i] + rng.choice(GIVEN_CHARS) + name[i + 1 :]  # a plain typo
        return name

    def date_error(self, d: dt.date) -> dt.date:
        x = self.rng.random()
        try:
            if x < 0.006 and d.day <= 12 and d.day != d.month:
                return d.replace(month=d.day, day=d.month)
            if x < 0.014:
                return d + dt.timedelta(days=self.rng.choice([-1, 1]))
            if x < 0.018:
                return d.replace(year=d.year + self.rng.choice([-1, 1, -10, 10]))
        except ValueError:
            return d
        return d

    def id_error(self, p: Person) -> str:
        rng = self.rng
        v = p.id_number
        x = rng.random()
        if x < 0.01:  # a mistyped digit: the check character no longer fits
            i = rng.randrange(6, 17)
            return v[:i] + str((int(v[i]) + rng.randrange(1, 10)) % 10) + v[i + 1 :]
        if x < 0.016 and p.birth.year < 2000:
            return v[:6] + v[8:17]  # the old 15-digit number
        if x < 0.021:
            return f" {v[:6]} {v[6:14]} {v[14:]}"
        if x < 0.026 and v.endswith("X"):
            return v[:-1] + "x"
        return v

    def phone_form(self, phone: str) -> str:
        return phone if self.rng.random() < 0.93 else f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"

    def address_form(self, a: tuple) -> str:
        region, town, road, no, building, room = a
        full, short, _, _ = DISTRICTS[region]
        b = "栋" if self.rng.random() < 0.8 else "幢"
        form = self.rng.randrange(5)
        if form == 0:
            return f"{full}{town}{road}{no}号{building}{b}{room}"
        if form == 1:
            return f"{full} {town} {road}{no}号 {building}{b}{room}"
        if form == 2:
            return f"{short}{town}{road}{no}号{building}{b}{room}"
        if form == 3:
            return f"{town}{road}{no}号{building}{b}{room}"
        return f"{full}{town}{road}{no}号{building}{b}{room}室"


def generate(persons: int, seed: int) -> Iterator[tuple[dict[str, Any], str]]:
    """(record, true person id), shuffled in chunks (sources arrive interleaved)."""
    g = Generator(seed)
    counters = {"his": 0, "vendor": 0, "maternal": 0, "immunization": 0}
    prefix = {"his": "HIS", "vendor": "VEN", "maternal": "MAT", "immunization": "IMM"}
    made = 0
    chunk: list[tuple[dict[str, Any], str]] = []
    while made < persons:
        for p in g.household():
            if made >= persons:
                break
            made += 1
            for rec in g.records(p):
                counters[rec["source"]] += 1
                rec = {"source": rec["source"],
                       "source_id": f"{prefix[rec['source']]}{counters[rec['source']]:08d}",
                       **{k: v for k, v in rec.items() if k != "source"}}  # fmt: skip
                chunk.append((rec, p.pid))
        if len(chunk) >= 20_000 or made >= persons:
            g.rng.shuffle(chunk)
            yield from chunk
            chunk = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True, help="path stem: STEM.jsonl and STEM-truth.csv")
    args = parser.parse_args()
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(f"{stem}.jsonl", "w", encoding="utf-8") as fj, \
         open(f"{stem}-truth.csv", "w", newline="", encoding="utf-8") as ft:  # fmt: skip
        w = csv.writer(ft)
        w.writerow(["source", "source_id", "true_person"])
        for rec, pid in generate(args.persons, args.seed):
            fj.write(json.dumps(rec, ensure_ascii=False) + "\n")
            w.writerow([rec["source"], rec["source_id"], pid])
            n += 1
    print(f"wrote {n} records of {args.persons} persons to {stem}.jsonl (+ -truth.csv)")


if __name__ == "__main__":
    main()
