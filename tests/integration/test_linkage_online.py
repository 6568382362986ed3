"""The matcher online (RegistryService.submit -> MatcherLinker -> SQL index), both engines:
the sample links as the pure matcher links it; newborns, twins, ID numbers, separations."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.link_score import pairs
from hub.access.principal import system
from hub.registry.idnumber import make
from hub.registry.linking import LinkOutcome
from hub.registry.matching import Features, InMemoryIndex, LinkageModel, Linker, Outcome
from hub.registry.models import DuplicateReview, LinkSeparation, ReviewStatus
from hub.registry.records import ResidentRecord

SAMPLE = Path("/work/shared/data/linkage-sample.jsonl")
TRUTH = Path("/work/shared/data/linkage-sample-truth.csv")
WHO = system("test-linkage")


async def _submit(hub: Any, **fields: Any) -> Any:
    async with hub.db.transaction() as s:
        return await hub.registry.submit(s, WHO, ResidentRecord(**fields), strict=False)


def _in_memory(records: list[dict[str, Any]]) -> dict[str, Any]:
    linker = Linker(LinkageModel.load(), InMemoryIndex())
    assigned: dict[str, Any] = {}
    for n, rec in enumerate(records):
        f = Features.from_record(rec)
        d = linker.link(f)
        rid = d.resident_id if d.outcome is Outcome.LINKED else f"R{n}"
        assert linker.index is not None
        linker.index.add(rid, f)
        assigned[f.record_key] = rid
    return assigned


@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared linkage sample is not here")
async def test_the_sample_links_online_as_the_pure_matcher_links_it(hub: Any) -> None:
    records = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    online: dict[str, int] = {}
    for rec in records:
        record, _ = ResidentRecord.lenient(rec)
        result = await _submit(hub, **{k: getattr(record, k) for k in rec})
        online[f"{rec['source']}:{rec['source_id']}"] = result.resident.id
    expected = _in_memory(records)

    # Same partition of the records (resident ids differ, clusters must not).
    def clusters(assigned: dict[str, Any]) -> set[frozenset[str]]:
        by: dict[Any, set[str]] = {}
        for key, rid in assigned.items():
            by.setdefault(rid, set()).add(key)
        return {frozenset(v) for v in by.values()}

    assert clusters(online) == clusters(expected)
    with TRUTH.open(encoding="utf-8") as fh:
        truth = {f"{r['source']}:{r['source_id']}": r["true_person"] for r in csv.DictReader(fh)}
    true_clusters: dict[str, list[str]] = {}
    for key, person in truth.items():
        true_clusters.setdefault(person, []).append(key)
    found = clusters(online)
    assert pairs([list(c) for c in found]) == pairs(true_clusters.values())
    async with hub.db.reader() as s:
        open_reviews = await s.scalar(select(func.count()).select_from(DuplicateReview)
                                      .where(DuplicateReview.status == ReviewStatus.OPEN))  # fmt: skip
    assert open_reviews and open_reviews > 0  # REVIEW outcomes opened review items


async def test_a_newborn_known_through_the_mother_links_to_the_later_record(hub: Any) -> None:
    mother = make("330381", dt.date(1992, 4, 3), 128)
    born = dt.date(2026, 9, 14)
    first = await _submit(hub, source="maternal", source_id="NB-1", name="韩梅之女", sex="2",
                          birth_date=born, mother_id_number=mother, guardian_name="韩梅",
                          guardian_phone="13611112222", address="瑞安市安阳街道万松路8号2栋301")  # fmt: skip
    assert first.outcome is LinkOutcome.NEW and first.decision.provisional
    later = await _submit(hub, source="immunization", source_id="NB-2", name="陈可欣", sex="2",
                          birth_date=born, id_number=make("330381", born, 62),
                          mother_id_number=mother, guardian_phone="13611112222")  # fmt: skip
    assert later.outcome is LinkOutcome.LINKED and later.resident.id == first.resident.id


async def test_twins_are_never_merged_automatically(hub: Any) -> None:
    mother = make("440113", dt.date(1990, 1, 20), 224)
    born = dt.date(2024, 2, 2)
    common = dict(sex="1", birth_date=born, mother_id_number=mother, guardian_name="李芳",
                  guardian_phone="13722223333", address="番禺区市桥街道东环路3号5栋1202")  # fmt: skip
    one = await _submit(hub, source="immunization", source_id="TW-1", name="万家豪", **common)
    two = await _submit(hub, source="immunization", source_id="TW-2", name="万家乐", **common)
    assert two.outcome is not LinkOutcome.LINKED and two.resident.id != one.resident.id


async def test_two_valid_id_numbers_are_two_people(hub: Any) -> None:
    born = dt.date(1966, 7, 7)
    a = await _submit(hub, source="his", source_id="ID-1", name="周建国", sex="1", birth_date=born,
                      id_number=make("440113", born, 11), phone="13833334444")  # fmt: skip
    b = await _submit(hub, source="vendor", source_id="ID-2", name="周建国", sex="1",
                      birth_date=born, id_number=make("440113", born, 13), phone="13833334444")  # fmt: skip
    assert a.resident.id != b.resident.id


async def test_a_separated_pair_is_not_offered_again(hub: Any) -> None:
    born = dt.date(1980, 3, 3)
    fields = dict(name="邓丽君", sex="2", birth_date=born, phone="13944445555",
                  address="番禺区大石街道大山路1号")  # fmt: skip
    a = await _submit(hub, source="his", source_id="SEP-1", **fields)
    record = ResidentRecord(source="vendor", source_id="SEP-2", **fields)
    async with hub.db.reader() as s:
        found = await hub.registry.linker.match(s, record, 5)
    assert found and found[0].resident_id == a.resident.id
    async with hub.db.transaction() as s:
        s.add(LinkSeparation(record_key="vendor:SEP-2", resident_id=a.resident.id, reason="test"))
    async with hub.db.reader() as s:
        again = await hub.registry.linker.match(s, record, 5)
    assert all(c.resident_id != a.resident.id for c in again)
    b = await _submit(hub, source="vendor", source_id="SEP-2", **fields)
    assert b.resident.id != a.resident.id and b.outcome is LinkOutcome.NEW
