"""Reading an office's list: CSV (UTF-8, with or without BOM; GB18030 as sent by older
systems) or XLSX (the first sheet). Row 1 holds the headings; rows are numbered as a
spreadsheet shows them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from hub.errors import InvalidInput


def rows(name: str, data: bytes, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {heading: text}) for every non-empty row after the headings."""
    table = _xlsx(data) if name.lower().endswith((".xlsx", ".xlsm")) else _csv(data)
    try:
        header = [h.strip() for h in next(table)]
    except StopIteration:
        raise InvalidInput("The file is empty.", field="file", code="EMPTY_FILE") from None
    missing = [h for h in required if h not in header]
    if missing:
        raise InvalidInput(f"The heading row lacks {'、'.join(missing)}.", field="file",
                           code="MISSING_COLUMNS")  # fmt: skip
    for n, values in enumerate(table, start=2):
        if not any(v.strip() for v in values):
            continue
        yield n, {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)}


def _csv(data: bytes) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise InvalidInput("The file is neither UTF-8 nor GB18030 text.", code="BAD_ENCODING")
    yield from csv.reader(io.StringIO(text))


def _xlsx(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises several kinds for a file that is not a workbook
        raise InvalidInput("The file is not an XLSX workbook.", field="file",
                           code="BAD_FILE") from None  # fmt: skip
    ws = wb.worksheets[0]
    for row in ws.iter_rows(values_only=True):
        yield ["" if v is None else str(v) for v in row]


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InvalidInput(f"Cannot read {path.name}: {e.strerror}.", field="file",
                           code="FILE_UNREADABLE") from None  # fmt: skip
