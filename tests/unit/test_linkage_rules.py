"""Real-world linkage hazards: fillers typed for unknown values, shared phones, dates a day
off, a person's own ID number with a wrong birth date beside it, sex words."""

from __future__ import annotations

import datetime as dt

from hub.registry.idnumber import make
from hub.registry.matching import Features, InMemoryIndex, LinkageModel, Linker, Outcome
from hub.registry.normalize import DateRelation, date_relation, normalize_address, normalize_name
from hub.registry.records import ResidentRecord
from hub.registry.service import validate

MODEL = LinkageModel.load()


def rec(**kw: object) -> Features:
    return Features.from_record({"source": "t", "source_id": str(id(kw)), **kw})


def link_all(records: list[Features]) -> list[Outcome]:
    linker = Linker(MODEL, InMemoryIndex())
    out = []
    for n, f in enumerate(records):
        d = linker.link(f)
        assert linker.index is not None
        linker.index.add(d.resident_id if d.outcome is Outcome.LINKED else n, f)
        out.append(d.outcome)
    return out


def test_fillers_are_unknown_not_evidence() -> None:
    a = rec(name="不详", sex="1", id_number="000000000000000000", phone="13800138000",
            address="不详", insurance_card="0000000000")  # fmt: skip
    assert (a.name, a.id_invalid, a.phone, a.address, a.insurance_card) == (
        "",
        None,
        None,
        None,
        None,
    )
    assert normalize_name("男婴").placeholder_sex == "1" and not normalize_name("男婴").text
    assert normalize_address("无") is None
    # Two strangers with the same fillers and a common birth year are two people.
    b = rec(name="王芳", sex="2", birth_date="1980-01-01", id_number="111111111111111111",
            phone="13900000000", address="不详")  # fmt: skip
    c = rec(name="李娜", sex="2", birth_date="1980-01-01", id_number="111111111111111111",
            phone="13900000000", address="不详")  # fmt: skip
    assert link_all([b, c]) == [Outcome.NEW, Outcome.NEW]


def test_a_phone_shared_by_many_residents_proves_nothing() -> None:
    clinic = "02084561234"
    people = [rec(name=n, sex="1", birth_date=f"19{50 + i}-02-0{1 + i % 8}", phone=clinic)
              for i, n in enumerate(["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九"])]  # fmt: skip
    probe = rec(name="吴十", sex="1", birth_date="1970-05-05", phone=clinic)
    linker = Linker(MODEL, InMemoryIndex())
    for n, p in enumerate(people):
        assert linker.index is not None
        linker.index.add(n, p)
    found = linker.match(probe)
    assert all(c.weight < MODEL.possible for c in found)


def test_a_date_a_day_off_is_a_typo() -> None:
    assert date_relation(dt.date(2007, 4, 19), dt.date(2007, 4, 20)) is DateRelation.TYPO
    assert date_relation(dt.date(2007, 4, 30), dt.date(2007, 5, 1)) is DateRelation.TYPO


def test_own_id_number_beside_a_wrong_birth_date_is_trusted() -> None:
    number = make("330784", dt.date(1983, 11, 20), 379)
    f = rec(name="孙宏", birth_date="1983-11-19", id_number=number)
    assert f.id_number == number and f.birth == dt.date(1983, 11, 20)
    mother = make("330784", dt.date(1960, 1, 1), 42)
    baby = rec(name="孙宏之子", birth_date="2026-01-01", id_number=mother)
    assert baby.id_number is None and baby.id_foreign == mother


def test_sex_words_from_adapters_become_codes() -> None:
    for word, code in (("男", "1"), ("女", "2"), ("M", "1"), ("f", "2")):
        record = ResidentRecord(source="s", source_id="1", sex=word)
        assert validate(record, strict=False) == [] and record.sex == code
