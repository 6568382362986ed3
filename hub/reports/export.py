"""A report as a file: CSV (UTF-8 with BOM, so Excel shows the Chinese headings) or XLSX
(openpyxl: a title row, the Chinese headings, number formats, one sheet per table)."""

from __future__ import annotations

import csv
import io
from typing import Any

from hub.reports.tables import Column, Report, Table

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip
NUMBER_FORMATS = {"int": "#,##0", "share": "0.00%", "money": "#,##0.00", "hours": "0.0"}
STATUS_ZH = {"MET": "达标", "BELOW": "未达标"}


def _cell(column: Column, row: dict[str, Any]) -> Any:
    value = row.get(column.key)
    if column.key == "status" and value is not None:
        return STATUS_ZH.get(value, value)
    return value


def _rows(table: Table) -> list[list[Any]]:
    out = [[_cell(c, r) for c in table.columns] for r in table.rows]
    if table.total is not None:
        out.append([_cell(c, table.total) for c in table.columns])
    return out


def _title(report: Report, table: Table) -> str:
    """The table's title, with the rollup's refresh time when the report came from it."""
    if report.refreshed_at is None:
        return table.title_zh
    return f"{table.title_zh}（数据更新于 {report.refreshed_at:%Y-%m-%d %H:%M} UTC）"


def to_csv(report: Report) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    for i, table in enumerate(report.tables):
        if i:
            w.writerow([])
        w.writerow([_title(report, table)])
        w.writerow([c.heading_zh for c in table.columns])
        w.writerows(_rows(table))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for table in report.tables:
        ws = wb.create_sheet(table.name[:31])
        width = len(table.columns)
        ws.append([_title(report, table)])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        ws["A1"].font = Font(bold=True, size=14)
        ws["A1"].alignment = Alignment(horizontal="center")
        ws.append([c.heading_zh for c in table.columns])
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for values in _rows(table):
            ws.append(values)
        for j, column in enumerate(table.columns, start=1):
            letter = get_column_letter(j)
            ws.column_dimensions[letter].width = 28 if column.kind == "text" else 14
            fmt = NUMBER_FORMATS.get(column.kind)
            if fmt:
                for row in ws.iter_rows(min_row=3, min_col=j, max_col=j):
                    row[0].number_format = fmt
        if table.total is not None:
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
        ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(report: Report, fmt: str) -> bytes:
    return to_xlsx(report) if fmt == "xlsx" else to_csv(report)
