"""`hub link FILE.jsonl --out clusters.csv`: link a file of records through the matcher.

The file is streamed (memory stays flat whatever its size): lines are read, parsed and
linked in batches, one transaction each, and each record's person (its resident id) is
written to the CSV as soon as its batch commits. A line that is not a JSON object with a
source and a source_id is reported with its number and skipped; a field value that
cannot be used is dropped (unknown) and the record is linked on the rest.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hub.registry.records import ResidentRecord

BATCH_SIZE = 1000


@dataclass
class LinkReport:
    records: int = 0
    bad_lines: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    database: str = ""

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class BadLine:
    line: int
    problem: str


def read_records(
    fh: IO[str],
) -> Iterator[tuple[int, tuple[ResidentRecord, list[str]] | BadLine]]:
    """(line number, (record, problems) or BadLine) for each non-blank line."""
    for n, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            yield n, BadLine(n, f"not JSON ({e.msg})")
            continue
        if not isinstance(data, dict):
            yield n, BadLine(n, "not a JSON object")
            continue
        try:
            yield n, ResidentRecord.lenient(data)
        except (ValueError, TypeError) as e:
            yield n, BadLine(n, str(e))


async def link_file(
    path: Path,
    out: Path,
    database_url: str,
    *,
    batch_size: int = BATCH_SIZE,
    on_bad_line: Callable[[BadLine], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    before_first_write: Callable[[], None] | None = None,
    settings: Any = None,
) -> LinkReport:
    """Link every record of `path` into the database; write source,source_id,person_id.

    on_progress(bytes read, records linked) after each batch."""
    from hub.access.principal import system
    from hub.db import Database
    from hub.registry.bulk import BulkLinker
    from hub.registry.mpi import MatcherLinker
    from hub.registry.service import RegistryService
    from hub.settings import get_settings

    settings = settings or get_settings()
    registry = RegistryService(MatcherLinker.from_settings(settings), settings.source_priority)
    linker = BulkLinker(registry, system("hub link"))
    report = LinkReport(database=database_url)
    db = Database(database_url)
    start = time.perf_counter()
    try:
        with (
            open(path, encoding="utf-8-sig") as fh,
            open(out, "w", newline="", encoding="utf-8") as fo,
        ):
            writer = csv.writer(fo)
            writer.writerow(["source", "source_id", "person_id"])
            batch: list[tuple[ResidentRecord, list[str]]] = []

            async def flush() -> None:
                nonlocal before_first_write
                if before_first_write is not None:
                    before_first_write()  # the database is being migrated meanwhile
                    before_first_write = None
                async with db.transaction() as session:
                    linked = await linker.link_batch(session, batch)
                writer.writerows((x.source, x.source_id, x.resident_id) for x in linked)
                report.records += len(batch)
                batch.clear()
                if on_progress is not None:
                    on_progress(fh.buffer.tell() if hasattr(fh, "buffer") else 0, report.records)

            for _, item in read_records(fh):
                if isinstance(item, BadLine):
                    report.bad_lines += 1
                    if on_bad_line is not None:
                        on_bad_line(item)
                    continue
                batch.append(item)
                if len(batch) >= batch_size:
                    await flush()
            if batch:
                await flush()
    finally:
        await db.dispose()
    report.seconds = time.perf_counter() - start
    report.outcomes = linker.outcomes
    return report


def fresh_database(directory: Path, stem: str) -> tuple[str, Callable[[], None]]:
    """A new SQLite database under `directory`: its URL, and `wait()` to call before the
    first write, which returns once the database is migrated.

    Migrating (alembic plus every domain's models) takes about a second. The result is kept
    as a template keyed by the migrations' content, so later runs only copy a file; the
    first run migrates the template in a child process while this one starts reading.
    """
    import hashlib
    import os
    import shutil
    import subprocess
    import sys

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.db"
    n = 1
    while target.exists():
        target = directory / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{n}.db"
        n += 1
    root = Path(__file__).resolve().parents[2] / "migrations"
    digest = hashlib.sha1()
    for f in sorted([root / "env.py", *(root / "versions").glob("*.py")]):
        digest.update(f.name.encode() + f.read_bytes())
    template = directory / f".template-{digest.hexdigest()[:16]}.db"
    url = f"sqlite+aiosqlite:///{target}"
    if template.exists():
        shutil.copyfile(template, target)
        return url, lambda: None
    building = template.with_suffix(f".{os.getpid()}.tmp")
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", "import sys; from hub.migrate import upgrade; upgrade(sys.argv[1])",
         f"sqlite+aiosqlite:///{building}"])  # fmt: skip

    def wait() -> None:
        if child.wait() != 0:
            raise RuntimeError(f"migrating {target} failed")
        os.replace(building, template)
        shutil.copyfile(template, target)

    return url, wait
