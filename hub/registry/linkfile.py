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

BATCH_SIZE = 4000


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


@dataclass(slots=True)
class Chunk:
    """A batch read from the file: records made ready for linking, and bad lines."""

    prepared: list[Any]  # hub.registry.bulk.Prepared
    bad: list[BadLine]
    position: int  # bytes read so far


def _sizes(batch_size: int) -> Iterator[int]:
    """Batch sizes: small at first, so linking starts while the reader is still warming up
    (a pipeline is only as fast as its first stage fills it), then `batch_size`."""
    size = min(500, batch_size)
    while True:
        yield size
        size = min(size * 2, batch_size)


def read_chunks(path: Path, batch_size: int) -> Iterator[Chunk]:
    from hub.registry.prepare import prepare

    sizes = _sizes(batch_size)
    with open(path, "rb") as raw, open(raw.fileno(), encoding="utf-8-sig", closefd=False) as fh:
        prepared: list[Any] = []
        bad: list[BadLine] = []
        size = next(sizes)
        for _, item in read_records(fh):
            if isinstance(item, BadLine):
                bad.append(item)
                continue
            prepared.append(prepare(*item))
            if len(prepared) >= size:
                yield Chunk(prepared, bad, raw.tell())
                prepared, bad, size = [], [], next(sizes)
        yield Chunk(prepared, bad, raw.tell())


def _reader_process(path: Path, batch_size: int, conn: Any) -> None:
    """Runs in a forked child: reads and prepares batches (parsing, validation, features:
    ~40% of the work) on the second core while the parent links the previous batch."""
    import pickle

    try:
        for chunk in read_chunks(path, batch_size):
            conn.send_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
        conn.send_bytes(b"")
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        conn.send_bytes(pickle.dumps(RuntimeError(f"reading {path}: {e!r}")))
    finally:
        conn.close()


class ChunkReader:
    """Prepared batches of a file, in order. With `parallel`, a forked child reads and
    prepares them; start it before importing the database layer, so that the child works
    while the parent starts up. A pipe holds a batch or two: memory stays bounded."""

    def __init__(self, path: Path, batch_size: int, *, parallel: bool = True) -> None:
        import multiprocessing

        self.path, self.batch_size = path, batch_size
        self.child: Any = None
        self.receive: Any = None
        if parallel and "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            self.receive, send = ctx.Pipe(duplex=False)
            self.child = ctx.Process(target=_reader_process, args=(path, batch_size, send),
                                     daemon=True)  # fmt: skip
            self.child.start()
            send.close()

    def __iter__(self) -> Iterator[Chunk]:
        import pickle

        if self.child is None:
            yield from read_chunks(self.path, self.batch_size)
            return
        while data := self.receive.recv_bytes():
            item = pickle.loads(data)
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        if self.child is not None:
            self.receive.close()
            self.child.join(timeout=5)
            if self.child.is_alive():
                self.child.terminate()
            self.child = None


async def link_file(
    path: Path,
    out: Path,
    database_url: str,
    *,
    batch_size: int = BATCH_SIZE,
    on_bad_line: Callable[[BadLine], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    before_first_write: Callable[[], None] | None = None,
    parallel: bool = True,
    fresh: bool = False,
    settings: Any = None,
) -> LinkReport:
    """Link every record of `path` into the database; write source,source_id,person_id.

    on_progress(bytes read, records linked) after each batch. fresh: the database was
    created for this run (SQLite then skips the disk syncs: a crash loses only the run)."""
    start = time.perf_counter()
    reader = ChunkReader(path, batch_size, parallel=parallel)  # before the heavy imports
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
    from hub.tuning import settle_gc

    settle_gc(settings.gc_threshold)
    db = Database(database_url)
    if db.is_sqlite:
        tune_sqlite(db, durable=not fresh)
    try:
        with open(out, "w", newline="", encoding="utf-8") as fo:
            writer = csv.writer(fo)
            writer.writerow(["source", "source_id", "person_id"])
            for chunk in reader:
                for line in chunk.bad:
                    report.bad_lines += 1
                    if on_bad_line is not None:
                        on_bad_line(line)
                if not chunk.prepared:
                    continue
                if before_first_write is not None:
                    before_first_write()  # the database was being migrated meanwhile
                    before_first_write = None
                async with db.transaction() as session:
                    linked = await linker.link_prepared(session, chunk.prepared)
                writer.writerows((x.source, x.source_id, x.resident_id) for x in linked)
                report.records += len(linked)
                if on_progress is not None:
                    on_progress(chunk.position, report.records)
        if before_first_write is not None:
            before_first_write()  # nothing linked: still leave a usable database
    finally:
        reader.close()
        await db.dispose()
    report.seconds = time.perf_counter() - start
    report.outcomes = linker.outcomes
    return report


def tune_sqlite(db: Any, *, durable: bool = True) -> None:
    """A bulk run reads and extends large indexes (blocking keys) at random places: give
    SQLite a bigger page cache and memory-mapped reads, so that the cost per record stays
    flat as the registry grows. Bounded: 64 MB of cache, 256 MB mapped, whatever the size."""
    from sqlalchemy import event

    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA mmap_size=268435456")
        cur.execute("PRAGMA temp_store=MEMORY")
        # Checkpoint the write-ahead log every ~64 MB instead of every 4 MB: each batch
        # touches pages all over the key index, and checkpoints were most of a commit.
        cur.execute("PRAGMA wal_autocheckpoint=16384")
        if not durable:
            cur.execute("PRAGMA synchronous=OFF")
        cur.close()

    event.listen(db.engine.sync_engine, "connect", pragmas)


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
