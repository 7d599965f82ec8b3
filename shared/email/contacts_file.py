"""Streamed readers for contact files: CSV (csv module) and XLSX (openpyxl read-only).

Both yield `(row_number, cells)` one row at a time, so a 100k-row file is never held
as rows in memory; any structural problem becomes a ValidationError naming the row.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from shared.errors import ValidationError

MAX_FILE_BYTES = 40 * 1024 * 1024
MAX_ROWS = 200_000


def file_kind(filename: str) -> str:
    name = filename.lower()
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith((".csv", ".txt")):
        return "csv"
    raise ValidationError(f"unsupported file {filename!r}: upload a .csv or .xlsx file")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _delimiter(data: bytes) -> str:
    """`,`, `;` or tab, as the start of the file suggests (`,` when it cannot tell).

    Only the delimiter is taken from the sniffer: the quoting it guesses from the first
    8 KiB (doublequote off when no `""` shows there) would misread `Robert ""Bob""`
    further down, so quoting stays the csv module's default (RFC 4180: a doubled quote
    inside a quoted field is one quote)."""
    head = data[:8192].decode("utf-8-sig", errors="ignore")
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _csv(data: bytes) -> Iterator[tuple[int, list[str]]]:
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(stream, delimiter=_delimiter(data), strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"the file is not UTF-8 text (near line {reader.line_num + 1}); "
                "save it as CSV UTF-8",
                {"line": reader.line_num + 1},
            ) from exc
        except csv.Error as exc:
            raise ValidationError(
                f"the CSV file is malformed at line {reader.line_num}: {exc}",
                {"line": reader.line_num},
            ) from exc
        yield reader.line_num, [c.strip() for c in row]


def _xlsx(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValidationError(f"the file is not a readable XLSX workbook ({exc})") from exc
    except Exception as exc:  # openpyxl's InvalidFileException and XML parser errors
        raise ValidationError(f"the file is not a readable XLSX workbook ({exc})") from exc
    number = 0
    try:
        if not book.worksheets:
            raise ValidationError("the workbook has no sheet")
        rows = book.worksheets[0].iter_rows(values_only=True)
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # damaged sheet XML surfaces while streaming
                raise ValidationError(
                    f"the XLSX workbook is damaged after row {number}: {exc}", {"row": number}
                ) from exc
            number += 1
            yield number, [_text(v) for v in values]
    finally:
        book.close()


def read_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[str]]]:
    """Rows with the number a person sees in a spreadsheet (the header is row 1)."""
    if not data:
        raise ValidationError("the uploaded file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    kind = file_kind(filename)
    if kind == "csv" and b"\x00" in data:
        # Python's csv accepts NUL; here it means a binary or UTF-16 file, not CSV text.
        raise ValidationError(
            "the CSV file is malformed: it contains NUL bytes (a binary or UTF-16 file?); "
            "save it as CSV UTF-8"
        )
    source = _xlsx(data) if kind == "xlsx" else _csv(data)
    for count, item in enumerate(source):
        if count > MAX_ROWS:
            raise ValidationError(f"the file has more than {MAX_ROWS} rows; split it")
        yield item
