"""CSV reading: quoted values come out exactly, whatever the first 8 KiB look like (issue 19)."""

from __future__ import annotations

import csv
import io

import pytest

from shared.email.contacts_file import read_rows
from shared.email.service import import_contacts, list_contacts
from tests.email.conftest import WS

# (the cells as written in the file, the values they hold)
QUOTED = [
    ('"Robert ""Bob"""', 'Robert "Bob"'),
    ('"He said ""hi"", twice"', 'He said "hi", twice'),
    ('"<b>&""Tom"', '<b>&"Tom'),
]
DELIMITERS = [",", ";", "\t"]
NEWLINES = ["\n", "\r\n"]


def _file(delimiter: str, newline: str, filler_rows: int, cell: str) -> bytes:
    header = delimiter.join(["Email", "First", "Last"])
    filler = [delimiter.join([f"p{i}@example.com", f"P{i}", "Plain"]) for i in range(filler_rows)]
    tricky = delimiter.join(["tom@example.com", cell, "After"])
    return newline.join([header, *filler, tricky, ""]).encode()


@pytest.mark.parametrize("delimiter", DELIMITERS, ids=["comma", "semicolon", "tab"])
@pytest.mark.parametrize("newline", NEWLINES, ids=["lf", "crlf"])
@pytest.mark.parametrize(("cell", "value"), QUOTED, ids=["bob", "hi-twice", "tom"])
@pytest.mark.parametrize("filler_rows", [0, 400], ids=["two-rows", "past-8KiB"])
def test_doubled_quotes_are_read_exactly(
    delimiter: str, newline: str, cell: str, value: str, filler_rows: int
) -> None:
    data = _file(delimiter, newline, filler_rows, cell)
    if filler_rows:
        assert data.index(b"tom@example.com") > 8192  # past what the sniffer sees
    rows = list(read_rows(data, "c.csv"))
    assert len(rows) == filler_rows + 2
    number, cells = rows[-1]
    assert number == filler_rows + 2
    assert cells == ["tom@example.com", value, "After"]  # no shifted column
    # What Python's csv module reads with its defaults, for the same file.
    plain = csv.reader(io.StringIO(data.decode(), newline=""), delimiter=delimiter)
    assert list(plain)[-1] == cells


@pytest.mark.parametrize("delimiter", DELIMITERS, ids=["comma", "semicolon", "tab"])
@pytest.mark.parametrize("newline", NEWLINES, ids=["lf", "crlf"])
@pytest.mark.parametrize(("cell", "value"), QUOTED, ids=["bob", "hi-twice", "tom"])
def test_a_two_row_file_with_the_quoted_value_last(
    delimiter: str, newline: str, cell: str, value: str
) -> None:
    data = newline.join([f"Email{delimiter}First", f"tom@example.com{delimiter}{cell}", ""])
    assert [c for _, c in read_rows(data.encode(), "c.csv")] == [
        ["Email", "First"],
        ["tom@example.com", value],
    ]


def test_a_single_column_file_is_read() -> None:
    assert [c for _, c in read_rows(b"Email\r\nann@example.com\r\n", "c.csv")] == [
        ["Email"],
        ["ann@example.com"],
    ]


def test_the_names_are_imported_exactly(runtime) -> None:  # type: ignore[no-untyped-def]
    """The misread names went out in To and Subject: the contact must hold them exactly."""
    header = "Email,First,Last\r\n"
    filler = "".join(f"p{i}@example.com,P{i},Plain\r\n" for i in range(400))
    tricky = "".join(f"t{k}@example.com,{cell},After\r\n" for k, (cell, _) in enumerate(QUOTED))
    mapping = {"email": "Email", "first_name": "First", "last_name": "Last"}
    report = import_contacts(runtime, WS, (header + filler + tricky).encode(), "c.csv", mapping)
    assert report["imported"] == 403
    got = {c["email"]: c for c in list_contacts(runtime, WS, after="t", limit=10)["items"]}
    for k, (_, value) in enumerate(QUOTED):
        assert (got[f"t{k}@example.com"]["first_name"], got[f"t{k}@example.com"]["last_name"]) == (
            value,
            "After",
        )
