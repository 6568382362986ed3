"""The simulated hospital: population, message plan, faults over sockets, referrals."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from adapters.his.mllp import MllpClient, MllpConnectionError, MllpServer
from adapters.his.population import population
from adapters.his.referral import Facility, Referral, ReferralPatient, build_referral
from adapters.his.simulator import (
    MALFORMED_KINDS,
    Faults,
    HospitalServer,
    main,
    plan,
    referral_rule,
    send,
)
from adapters.his.translate import (
    HL7Error,
    MergeRecord,
    ObservationBatch,
    PersonRecord,
    ReferralReply,
    build_ack,
    parse,
    parse_ack,
)
from hub.registry.idnumber import parse as parse_id


def test_population_is_deterministic_valid_and_distinct() -> None:
    people = population(500, seed=42)
    assert people == population(500, seed=42)
    assert people != population(500, seed=43)
    assert len({p.id_number for p in people}) == 500
    assert len({p.mr_id for p in people}) == 500
    for p in people:
        number = parse_id(p.id_number)
        assert number.valid, p.id_number
        assert number.birth_date == p.birth_date and number.sex == p.sex
        assert len(p.phone) == 11 and p.phone.startswith("1")
    assert sum(1 for p in people if (dt.date(2026, 1, 1) - p.birth_date).days > 60 * 365) > 100


def test_plan_is_deterministic_with_unique_control_ids() -> None:
    first, again = plan(300, seed=5), plan(300, seed=5)
    assert [m.payload for m in first] == [m.payload for m in again]
    assert len({m.control_id for m in first}) == 300
    assert set(Counter(m.kind for m in first)) == {"A04", "A08", "A40", "R01"}
    assert {m.charset for m in first} == {"utf-8", "gb18030", "gbk"}


def test_every_planned_message_translates_as_expected() -> None:
    messages = plan(400, seed=9, faults=Faults(malformed=0.5, duplicate=0.1, out_of_order=0.5))
    kinds: Counter[type] = Counter()
    for m in messages:
        try:
            record = parse(m.payload)
        except HL7Error as err:
            assert err.ack_code == m.expected, (m.fault, err)
            continue
        assert m.expected == "AA", m.fault
        kinds[type(record)] += 1
        assert not isinstance(record, ReferralReply)
        assert record.control_id == m.control_id and record.source_id == m.mr_id
        if isinstance(record, PersonRecord):
            assert record.name and record.birth_date and record.phone and record.address
            fault = m.fault or ""
            assert (record.sex is None) == fault.startswith("unknown_code")
            assert parse_id(record.id_number).valid == (not fault.startswith("invalid_id"))
        if isinstance(record, ObservationBatch):
            assert len(record.blood_pressures) == 1
    assert kinds[PersonRecord] and kinds[MergeRecord] and kinds[ObservationBatch]
    faults = Counter(m.fault for m in messages)
    assert set(MALFORMED_KINDS) <= set(faults)
    assert faults["duplicate"] and faults["out_of_order"] and faults["invalid_id+duplicate"]


def test_out_of_order_puts_the_update_before_its_create() -> None:
    messages = plan(200, seed=3, faults=Faults(out_of_order=1.0))
    for i, m in enumerate(messages):
        if m.fault == "out_of_order":
            assert m.kind == "A08"
            assert messages[i + 1].kind == "A04" and messages[i + 1].mr_id == m.mr_id


def test_faults_parse() -> None:
    f = Faults.parse("duplicate=0.2, out-of-order, malformed=0.3:newlines+junk, slow, down=2")
    assert f.duplicate == 0.2 and f.out_of_order == 0.1 and f.slow == 0.1 and f.down == 2.0
    assert f.malformed == 0.3 and f.malformed_kinds == ("newlines", "junk")
    with pytest.raises(ValueError):
        Faults.parse("explode=1")
    with pytest.raises(ValueError):
        Faults.parse("malformed=0.1:nonsense")


async def hub_handler(raw: bytes) -> bytes:
    try:
        record = parse(raw)
    except HL7Error as err:
        return build_ack(raw, error=err)
    return build_ack(raw, warnings=record.issues)


@pytest.fixture
async def hub() -> AsyncIterator[MllpServer]:
    srv = MllpServer(hub_handler, frame_timeout=1.0)
    await srv.start()
    yield srv
    await srv.stop()


async def test_send_with_every_fault_gets_the_expected_acks(hub: MllpServer) -> None:
    faults = Faults(duplicate=0.1, out_of_order=0.3, malformed=0.3, slow=0.05, slow_delay=0.02)
    messages = plan(250, seed=11, faults=faults)
    report = await send(messages, "127.0.0.1", hub.port, faults=faults, connections=3)
    summary = report.summary()
    assert summary["unexpected"] == []
    assert summary["ok"] == summary["sent"] == len(messages)
    acks = summary["acks"]
    assert isinstance(acks, dict) and acks["AE"] and acks["AR"] and acks["AA"]


async def test_hub_down_then_back_loses_nothing() -> None:
    srv = MllpServer(hub_handler)
    await srv.start()
    port = srv.port
    await srv.stop()
    messages = plan(30, seed=2)

    async def come_back() -> None:
        await asyncio.sleep(0.4)
        await srv.start()

    back = asyncio.create_task(come_back())
    report = await send(messages, "127.0.0.1", port, retries=8, timeout=1)
    await back
    assert all(r.ok for r in report.results)
    assert report.results[0].attempts > 1  # the first ones waited for the hub
    await srv.stop()


async def test_rate_limits_sending(hub: MllpServer) -> None:
    report = await send(plan(20, seed=4), "127.0.0.1", hub.port, rate=100)
    assert report.elapsed >= 0.18 and all(r.ok for r in report.results)


def _referral(code: str = "I10", target: str = "PYZXYY") -> Referral:
    patient = ReferralPatient("RES-7", "陈静", "440113195802021248", birth_date=dt.date(1958, 2, 2),
                              sex="2")  # fmt: skip
    return Referral(f"R-{code}", patient, Facility("SQ01", "市桥社区卫生服务中心"),
                    Facility(target, "番禺区中心医院"), "血压控制不佳", code, "诊断")  # fmt: skip


async def test_hospital_accepts_and_rejects_referrals_by_rule() -> None:
    rule = referral_rule("PYZXYY", reject_codes=["C"], capacity=2)
    hospital = HospitalServer(rule=rule)
    await hospital.start()
    async with MllpClient("127.0.0.1", hospital.port, timeout=2) as client:
        answers = []
        for ref in [_referral("I10"), _referral("C34"), _referral("E11", target="OTHER"),
                    _referral("E11"), _referral("J44")]:  # fmt: skip
            reply = parse(
                await client.send(build_referral(ref, control_id=f"Q-{ref.diagnosis_code}"))
            )
            assert isinstance(reply, ReferralReply) and reply.referral_id == ref.referral_id
            assert reply.in_reply_to == f"Q-{ref.diagnosis_code}"
            answers.append((reply.accepted, reply.reason[:4]))
        garbage = parse_ack(await client.send(b"MSH|^~\\&|X|Y|||1||ADT^A04|Z9|P|2.5\r"))
        assert (garbage.code, garbage.control_id) == ("AE", "Z9")
    assert answers == [
        (True, ""),
        (False, "本院无相"),
        (False, "not "),
        (True, ""),
        (False, "预留号源"),
    ]
    assert len(hospital.received) == 5
    await hospital.stop()


async def test_hospital_down_refuses_then_comes_back_and_slow_is_bounded() -> None:
    hospital = HospitalServer(faults=Faults(down=0.4, slow=1.0, slow_delay=0.2))
    await hospital.start()
    async with MllpClient("127.0.0.1", hospital.port, timeout=2, retries=0) as client:
        with pytest.raises(MllpConnectionError):
            await client.send(build_referral(_referral()))
        await asyncio.sleep(0.6)
        loop = asyncio.get_running_loop()
        started = loop.time()
        reply = parse(await client.send(build_referral(_referral())))
        assert isinstance(reply, ReferralReply) and reply.accepted
        assert loop.time() - started >= 0.2
    await hospital.stop()


async def test_main_sends_and_reports(hub: MllpServer, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--port", str(hub.port), "--count", "40", "--seed", "8", "--faults",
            "duplicate=0.2,malformed=0.2:newlines+missing_field", "--connections", "2"]  # fmt: skip
    assert await asyncio.to_thread(main, argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] == summary["sent"] >= 40


def test_main_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dry-run", "--count", "3", "--encoding", "gbk"]) == 0
    out = capsys.readouterr().out
    assert out.count("MSH|") == 3 and "|GBK" in out and "PID|1||PY" in out


def test_main_measures_parse_cost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--measure", "--count", "300"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["messages"] == 300
    assert 0 < result["parse_us"] < 300 and result["parse_and_ack_us"] < 500


def test_main_loopback_translates_everything(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--loopback", "--count", "200", "--faults", "malformed=0.3,duplicate=0.1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{\n") :])  # after any log lines of the server
    assert summary["ok"] == summary["sent"] and summary["unexpected"] == []
