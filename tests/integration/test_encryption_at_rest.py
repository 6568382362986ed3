"""Identifiers encrypted at rest: the raw columns hold no identifier, lookups still work
through the HMAC index, rotation re-encrypts and old ids stay readable, a wrong or missing
key is a typed error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text

from hub import crypto
from hub.access.principal import system
from hub.registry import repository
from hub.registry.idnumber import make
from hub.registry.records import ResidentRecord
from hub.settings import Settings

WHO = system("test-encryption")
ID = make("440113", dt.date(1961, 7, 2), 417)
PHONE = "13912345678"
TABLES = ("resident", "resident_identifier", "source_record", "blocking_key_recent",
          "blocking_key")  # fmt: skip


def _ring(current: str, **keys: str) -> crypto.KeyRing:
    index = crypto.keyring().index_key  # lookups keep working across data-key rotation
    decoded = {k: crypto._decode_key(v, k) for k, v in keys.items()}
    return crypto.KeyRing(decoded, current, index, "test")


async def _raw_rows(hub: Any) -> str:
    out = []
    async with hub.db.engine.connect() as conn:
        for t in TABLES:
            cast = "CAST(t AS TEXT)" if conn.dialect.name == "postgresql" else "*"
            rows = (await conn.execute(text(f"SELECT {cast} FROM {t} t"))).all()
            out.extend(" ".join(str(v) for v in row) for row in rows)
    return "\n".join(out)


@pytest.fixture(scope="module")
async def resident_id(hub: Any) -> int:
    record = ResidentRecord(source="enc-test", source_id="E-1", name="周明远", sex="1",
                            birth_date=dt.date(1961, 7, 2), id_number=ID, phone=PHONE)  # fmt: skip
    async with hub.db.transaction() as s:
        res = await hub.registry.submit(s, WHO, record, strict=False)
    return int(res.resident.id)


async def test_raw_columns_hold_no_identifier_and_lookups_work(hub: Any, resident_id: int) -> None:
    dump = await _raw_rows(hub)
    assert dump  # the rows are there
    assert ID not in dump and ID[:17] not in dump
    assert PHONE not in dump
    async with hub.db.reader() as s:
        assert await repository.by_identifier(s, "ID_CARD", ID) == [resident_id]
        assert await repository.by_identifier(s, "PHONE", PHONE) == [resident_id]
        r = (await repository.get_many(s, [resident_id]))[resident_id]
        assert r.id_number == ID and r.phones == [PHONE]


async def test_sqlite_file_holds_no_identifier(hub: Any, resident_id: int) -> None:
    if hub.db.engine.dialect.name != "sqlite":
        pytest.skip("the file check is SQLite's")
    async with hub.db.engine.connect() as conn:
        await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    path = hub.db.engine.url.database
    data = open(path, "rb").read()
    assert ID.encode() not in data and PHONE.encode() not in data


async def test_rotation_re_encrypts_and_old_ids_stay_readable(hub: Any, resident_id: int) -> None:
    from hub.keys import rotate

    before = crypto.keyring()
    k_old, k_new = crypto.new_key(), crypto.new_key()
    try:
        crypto.use(_ring("old", old=k_old))
        record = ResidentRecord(source="enc-test", source_id="E-2", name="吴小红", sex="2",
                                birth_date=dt.date(1990, 1, 5), phone="13700001111")  # fmt: skip
        async with hub.db.transaction() as s:
            res = await hub.registry.submit(s, WHO, record, strict=False)
        rid = int(res.resident.id)
        # a ring holding both: the old value still reads while the new key is current
        both = crypto.KeyRing({**before.keys, **_ring("old", old=k_old).keys,
                               **_ring("new", new=k_new).keys}, "new", before.index_key, "t")  # fmt: skip
        crypto.use(both)
        async with hub.db.reader() as s:
            assert (await repository.get_many(s, [rid]))[rid].phones == ["13700001111"]
        first = await rotate(hub.db.engine, both, batch=2)
        assert first.rewritten["resident"] >= 2 and first.rewritten["source_record"] >= 2
        again = await rotate(hub.db.engine, both, batch=2)
        assert sum(again.rewritten.values()) == 0  # done: a rerun rewrites nothing
        only_new = crypto.KeyRing({"new": both.keys["new"]}, "new", before.index_key, "t")
        crypto.use(only_new)
        async with hub.db.reader() as s:
            rows = await repository.get_many(s, [rid, resident_id])
            assert rows[rid].phones == ["13700001111"] and rows[resident_id].id_number == ID
            assert await repository.by_identifier(s, "ID_CARD", ID) == [resident_id]
        async with hub.db.engine.connect() as conn:
            raw = (await conn.execute(text("SELECT id_number FROM resident WHERE id = :i"),
                                      {"i": resident_id})).scalar_one()  # fmt: skip
        assert crypto.key_id_of(raw) == "new"
        # a wrong key under the right id: a typed error, not garbage or a crash
        crypto.use(crypto.KeyRing({"new": crypto._decode_key(k_old, "x")}, "new",
                                  before.index_key, "t"))  # fmt: skip
        with pytest.raises(crypto.DataKeyError) as wrong:
            async with hub.db.reader() as s:
                await repository.get_many(s, [resident_id])
        assert wrong.value.code == "DATA_KEY_UNAVAILABLE"
        crypto.use(crypto.KeyRing({"other": both.keys["new"]}, "other", before.index_key, "t"))
        with pytest.raises(crypto.DataKeyError, match="not configured"):
            async with hub.db.reader() as s:
                await repository.get_many(s, [resident_id])
    finally:
        crypto.use(both)
        await rotate(hub.db.engine, crypto.KeyRing({**both.keys}, before.current,
                                                   before.index_key, "t"))  # fmt: skip
        crypto.use(before)


def test_production_refuses_to_start_without_a_key(tmp_path: Any) -> None:
    from hub.core import build_hub

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", mode="production")
    with pytest.raises(crypto.KeyConfigError, match="no data key"):
        build_hub(settings)
    good = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", mode="production",
                    data_key=crypto.new_key(), index_key=crypto.new_key())  # fmt: skip
    assert crypto.load_keyring(good).current == "k1"
    with pytest.raises(crypto.KeyConfigError, match="32 bytes"):
        crypto.load_keyring(Settings(mode="production", data_key="c2hvcnQ", index_key="x" * 43))
    crypto.use(None)
