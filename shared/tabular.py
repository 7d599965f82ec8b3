"""Read an uploaded CSV or XLSX file into rows of strings, with row numbers a person sees.

Shared by every importer (candidates, contacts): they validate rows themselves and
report rejects as `{"row": N, "reason": "..."}`, where N is the spreadsheet row number
(the header is row 1). openpyxl is imported only for XLSX files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.errors import ValidationError

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000


@dataclass(frozen=True)
class Table:
    headers: list[str]  # normalized: stripped, lower case, spaces -> "_"
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row number, header -> cell text)


def normalize_header(name: str) -> str:
    return "_".join(str(name).strip().lower().replace("-", " ").split())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet exports on some systems are Windows-1252; latin-1 never fails.
        text = data.decode("cp1252", errors="replace")
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(io.StringIO(text), dialect)


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a damaged file
        raise ValidationError(f"the file is not a readable XLSX workbook ({exc})") from exc
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        book.close()


def kind_of(filename: str, content_type: str | None = None) -> str:
    name = filename.lower()
    if name.endswith(".xlsx") or (content_type or "").endswith("spreadsheetml.sheet"):
        return "xlsx"
    if name.endswith((".csv", ".txt", ".tsv")) or (content_type or "").startswith("text/"):
        return "csv"
    raise ValidationError(
        f"unsupported file {filename!r}: upload a .csv or .xlsx file",
        details={"filename": filename},
    )


def read_table(
    data: bytes,
    filename: str,
    *,
    content_type: str | None = None,
    required: tuple[str, ...] = (),
    max_rows: int = MAX_ROWS,
) -> Table:
    """Parse the first sheet (XLSX) or the whole file (CSV); blank rows are skipped."""
    if not data:
        raise ValidationError("the uploaded file is empty")
    if len(data) > MAX_BYTES:
        raise ValidationError(
            f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB", {"bytes": len(data)}
        )
    kind = kind_of(filename, content_type)
    source = _xlsx_rows(data) if kind == "xlsx" else _csv_rows(data)
    headers: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for number, raw in enumerate(source, start=1):
        cells = [_cell(c) for c in raw]
        if headers is None:
            headers = [normalize_header(c) for c in cells]
            if not any(headers):
                raise ValidationError("the first row must name the columns")
            missing = [r for r in required if r not in headers]
            if missing:
                raise ValidationError(
                    f"missing column(s): {', '.join(missing)}",
                    {"missing": missing, "found": [h for h in headers if h]},
                )
            continue
        if not any(cells):
            continue
        if len(rows) >= max_rows:
            raise ValidationError(f"the file has more than {max_rows} rows; split it")
        rows.append(
            (number, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers) if h})
        )
    if headers is None:
        raise ValidationError("the uploaded file has no header row")
    return Table(headers=headers, rows=rows)
