"""Generated artefacts stay in step with the code."""

from __future__ import annotations

from pathlib import Path

from hub.migrate import check
from schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_sdl_matches_the_code() -> None:
    committed = (ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8")
    assert committed == build_schema().as_str() + "\n", (
        "schema/schema.graphql is stale: run `.venv/bin/hub export-schema` and commit it"
    )


def test_migrations_match_the_models(db_url: str) -> None:
    check(db_url)  # alembic check: raises when a model change has no migration
