"""Contacts import: CSV and XLSX, mapping, dedupe, validation report, malformed files."""

from __future__ import annotations

import io

import pytest

from shared.email import service
from shared.email.members import MEMBERS
from shared.email.model import CONTACT_IMPORTS, CONTACTS
from shared.email.suppression import suppress
from shared.errors import ValidationError
from tests.email.conftest import MAPPING, WS, csv_bytes


def _count(db, collection):
    return len(list(db.collection(collection).stream()))


def test_csv_import_maps_columns_dedupes_and_reports(runtime, db, clock):
    suppress(db, WS, "Blocked@Example.com", "unsubscribe", clock.now())
    lst = service.create_contact_list(runtime, WS, "Customers")
    data = csv_bytes(
        [
            ("ann@example.com", "Ann", "Lee", "Europe/Paris", "Acme"),
            ("not-an-address", "X", "", "", ""),
            (" ANN@example.com ", "Ann2", "", "", ""),
            ("blocked@example.com", "B", "", "", ""),
            ("bob@example.org", "Bob", "", "Mars/Base", ""),
            ("cy@example.net", "Cy", "", "", "Initech"),
        ]
    )
    report = service.import_contacts(runtime, WS, data, "people.csv", MAPPING, lst["id"])
    assert report["imported"] == 2 and report["total_rows"] == 6
    assert [(r["row"], r["reason"]) for r in report["report"]] == [
        (3, "invalid address"),
        (4, "duplicate"),
        (5, "suppressed"),
        (6, "unknown timezone"),
    ]
    page = service.list_contacts(runtime, WS, list_id=lst["id"])
    by_email = {c["email_norm"]: c for c in page["items"]}
    assert sorted(by_email) == ["ann@example.com", "cy@example.net"]
    ann = service.list_contacts(runtime, WS)["items"][0]
    assert (ann["first_name"], ann["last_name"], ann["timezone"]) == ("Ann", "Lee", "Europe/Paris")
    assert ann["fields"] == {"company": "Acme"}
    assert service.get_contact_list(runtime, WS, lst["id"])["contact_count"] == 2
    # Re-import into a second list: same documents, both lists.
    other = service.create_contact_list(runtime, WS, "Other")
    service.import_contacts(runtime, WS, data, "people.csv", MAPPING, other["id"])
    assert _count(db, CONTACTS) == 2
    got = service.get_contact(runtime, WS, ann["id"])
    assert sorted(got["list_ids"]) == sorted([lst["id"], other["id"]])
    listed = service.list_contacts(runtime, WS, list_id=other["id"])["items"]
    assert sorted(c["email_norm"] for c in listed) == ["ann@example.com", "cy@example.net"]
    members = [d.to_dict() for d in db.collection(MEMBERS).stream()]
    assert sum(m["n"] for m in members if m["list_id"] == lst["id"]) == 2


def test_keyset_paging_over_contacts(runtime):
    rows = [(f"p{i:03d}@example.com", "", "", "", "") for i in range(7)]
    service.import_contacts(runtime, WS, csv_bytes(rows), "p.csv", MAPPING)
    seen, after = [], None
    while True:
        page = service.list_contacts(runtime, WS, after=after, limit=3)
        seen += [c["email"] for c in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == [r[0] for r in rows]


def test_keyset_paging_over_a_list(runtime):
    lst = service.create_contact_list(runtime, WS, "paged")
    rows = [(f"l{i:03d}@example.com", "", "", "", "") for i in range(23)]
    service.import_contacts(runtime, WS, csv_bytes(rows), "p.csv", MAPPING, lst["id"])
    seen, after = [], None
    while True:
        page = service.list_contacts(runtime, WS, list_id=lst["id"], after=after, limit=4)
        seen += [c["email"] for c in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert sorted(seen) == [r[0] for r in rows] and len(seen) == 23


def test_xlsx_import(runtime):
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["E-mail", "Name", "Score"])
    sheet.append(["dee@example.com", "Dee", 12])
    sheet.append(["bad@", "Bad", 1])
    buf = io.BytesIO()
    book.save(buf)
    mapping = {"email": "e-mail", "first_name": "Name", "fields": {"score": "Score"}}
    report = service.import_contacts(runtime, WS, buf.getvalue(), "c.xlsx", mapping)
    assert report["imported"] == 1
    assert report["report"] == [{"row": 3, "reason": "invalid address", "email": "bad@"}]
    [dee] = service.list_contacts(runtime, WS)["items"]
    assert dee["fields"] == {"score": "12"}


GOOD = b"".join(f"ok{i}@example.com,Ok\n".encode() for i in range(5))


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        # Good rows first: none of them may be written when the file breaks later.
        (b"Email,First\n" + GOOD + b'"ann@example.com,Ann\n', "c.csv", "malformed"),
        (b"Email,First\n" + GOOD + b"ann@example.com,A\x00nn\n", "c.csv", "malformed"),
        (b"Email,First\n" + GOOD + b"\xff\xfeann@example.com,Ann\n", "c.csv", "UTF-8"),
        (b"PK\x03\x04 this is not a workbook", "c.xlsx", "XLSX"),
        (b"", "c.csv", "empty"),
        (b"Email\nann@example.com\n", "c.pdf", "unsupported"),
    ],
)
def test_malformed_files_fail_clearly_and_write_nothing(runtime, db, data, filename, message):
    with pytest.raises(ValidationError, match=message):
        service.import_contacts(runtime, WS, data, filename, {"email": "Email"})
    assert _count(db, CONTACTS) == 0 and _count(db, CONTACT_IMPORTS) == 0


def test_truncated_xlsx_fails_clearly(runtime, db):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Email"])
    for i in range(200):
        book.active.append([f"x{i}@example.com"])
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(ValidationError, match="XLSX"):
        service.import_contacts(runtime, WS, buf.getvalue()[:-200], "c.xlsx", {"email": "Email"})
    assert _count(db, CONTACTS) == 0


def test_mapping_errors_name_the_column(runtime):
    with pytest.raises(ValidationError, match="'Mail'"):
        service.import_contacts(runtime, WS, csv_bytes([]), "c.csv", {"email": "Mail"})
    with pytest.raises(ValidationError, match="map a column to email"):
        service.import_contacts(runtime, WS, csv_bytes([]), "c.csv", {})


MEMORY_PROBE = """
import resource, sys
from shared.email.contact_rows import Tally, validate
from tests.email.conftest import MAPPING
rows = "".join(f"user{i}@example.com,U{i},,,\\n" for i in range(100_000))
data = ("Email,First,Last,TZ,Company\\n" + rows).encode()
del rows
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tally = Tally()
count = sum(1 for _ in validate(data, "big.csv", MAPPING, set(), tally))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(count, tally.accepted, after - before)
"""


def test_validation_pass_streams_100k_rows_in_bounded_memory():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    count, accepted, grown_kib = (int(x) for x in out)
    assert count == accepted == 100_000
    # Rows are streamed: growth is the dedupe set of 8-byte digests (a few MiB), where
    # holding the rows as dicts would take well over 50 MiB.
    assert grown_kib < 24 * 1024, grown_kib
