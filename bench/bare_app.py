"""The bare stack the hub is measured against (bench/read_ceiling.py): strawberry +
Starlette + uvicorn (uvloop, httptools), parser and validation caches on, no database.

    .venv/bin/python -m uvicorn bare_app:app --app-dir bench --loop uvloop --http httptools

`{ hello }` is the ceiling of a point read; `{ items { f0 … f9 } }` (50 rows of 10 string
fields) is the ceiling of a 50-row list page."""

from __future__ import annotations

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache


@strawberry.type
class Item:
    f0: str
    f1: str
    f2: str
    f3: str
    f4: str
    f5: str
    f6: str
    f7: str
    f8: str
    f9: str


ITEMS = [Item(**{f"f{j}": f"value {i}.{j}" for j in range(10)}) for i in range(50)]


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"

    @strawberry.field
    def items(self) -> list[Item]:
        return ITEMS


schema = strawberry.Schema(
    query=Query, extensions=[ParserCache(maxsize=512), ValidationCache(maxsize=512)]
)
app = Starlette(routes=[Route("/graphql", GraphQL(schema), methods=["GET", "POST"])])
