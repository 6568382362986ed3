"""The online matcher: features, blocking, deterministic rules, decisions, accuracy."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hub.registry.idnumber import make
from hub.registry.matching import (
    Features,
    Grade,
    InMemoryIndex,
    LinkageModel,
    Linker,
    Outcome,
    blocking_keys,
    compare,
    name_level,
)

DATA = Path("/work/shared/data")
MOTHER = make("330381", dt.date(1988, 6, 14), 828)  # 女
CHILD = make("330381", dt.date(2024, 5, 1), 789)  # 男
OTHER = make("330381", dt.date(2024, 5, 1), 801)


@pytest.fixture(scope="module")
def model() -> LinkageModel:
    return LinkageModel.load()


def rec(**fields: Any) -> Features:
    base: dict[str, Any] = {"source": "his", "source_id": str(id(fields))}
    base.update(fields)
    return Features.from_record(base)


def linker_with(model: LinkageModel, *people: tuple[str, Features], **kw: Any) -> Linker:
    index = InMemoryIndex()
    for resident_id, features in people:
        index.add(resident_id, features)
    return Linker(model, index, **kw)


# ---------------------------------------------------------------- features


def test_features_roundtrip() -> None:
    f = rec(
        name="錢萱怡",
        sex="2",
        birth_date="2023-10-25",
        id_number="330381202310257589",
        phone="(020)34019378",
        address="温州市瑞安市 仙降街道 人民路85号 11幢833",
        mother_id_number="330381199210115829",
        guardian_name="高春梅",
    )
    assert f.name == "钱萱怡" and f.street == "人民路85号" and f.phone == "02034019378"
    data = json.loads(json.dumps(f.to_dict()))
    assert Features.from_dict(data) == f


def test_birth_and_sex_filled_from_id() -> None:
    f = rec(name="张三", id_number=CHILD)
    assert f.birth == dt.date(2024, 5, 1) and f.sex == "1" and f.id_number == CHILD


def test_id_contradicting_birth_date_is_not_trusted() -> None:
    # the mother's number typed on the baby's record
    f = rec(name="张三", birth_date="2024-05-01", id_number=MOTHER)
    assert f.id_number is None and f.id_foreign == MOTHER


def test_id_with_birth_date_typo_is_trusted() -> None:
    f = rec(name="张三", birth_date="2024-01-05", id_number=CHILD, sex="2")  # swap, sex typo
    assert f.id_number == CHILD
    # the check character vouches for the number: its birth date and sex win
    assert f.birth == dt.date(2024, 5, 1) and f.sex == "1"


def test_blocking_keys_cover_the_usual_errors() -> None:
    a = rec(name="张伟", birth_date="1990-03-05", phone="13800000001", address="市桥路1号2栋3")
    b = rec(name="章伟", birth_date="1990-03-08")  # homophone, day typo
    c = rec(name="张伟", birth_date="1990-05-03")  # day/month swapped
    d = rec(name="张伟", birth_date="1909-03-05")  # year typo
    e = rec(name="张玮", birth_date="1990-03-05")  # given-name typo
    g = rec(name="李伟", birth_date="1990-03-05")  # surname typo
    keys = set(blocking_keys(a))
    for other in (b, c, d, e, g):
        assert keys & set(blocking_keys(other)), other.name


def test_blocking_keys_are_few() -> None:
    f = rec(
        name="张伟",
        birth_date="1990-03-05",
        id_number="330381451119030",
        phone="13800000001",
        address="市桥路1号2栋3",
        insurance_card="1",
        health_record_no="2",
        mother_id_number=MOTHER,
        guardian_name="李娜",
    )
    assert len(blocking_keys(f)) <= 14


# ---------------------------------------------------------------- comparison


def test_name_levels() -> None:
    assert name_level(rec(name="张伟"), rec(name="张伟")) == "EXACT"
    assert name_level(rec(name="张伟"), rec(name="章伟")) == "PINYIN"
    assert name_level(rec(name="孔轩国"), rec(name="孔轩國")) == "EXACT"
    assert name_level(rec(name="徐芳涛"), rec(name="徐芳韬")) == "PINYIN"
    assert name_level(rec(name="顾鹏睿"), rec(name="顾鹏瑞")) == "PINYIN"
    assert name_level(rec(name="冯志佳"), rec(name="冯志嘉")) == "PINYIN"
    assert name_level(rec(name="黄怡洋"), rec(name="黄怡样")) in ("PINYIN", "FUZZY")
    assert name_level(rec(name="李娜之子"), rec(name="王小明")) is None
    assert name_level(rec(name="李娜之子"), rec(name="李娜之女")) == "DIFFERENT"
    assert name_level(rec(name="张伟"), rec(name="王芳")) == "DIFFERENT"


def test_common_names_weigh_less(model: LinkageModel) -> None:
    common = compare(model, rec(name="王芳"), rec(name="王芳")).weight
    rare = compare(model, rec(name="覃平鹏"), rec(name="覃平鹏")).weight
    assert rare > common + 3


# ---------------------------------------------------------------- decisions


def test_same_valid_id_is_certain(model: LinkageModel) -> None:
    linker = linker_with(model, ("R1", rec(name="万家豪", id_number=CHILD, sex="1")))
    decision = linker.link(rec(name="万家豪", id_number=CHILD.lower(), sex="2"))  # sex typo
    assert decision.outcome is Outcome.LINKED and decision.resident_id == "R1"
    assert decision.candidates[0].grade is Grade.CERTAIN


def test_fifteen_digit_id_links_to_eighteen(model: LinkageModel) -> None:
    linker = linker_with(model, ("R1", rec(name="邱涛嘉", id_number="330381194511190301")))
    decision = linker.link(rec(name="邱涛嘉", id_number="330381451119030"))
    assert decision.resident_id == "R1"


def test_different_valid_ids_never_link(model: LinkageModel) -> None:
    person = dict(name="王芳", sex="2", birth_date="2024-05-01", phone="13800000001")
    linker = linker_with(model, ("R1", rec(id_number=CHILD, **person)))
    decision = linker.link(rec(id_number=OTHER, **person))
    assert decision.outcome is Outcome.NEW and decision.candidates == []


def test_resident_with_another_valid_id_is_vetoed(model: LinkageModel) -> None:
    # R1 holds a record without ID and one with CHILD; a record with OTHER may not join
    person = dict(name="王芳", sex="2", birth_date="2024-05-01", phone="13800000001")
    index = InMemoryIndex()
    index.add("R1", rec(**person))
    index.add("R1", rec(id_number=CHILD, **person))
    decision = Linker(model, index).link(rec(id_number=OTHER, **person))
    assert decision.outcome is Outcome.NEW


def test_probabilistic_link_with_typos(model: LinkageModel) -> None:
    stored = rec(
        name="钱萱怡",
        sex="2",
        birth_date="2023-10-25",
        phone="17527584668",
        address="温州市瑞安市仙降街道人民路85号11栋833",
    )
    linker = linker_with(model, ("R1", stored))
    incoming = rec(
        name="錢萱怡",
        sex="2",
        birth_date="2023-10-25",
        phone="17527584668",
        address="仙降街道人民路85号11幢833",
        insurance_card="330381530680394",
    )
    decision = linker.link(incoming)
    assert decision.outcome is Outcome.LINKED and decision.resident_id == "R1"
    assert 0.9 < decision.candidates[0].score <= 1.0


def test_nothing_in_common_is_new(model: LinkageModel) -> None:
    linker = linker_with(model, ("R1", rec(name="张伟", birth_date="1990-03-05")))
    assert linker.link(rec(name="王芳", birth_date="1970-01-01")).outcome is Outcome.NEW


def test_newborn_placeholder_links_to_named_child(model: LinkageModel) -> None:
    placeholder = rec(
        source="maternal",
        name="韩思涵之子",
        birth_date="2024-05-01",
        mother_id_number=MOTHER,
        guardian_name="韩思涵",
        guardian_phone="13023740954",
    )
    assert placeholder.is_provisional and placeholder.sex == "1"
    index = InMemoryIndex()
    linker = Linker(model, index)
    first = linker.link(placeholder)
    assert first.outcome is Outcome.NEW and first.provisional
    index.add("R1", placeholder)
    named = rec(
        source="immunization",
        name="万家豪",
        sex="1",
        birth_date="2024-05-01",
        mother_id_number=MOTHER,
        guardian_phone="13023740954",
    )
    assert linker.link(named).resident_id == "R1"
    index.add("R1", named)
    with_id = rec(name="万家豪", sex="1", id_number=CHILD, phone="13433014673")
    assert linker.link(with_id).resident_id == "R1"


def test_twins_are_not_merged(model: LinkageModel) -> None:
    family = dict(
        birth_date="2024-05-01",
        mother_id_number=MOTHER,
        address="安阳街道市桥路61号5栋1110",
        guardian_phone="13023740954",
    )
    linker = linker_with(model, ("R1", rec(name="万家豪", sex="1", **family)))
    decision = linker.link(rec(name="万家乐", sex="1", **family))
    assert decision.outcome is not Outcome.LINKED
    decision = linker.link(rec(name="韩思涵之女", **family))  # the twin sister
    assert decision.outcome is not Outcome.LINKED


def test_twins_with_consecutive_id_numbers(model: LinkageModel) -> None:
    # twins' numbers differ in the sequence digit and the check character only; one
    # of them mistyped must not make them "close"
    girl = make("330784", dt.date(2022, 4, 29), 220)
    boy = make("330784", dt.date(2022, 4, 29), 201)
    boy_typo = boy[:3] + str((int(boy[3]) + 1) % 10) + boy[4:]
    linker = linker_with(model, ("R1", rec(name="陆华伟", id_number=girl, sex="2")))
    decision = linker.link(rec(name="陆华帆", id_number=boy_typo, sex="1", birth_date="2022-04-29"))
    assert decision.outcome is not Outcome.LINKED


def test_adults_sharing_home_and_birth_date_with_a_typo_link(model: LinkageModel) -> None:
    home = dict(birth_date="1975-07-05", sex="2", address="石碁镇桥东路91号20栋1616")
    linker = linker_with(
        model, ("R1", rec(name="谢宁建", phone="16889930272", insurance_card="44011339", **home))
    )
    decision = linker.link(rec(name="谢玉建", phone="16889930272", **home))
    assert decision.outcome is Outcome.LINKED


def test_different_mothers_never_link(model: LinkageModel) -> None:
    other_mother = make("330381", dt.date(1990, 1, 1), 222)
    child = dict(name="王芳", sex="2", birth_date="2024-05-01", phone="13800000001")
    linker = linker_with(model, ("R1", rec(mother_id_number=MOTHER, **child)))
    assert linker.link(rec(mother_id_number=other_mother, **child)).outcome is Outcome.NEW


def test_separated_pairs_stay_apart(model: LinkageModel) -> None:
    stored = rec(name="覃平鹏", id_number=CHILD)
    incoming = Features.from_record({"source": "his", "source_id": "9", "name": "覃平鹏",
                                     "id_number": CHILD})  # fmt: skip
    assert linker_with(model, ("R1", stored)).link(incoming).resident_id == "R1"
    apart = linker_with(model, ("R1", stored), separated={("his:9", "R1")})
    assert apart.link(incoming).outcome is Outcome.NEW
    apart = linker_with(model, ("R1", stored), separated=lambda rk, rid: rid == "R1")
    assert apart.link(incoming).outcome is Outcome.NEW


def test_siblings_are_not_merged(model: LinkageModel) -> None:
    family = dict(
        mother_id_number=MOTHER,
        address="安阳街道市桥路61号5栋1110",
        guardian_phone="13023740954",
        guardian_name="韩思涵",
    )
    linker = linker_with(
        model, ("R1", rec(name="刘丹明", sex="2", birth_date="2018-07-10", **family))
    )
    decision = linker.link(rec(name="刘瑞", sex="2", birth_date="2019-07-10", **family))
    assert decision.outcome is not Outcome.LINKED


def test_two_close_candidates_go_to_review(model: LinkageModel) -> None:
    person = dict(name="张伟", sex="1", birth_date="1990-03-05")
    linker = linker_with(
        model,
        ("R1", rec(phone="13800000001", **person)),
        ("R2", rec(phone="13800000002", **person)),
    )
    decision = linker.link(rec(**person))
    assert decision.outcome is Outcome.REVIEW and decision.resident_id is None
    assert {c.resident_id for c in decision.candidates} == {"R1", "R2"}


def test_model_file_is_versioned(model: LinkageModel) -> None:
    assert model.version
    assert model.certain > model.probable > model.possible
    with pytest.raises(ValueError):
        LinkageModel.from_dict({"format": "something else"})


# ---------------------------------------------------------------- accuracy


@pytest.mark.skipif(not (DATA / "linkage-sample.jsonl").exists(), reason="no sample data")
def test_sample_accuracy_targets(model: LinkageModel) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.linkage_accuracy import evaluate, load

    records, truth = load(DATA / "linkage-sample.jsonl", DATA / "linkage-sample-truth.csv")
    start = time.perf_counter()
    report = evaluate(records, truth, model)
    elapsed = time.perf_counter() - start
    assert report.precision >= 0.998, report.false_merges
    assert report.f1 >= 0.985, report.missed
    assert elapsed / len(records) < 0.002  # generous: shared CI machines


def test_rank_and_decide_without_an_index(model: LinkageModel) -> None:
    # how an async SQL repository uses the linker: fetch, then rank and decide
    stored = rec(name="覃平鹏", id_number=CHILD)
    linker = Linker(model)
    incoming = rec(name="覃平鹏", id_number=CHILD)
    found = linker.rank(incoming, [(7, stored)])
    assert found[0].resident_id == 7 and found[0].grade is Grade.CERTAIN
    decision = linker.decide(incoming, found)
    assert decision.outcome is Outcome.LINKED and decision.resident_id == 7
    with pytest.raises(RuntimeError):
        linker.match(incoming)


def test_features_from_an_object_with_attributes() -> None:
    class Record:
        source = "vendor"
        source_id = "1"
        name = "李娜之子"
        birth_date = dt.date(2024, 5, 1)
        guardian_relation = "母亲"
        guardian_id_number = MOTHER
        birth_certificate_no = "Q440123456"

    f = Features.from_record(Record())
    assert f.record_key == "vendor:1" and f.birth == dt.date(2024, 5, 1)
    assert f.mother_id == MOTHER and f.mother_id_valid and f.is_provisional
    assert "bc:Q440123456" in blocking_keys(f)
