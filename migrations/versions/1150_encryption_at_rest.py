"""encryption at rest: identifiers, phones, guardians, source payloads and raw messages
encrypted (hub.crypto); identifier values and blocking keys replaced by their HMAC

Data migration: the rows already stored are rewritten with the key ring the settings
give (HUB_DATA_KEY… / HUB_INDEX_KEY; the development key file if none). On PostgreSQL
the identifier columns lose their length (a ciphertext is longer than an 18-digit number).
Downgrade decrypts, and rebuilds the identifier index and blocking keys in clear from the
source records (an HMAC cannot be reversed).

Revision ID: 1150_encryption_at_rest
Revises: 0600, 0510
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "1150_encryption_at_rest"
down_revision: str | Sequence[str] | None = ("0600", "0510")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STRINGS = {"id_number": 18, "insurance_card": 40, "health_record_no": 40,
           "birth_certificate_no": 40, "mother_id_number": 18}  # fmt: skip
JSONS = ("phones", "guardian")
LOOKUP_SYSTEMS = ("PHONE", "MOTHER_ID_CARD", "GUARDIAN_ID_CARD")
BATCH = 2000

resident = sa.table(
    "resident", sa.column("id", sa.Integer),
    *(sa.column(c, sa.String) for c in STRINGS), *(sa.column(c, sa.JSON) for c in JSONS),
)  # fmt: skip
identifier = sa.table(
    "resident_identifier", sa.column("id", sa.Integer), sa.column("resident_id", sa.Integer),
    sa.column("system", sa.String), sa.column("value", sa.String),
)  # fmt: skip
source_record = sa.table(
    "source_record", sa.column("id", sa.Integer), sa.column("resident_id", sa.Integer),
    sa.column("payload", sa.JSON), sa.column("features", sa.JSON),
)  # fmt: skip
inbound = sa.table("adapter_inbound", sa.column("id", sa.Integer),
                   sa.column("payload", sa.LargeBinary))  # fmt: skip


def _batches(bind: sa.Connection, table: Any, *cols: str) -> Iterator[list[Any]]:
    after = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, *(table.c[c] for c in cols))
            .where(table.c.id > after).order_by(table.c.id).limit(BATCH)
        ).all()  # fmt: skip
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _update(bind: sa.Connection, table: Any, cols: Sequence[str], rows: list[dict]) -> None:
    if rows:
        stmt = (sa.update(table).where(table.c.id == sa.bindparam("_id"))
                .values({c: sa.bindparam(f"_{c}") for c in cols}))  # fmt: skip
        bind.execute(stmt, [{f"_{k}": v for k, v in r.items()} for r in rows])


def _types() -> dict[str, Any]:
    from hub.crypto import EncryptedBytes, EncryptedJSON, EncryptedString

    out: dict[str, Any] = {f"resident.{c}": EncryptedString(f"resident.{c}")
                           for c, n in STRINGS.items()}  # fmt: skip
    out.update({f"resident.{c}": EncryptedJSON(f"resident.{c}") for c in JSONS})
    for c in ("payload", "features"):
        out[f"source_record.{c}"] = EncryptedJSON(f"source_record.{c}")
    out["adapter_inbound.payload"] = EncryptedBytes("adapter_inbound.payload")
    return out


def _is_hmac(value: str) -> bool:
    return len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)


def upgrade() -> None:
    from hub import crypto
    from hub.registry.golden import lookup_identifiers
    from hub.registry.matcher.features import stored_key

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for col, n in STRINGS.items():
            op.alter_column("resident", col, type_=sa.String(), existing_type=sa.String(n))
    ring = crypto.configure()
    types = _types()

    def enc(name: str, value: Any) -> Any:
        if value is None or crypto.key_id_of(value) is not None:
            return value
        return types[name].process_bind_param(value, bind.dialect)

    cols = (*STRINGS, *JSONS)
    for rows in _batches(bind, resident, *cols):
        changed, lookups = [], []
        for rid, *values in rows:
            plain = dict(zip(cols, values, strict=True))
            if all(v is None or crypto.key_id_of(v) for v in plain.values()):
                continue
            lookups += [{"resident_id": rid, "system": s, "value": ring.blind(v)}
                        for s, v in lookup_identifiers(plain)]  # fmt: skip
            changed.append({"id": rid, **{c: enc(f"resident.{c}", v) for c, v in plain.items()}})
        _update(bind, resident, cols, changed)
        if lookups:
            bind.execute(sa.insert(identifier), lookups)

    for rows in _batches(bind, identifier, "system", "value"):
        _update(bind, identifier, ["value"], [
            {"id": i, "value": ring.blind(v)} for i, s, v in rows
            if s not in LOOKUP_SYSTEMS and not _is_hmac(v)
        ])  # fmt: skip

    for rows in _batches(bind, source_record, "payload", "features"):
        _update(bind, source_record, ["payload", "features"], [
            {"id": i, "payload": enc("source_record.payload", p),
             "features": enc("source_record.features", f)}
            for i, p, f in rows if crypto.key_id_of(p) is None
        ])  # fmt: skip

    for rows in _batches(bind, inbound, "payload"):
        _update(bind, inbound, ["payload"], [
            {"id": i, "payload": enc("adapter_inbound.payload", bytes(p))}
            for i, p in rows if p is not None and crypto.key_id_of(bytes(p)) is None
        ])  # fmt: skip

    for name in ("blocking_key", "blocking_key_recent"):
        keys = sa.table(name, sa.column("key", sa.String), sa.column("source_record_id"))
        rows = bind.execute(sa.select(keys.c.key, keys.c.source_record_id)).all()
        fresh = {(k if _is_hmac(k.partition(":")[2]) else stored_key(k), s) for k, s in rows}
        bind.execute(sa.delete(keys))
        for i in range(0, len(fresh), BATCH):
            chunk = sorted(fresh)[i : i + BATCH]
            bind.execute(sa.insert(keys), [{"key": k, "source_record_id": s} for k, s in chunk])


def downgrade() -> None:
    from hub.registry import idnumber
    from hub.registry.golden import IDENTIFIER_FIELDS
    from hub.registry.matcher.features import Features, blocking_keys

    bind = op.get_bind()
    types = _types()

    def dec(name: str, value: Any) -> Any:
        return types[name].process_result_value(value, bind.dialect)

    cols = (*STRINGS, *JSONS)
    for rows in _batches(bind, resident, *cols):
        _update(bind, resident, cols, [
            {"id": rid, **{c: dec(f"resident.{c}", v) for c, v in zip(cols, vals, strict=True)}}
            for rid, *vals in rows
        ])  # fmt: skip
    for rows in _batches(bind, inbound, "payload"):
        _update(bind, inbound, ["payload"], [
            {"id": i, "payload": dec("adapter_inbound.payload", p)} for i, p in rows
        ])  # fmt: skip

    # The identifier index and the blocking keys, in clear again, from the source records
    bind.execute(sa.delete(identifier))
    for name in ("blocking_key", "blocking_key_recent"):
        bind.execute(sa.delete(sa.table(name)))
    settled = sa.table("blocking_key", sa.column("key"), sa.column("source_record_id"))
    idents: set[tuple[int, str, str]] = set()
    for rows in _batches(bind, source_record, "resident_id", "payload", "features"):
        keys: set[tuple[str, int]] = set()
        plain = []
        for sid, rid, p, f in rows:
            p, f = dec("source_record.payload", p), dec("source_record.features", f)
            plain.append({"id": sid, "payload": p, "features": f})
            if p.get("id_number") and (n := idnumber.parse(p["id_number"])).valid:
                idents.add((rid, "ID_CARD", n.value))
            for key, system in IDENTIFIER_FIELDS:
                if p.get(key):
                    idents.add((rid, system, str(p[key]).strip()))
            if f:
                keys |= {(k[:80], sid) for k in blocking_keys(Features.from_dict(f))}
        _update(bind, source_record, ["payload", "features"], plain)
        if keys:
            bind.execute(sa.insert(settled), [
                {"key": k, "source_record_id": s} for k, s in sorted(keys)
            ])  # fmt: skip
    if idents:
        bind.execute(sa.insert(identifier), [
            {"resident_id": r, "system": s, "value": v} for r, s, v in sorted(idents)
        ])  # fmt: skip
    if bind.dialect.name == "postgresql":
        for col, n in STRINGS.items():
            op.alter_column("resident", col, type_=sa.String(n), existing_type=sa.String())
