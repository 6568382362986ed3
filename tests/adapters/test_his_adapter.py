"""The HIS adapter against a real database (SQLite and PostgreSQL), over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.his.mllp import MllpClient
from adapters.his.translate import parse_ack
from tests.adapters.his_support import a40, adt, id_number, oru, running, scalar, settle


async def send(port: int, *messages: bytes) -> list[Any]:
    async with MllpClient("127.0.0.1", port) as client:
        return [parse_ack(await client.send(m)) for m in messages]


async def test_a04_is_stored_linked_and_acknowledged_once(hub: Any) -> None:
    msg = adt("A04", "T1-1", "MR100", id_number(11))
    async with running(hub) as his:
        first, again = await send(his.port, msg, msg)
    assert (first.code, first.control_id) == ("AA", "T1-1")
    assert (again.code, again.control_id) == ("AA", "T1-1")  # a duplicate still gets AA
    assert (
        await scalar(
            hub, "select count(*) from source_record where source='his' and source_id='MR100'"
        )
        == 1
    )
    assert (
        await scalar(
            hub,
            "select count(*) from adapter_inbound where control_id='T1-1' and status='DUPLICATE'",
        )
        == 1
    )
    assert (
        await scalar(
            hub, "select count(*) from adapter_inbound where control_id='T1-1' and status='APPLIED'"
        )
        == 1
    )


async def test_same_bytes_under_a_new_connection_and_same_id_other_bytes(hub: Any) -> None:
    async with running(hub) as his:
        (a,) = await send(his.port, adt("A04", "T2-1", "MR200", id_number(21)))
        # Same control id, different bytes (a resend with a new timestamp): still a duplicate.
        (b,) = await send(
            his.port, adt("A04", "T2-1", "MR200", id_number(21), when="20260105090000")
        )
    assert a.code == b.code == "AA"
    assert (
        await scalar(
            hub, "select count(*) from adapter_inbound where control_id='T2-1' and status='APPLIED'"
        )
        == 1
    )


async def test_bad_messages_get_ar_or_ae_are_kept_and_the_next_goes_through(hub: Any) -> None:
    missing_mr = adt("A04", "T3-1", "MR300", id_number(31)).replace(b"MR300^^^PYZXYY^MR~", b"")
    gbk_as_utf8 = adt("A04", "T3-2", "MR301", id_number(32), charset="GBK").replace(
        b"|GBK", b"|UNICODE UTF-8"
    )
    good = adt("A04", "T3-3", "MR302", id_number(33))
    async with running(hub) as his:
        acks = await send(his.port, missing_mr, gbk_as_utf8, b"not hl7 at all", good)
    assert [a.code for a in acks] == ["AE", "AR", "AR", "AA"]
    assert [a.control_id for a in acks] == ["T3-1", "T3-2", "", "T3-3"]
    assert "MISSING_PATIENT_ID" in acks[0].error_codes
    assert "BAD_ENCODING" in acks[1].error_codes
    rejected = await scalar(
        hub,
        "select count(*) from adapter_inbound where status='REJECTED' "
        "and control_id in ('T3-1', 'T3-2')",
    )
    assert rejected == 2  # raw bytes kept, listed among the dead letters
    assert await scalar(hub, "select count(*) from source_record where source_id='MR302'") == 1


async def test_invalid_id_number_is_kept_and_flagged_with_a_warning(hub: Any) -> None:
    good = id_number(41)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    async with running(hub) as his:
        (ack,) = await send(his.port, adt("A04", "T4-1", "MR400", bad))
    assert ack.code == "AA"
    assert any(c.startswith("INVALID_ID_NUMBER") for c in ack.error_codes)  # ERR severity W
    flags = await scalar(hub, "select flags from source_record where source_id='MR400'")
    assert "INVALID_ID_NUMBER" in str(flags)


async def test_update_before_create_is_parked_then_applied_after_it(hub: Any) -> None:
    number = id_number(51)
    update = adt("A08", "T5-2", "MR500", number, phone="13900000000", when="20260105100000")
    create = adt("A04", "T5-1", "MR500", number, phone="13800000000", when="20260105080000")
    async with running(hub) as his:
        (a,) = await send(his.port, update)
        assert a.code == "AA"  # stored: the sender is done with it
        assert (
            await scalar(hub, "select status from adapter_inbound where control_id='T5-2'")
            == "PARKED"
        )
        (b,) = await send(his.port, create)
        assert b.code == "AA"
        await settle(hub)
    from sqlalchemy import select

    from hub.registry.models import SourceRecord

    async with hub.db.reader() as session:  # the payload is encrypted at rest: read it decrypted
        payload = await session.scalar(
            select(SourceRecord.payload).where(SourceRecord.source_id == "MR500")
        )
    assert "13900000000" in str(payload)  # the newer update wins, in event-time order
    assert await scalar(hub, "select count(*) from source_record where source_id='MR500'") == 1


async def test_an_update_whose_create_never_comes_becomes_a_create(hub: Any) -> None:
    async with running(hub) as his:
        (a,) = await send(his.port, adt("A08", "T6-1", "MR600", id_number(61)))
        assert a.code == "AA"
        await settle(hub)  # park_seconds=1 in the tests
    assert (
        await scalar(hub, "select status from adapter_inbound where control_id='T6-1'") == "APPLIED"
    )
    assert await scalar(hub, "select count(*) from source_record where source_id='MR600'") == 1


async def test_an_older_state_arriving_late_is_superseded(hub: Any) -> None:
    number = id_number(71)
    async with running(hub) as his:
        await send(
            his.port,
            adt("A04", "T7-1", "MR700", number, phone="13811111111", when="20260110080000"),
        )
        await send(
            his.port,
            adt("A08", "T7-0", "MR700", number, phone="13822222222", when="20260101080000"),
        )
    payload = await scalar(hub, "select payload from source_record where source_id='MR700'")
    assert "13811111111" in str(payload)
    result = await scalar(hub, "select result from adapter_inbound where control_id='T7-0'")
    assert "superseded" in str(result)


async def test_a40_merges_residents_the_hub_kept_apart(hub: Any) -> None:
    # Two registrations the hub could not link (different ID numbers, different names).
    async with running(hub) as his:
        await send(
            his.port,
            adt("A04", "T8-1", "MR800", id_number(81), name="李明"),
            adt("A04", "T8-2", "MR801", id_number(83), name="李小明", phone="13700000000"),
        )
        r1 = await scalar(hub, "select resident_id from source_record where source_id='MR800'")
        r2 = await scalar(hub, "select resident_id from source_record where source_id='MR801'")
        assert r1 != r2
        await send(his.port, oru("T8-3", "MR801"))  # results on the one that will go
        (ack,) = await send(his.port, a40("T8-4", "MR800", "MR801"))
        assert ack.code == "AA"
    assert await scalar(hub, f"select status from resident where id={r2}") == "MERGED"
    assert await scalar(hub, f"select merged_into_id from resident where id={r2}") == r1
    assert await scalar(hub, "select resident_id from source_record where source_id='MR801'") == r1
    assert await scalar(hub, "select count(*) from observation where resident_id=:r", r=r1) >= 2
    assert (
        await scalar(hub, "select count(*) from audit_event where operation='mergeResidents'") >= 1
    )
    assert await scalar(hub, "select count(*) from event where type='resident.merged'") >= 1


async def test_a40_of_records_the_hub_already_linked_changes_nothing(hub: Any) -> None:
    number = id_number(91)
    async with running(hub) as his:
        await send(
            his.port, adt("A04", "T9-1", "MR900", number), adt("A04", "T9-2", "MR900D", number)
        )  # same person, second MR number
        (ack,) = await send(his.port, a40("T9-3", "MR900", "MR900D"))
    assert ack.code == "AA"
    result = await scalar(hub, "select result from adapter_inbound where control_id='T9-3'")
    assert "already_linked" in str(result)


async def test_results_become_observations_and_unmapped_codes_are_kept(hub: Any) -> None:
    unknown = "OBX|3|NM|XYZ99^某检验^L||1.5|mg/L|||||F"
    async with running(hub) as his:
        await send(his.port, adt("A04", "T10-1", "MR1000", id_number(101)))
        (ack,) = await send(his.port, oru("T10-2", "MR1000", extra=unknown))
        again = (await send(his.port, oru("T10-2", "MR1000", extra=unknown)))[0]
    assert ack.code == again.code == "AA"
    assert "UNMAPPED_CODE" in ack.error_codes  # reported, not refused
    rid = await scalar(hub, "select resident_id from source_record where source_id='MR1000'")
    rows = await scalar(hub, "select count(*) from observation where resident_id=:r", r=rid)
    assert rows == 4  # BP panel, fasting glucose, HbA1c (mapped), XYZ99 (unmapped)
    bp = await scalar(
        hub, "select components from observation where resident_id=:r and code='85354-9'", r=rid
    )
    assert "8480-6" in str(bp) and "8462-4" in str(bp)
    assert await scalar(hub, "select code from observation where local_code='L:HBA1C'") == "4548-4"
    assert await scalar(hub, "select mapped from observation where local_code='L:XYZ99'") in (
        False,
        0,
    )
    assert await scalar(hub, "select count(*) from encounter where resident_id=:r", r=rid) == 1


async def test_kill_switch_closes_the_listener_and_reopening_loses_nothing(hub: Any) -> None:
    from adapters.runtime import control
    from adapters.runtime.db import writing
    from hub.access.principal import system

    async with running(hub) as his:
        async with writing(hub.db) as session:
            await control.set_enabled(session, system("test"), "his", False, "maintenance")
        his.switch._read_at = -1e9  # don't wait for the cache
        await his._follow_switch()
        assert not his.listening
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", his.port)
        async with writing(hub.db) as session:
            await control.set_enabled(session, system("test"), "his", True, None)
        his.switch._read_at = -1e9
        await his._follow_switch()
        (ack,) = await send(his.port, adt("A04", "T11-1", "MR1100", id_number(111)))
    assert ack.code == "AA"


async def test_conflicting_values_from_two_systems_keep_provenance(hub: Any) -> None:
    """Failure mode 7: the golden record takes the higher-priority source's value; the
    other value stays in its source record and shows as a discrepancy."""
    from hub.access.principal import system
    from hub.registry import golden
    from hub.registry import repository as residents
    from hub.registry.records import ResidentRecord

    number = id_number(121)
    async with running(hub) as his:
        await send(
            his.port,
            adt("A04", "T12-1", "MR1200", number, phone="13812121212", address="南村镇兴业大道9号"),
        )
    async with hub.db.transaction() as session:
        await hub.registry.submit(
            session,
            system("vendor"),
            ResidentRecord(
                source="vendor",
                source_id="V-1200",
                name="王建国",
                sex="1",
                id_number=number,
                address="市桥街道光明北路8号",
            ),
            strict=True,
        )
    async with hub.db.reader() as session:
        rid = await scalar(hub, "select resident_id from source_record where source_id='MR1200'")
        records = await residents.source_records(session, [rid])
        resident = await residents.get(session, rid)
    assert {r.source for r in records} == {"his", "vendor"}
    # The HIS (identity checked at the desk, trust 100) outranks a signing app (unregistered
    # here: the lowest trust), whichever came last; the app's value stays a discrepancy.
    assert resident is not None and resident.address_text == "南村镇兴业大道9号"
    found = {d.field: d for d in golden.discrepancies(records, hub.registry.priority)}
    assert {v for _, _, v in found["address_text"].values} == {
        "市桥街道光明北路8号",
        "南村镇兴业大道9号",
    }


async def test_a_follow_up_of_a_hypertension_patient_counts_on_the_contract(
    hub: Any, monkeypatch: Any
) -> None:
    """Results of a resident in the hypertension category make the visit a follow-up
    (随访), reported to the contracts service (record_delivery) for the active contract."""
    import hub.contracts.delivery as delivery
    from hub.access.principal import system
    from hub.registry.records import ResidentRecord

    calls: list[dict[str, Any]] = []

    async def record_delivery(session: Any, principal: Any, **kw: Any) -> object:
        calls.append(kw)
        return object()

    monkeypatch.setattr(delivery, "record_delivery", record_delivery)
    number = id_number(131)
    async with hub.db.transaction() as session:
        await hub.registry.submit(
            session,
            system("vendor"),
            ResidentRecord(
                source="vendor",
                source_id="V-1300",
                name="王建国",
                sex="1",
                id_number=number,
                categories=["HYPERTENSION"],
            ),
            strict=True,
        )
    async with running(hub) as his:
        await send(his.port, adt("A04", "T13-1", "MR1300", number))
        (ack,) = await send(his.port, oru("T13-2", "MR1300"))
    assert ack.code == "AA"
    rid = await scalar(hub, "select resident_id from source_record where source_id='MR1300'")
    assert (
        await scalar(hub, "select kind from encounter where resident_id=:r", r=rid) == "FOLLOW_UP"
    )
    assert [(c["resident_id"], c["category"], c["service"]) for c in calls] == [
        (rid, "HYPERTENSION", "follow_up")
    ]
    assert calls[0]["source"] == "his" and calls[0]["performed_on"].isoformat() == "2026-01-07"
