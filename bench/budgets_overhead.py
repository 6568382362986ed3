"""What the budgets add to one request, measured in process (the HTTP bench on a loaded
machine is noise-dominated): the rate and cost charges (local leases, a shared-row UPDATE
when a lease runs out or is 1 s old) and the static cost of the point read (cached).

    .venv/bin/python bench/budgets_overhead.py [--database URL] [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from graphql import parse


async def charges(url: str, n: int) -> float:
    from hub.access.budgets import COST, RATE, BudgetStore
    from hub.access.service import create_client
    from hub.db import Database

    db = Database(url)
    async with db.transaction() as session:
        client, _ = await create_client(session, f"bench-{time.time_ns()}", ["residents:read"])
    store = BudgetStore(db)
    t0 = time.perf_counter()
    for _ in range(n):
        await store.charge(client.id, RATE, 1, 120_000)
        await store.charge(client.id, COST, 8, 1_000_000)
    elapsed = time.perf_counter() - t0
    await db.dispose()
    return elapsed / n


def static_cost(n: int) -> tuple[float, float]:
    from schema import build_schema
    from schema.cost import operation_cost

    schema = build_schema()._schema
    doc = parse("query($id: ID!) { resident(id: $id) { id name sex birthDate categories "
                "team { name } } }")  # fmt: skip
    t0 = time.perf_counter()
    for _ in range(n):
        operation_cost(schema, doc, None, {"id": "UmVzaWRlbnQ6MQ=="})
    walk = (time.perf_counter() - t0) / n
    from schema import cost

    class Ctx:  # what the extension reads from strawberry's execution context
        query, operation_name, variables, graphql_document = (
            "q", None, {"id": "x"}, doc)
        schema = type("S", (), {"_schema": build_schema()._schema})()

    t0 = time.perf_counter()
    for _ in range(n):
        cost._cached_cost(Ctx, 100)
    return walk, (time.perf_counter() - t0) / n


def main() -> None:
    from hub.migrate import upgrade

    ap = argparse.ArgumentParser()
    ap.add_argument("--database", default=None)
    ap.add_argument("--n", type=int, default=20_000)
    args = ap.parse_args()
    url = args.database or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/budgets.db"
    upgrade(url)
    per_request = asyncio.run(charges(url, args.n))
    walk, cached = static_cost(args.n)
    print(f"| rate + cost charge per request ({url.split(':')[0]}) | {per_request * 1e6:.1f} µs |")
    print(f"| static cost of the point read, walked | {walk * 1e6:.1f} µs |")
    print(f"| static cost of the point read, cached | {cached * 1e6:.2f} µs |")


if __name__ == "__main__":
    main()
