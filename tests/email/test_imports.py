"""Large contact imports: validated in the request, staged in chunks, written by tasks."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from shared.email import import_chunks, imports, service
from shared.email.members import MEMBERS
from shared.email.model import BATCHES, CONTACT_IMPORTS, CONTACTS
from shared.runtime import set_runtime
from tests.email.conftest import MAPPING, WS, campaign, dispatch, start_campaign

ROOT = Path(__file__).resolve().parents[2]


def _generated_csv(n: int) -> bytes:
    """n data rows; every 1,000th is an invalid address, every 1,000th (offset) a duplicate."""
    lines = ["Email,First,Last,TZ,Company"]
    for i in range(n):
        if i % 1000 == 7:
            lines.append(f"not-an-address-{i},X,,,")
        elif i % 1000 == 9:
            lines.append(f"p{i - 1}@example.com,Dup,,,")
        else:
            lines.append(f"p{i}@example.com,P{i},L{i},Europe/Paris,Co{i % 50}")
    return ("\n".join(lines) + "\n").encode()


def _import_client():
    import functions_framework

    source = str(ROOT / "functions" / "import_contacts" / "main.py")
    return functions_framework.create_app(
        "import_contacts", source, signature_type="http"
    ).test_client()


def _run_task(client, task) -> dict:
    response = client.post("/", json=task.payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_100k_row_import_is_staged_in_bounded_memory(runtime, db, enqueuer):
    data = _generated_csv(100_000)
    lst = service.create_contact_list(runtime, WS, "Big")
    tracemalloc.start()
    try:
        result = service.import_contacts(runtime, WS, data, "big.csv", MAPPING, lst["id"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The file itself is 4 MB; 100k contacts held at once would be well over 100 MB.
    print(f"100k-row import staged; tracemalloc peak {peak / 2**20:.1f} MiB")
    assert peak < 32 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert result["status"] == "importing" and result["total_rows"] == 100_000
    assert result["rejected"] == {"invalid address": 100, "duplicate": 100}
    assert result["accepted"] == result["staged"] == 99_800
    tasks = [t for t in enqueuer.of_kind("imports")]
    assert len(tasks) == result["chunks_total"] == 25  # ≤ 4,000 rows each
    assert db.collection(CONTACTS).limit(1).get() == []  # nothing written yet
    progress = service.get_import(runtime, WS, result["import_id"])
    assert (progress["status"], progress["chunks_done"], progress["imported"]) == (
        "importing",
        0,
        0,
    )


def test_background_import_completes_with_duplicate_tasks(runtime, db, enqueuer, monkeypatch):
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")  # the sandbox sink preset
    monkeypatch.setattr(imports, "SYNC_ROWS", 10)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 7)
    data = _generated_csv(30)
    lst = service.create_contact_list(runtime, WS, "Mid")
    result = service.import_contacts(runtime, WS, data, "mid.csv", MAPPING, lst["id"])
    assert result["status"] == "importing" and result["accepted"] == 28
    assert [(r["row"], r["reason"]) for r in result["report"]] == [
        (9, "invalid address"),
        (11, "duplicate"),
    ]
    tasks = [t for t in enqueuer.of_kind("imports")]
    assert len(tasks) == result["chunks_total"] == 4
    # A campaign to the list waits for the import rather than send to a part of it.
    cid = campaign(runtime, lst["id"])
    assert start_campaign(runtime, cid) == []
    set_runtime(runtime)
    try:
        client = _import_client()
        for task in tasks + tasks[:2]:  # every task, two of them delivered twice
            _run_task(client, task)
    finally:
        set_runtime(None)
    progress = service.get_import(runtime, WS, result["import_id"])
    assert (progress["status"], progress["imported"], progress["chunks_done"]) == ("done", 28, 4)
    assert len(list(db.collection(CONTACTS).stream())) == 28
    assert service.get_contact_list(runtime, WS, lst["id"])["contact_count"] == 28
    pages = [d.to_dict() for d in db.collection(MEMBERS).stream()]
    assert sum(p["n"] for p in pages) == 28
    assert db.collection(CONTACT_IMPORTS).document(result["import_id"]).get().get("status") == (
        "done"
    )
    dispatch(runtime)
    batches = [t for t in enqueuer.of_kind("emails") if t.payload.get("campaign_id") == cid]
    assert (
        sum(
            len(db.collection(BATCHES).document(t.payload["batch_id"]).get().get("recipients"))
            for t in batches
        )
        == 28
    )


def test_small_import_stays_synchronous(runtime, enqueuer):
    lst = service.create_contact_list(runtime, WS, "Small")
    result = service.import_contacts(runtime, WS, _generated_csv(20), "s.csv", MAPPING, lst["id"])
    assert (result["status"], result["imported"]) == ("done", 18)
    assert enqueuer.tasks == []
    assert service.get_import(runtime, WS, result["import_id"])["imported"] == 18


@pytest.mark.parametrize("bad_id", ["nope", ""])
def test_unknown_import_is_not_found(runtime, bad_id):
    from shared.errors import NotFound

    with pytest.raises(NotFound):
        service.get_import(runtime, WS, bad_id)


def test_a_chunk_whose_task_was_lost_gets_a_new_one_and_the_import_completes(
    runtime, db, enqueuer, clock, monkeypatch
):
    """A chunk task lost (a queue that gave up, a restarted emulator) would hold the
    import, and every campaign to its list, for IMPORT_WAIT: the dispatcher's recovery
    gives a chunk queued past the grace a new task under a new name."""
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    monkeypatch.setattr(imports, "SYNC_ROWS", 10)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 7)
    lst = service.create_contact_list(runtime, WS, "Lost")
    result = service.import_contacts(runtime, WS, _generated_csv(30), "l.csv", MAPPING, lst["id"])
    first = [t for t in enqueuer.of_kind("imports")]
    assert len(first) == 4
    set_runtime(runtime)
    try:
        client = _import_client()
        for task in first[:2]:  # the other two tasks are lost
            _run_task(client, task)
        dispatch(runtime)  # within the grace: nothing is presumed lost yet
        assert len([t for t in enqueuer.of_kind("imports")]) == 4
        clock.advance(minutes=11)
        dispatch(runtime)
        again = [t for t in enqueuer.of_kind("imports")][4:]
        assert sorted(t.payload["import_chunk"] for t in again) == sorted(
            t.payload["import_chunk"] for t in first[2:]
        )
        assert not {t.task_id for t in again} & {t.task_id for t in first}
        for task in again:
            _run_task(client, task)
    finally:
        set_runtime(None)
    progress = service.get_import(runtime, WS, result["import_id"])
    assert (progress["status"], progress["imported"], progress["chunks_done"]) == ("done", 28, 4)


def test_a_chunk_that_never_gets_written_fails_its_import_with_the_reason(
    runtime, db, enqueuer, clock, monkeypatch
):
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    monkeypatch.setattr(imports, "SYNC_ROWS", 10)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 20)
    lst = service.create_contact_list(runtime, WS, "Doomed")
    result = service.import_contacts(runtime, WS, _generated_csv(30), "d.csv", MAPPING, lst["id"])
    cid = campaign(runtime, lst["id"])
    assert start_campaign(runtime, cid) == []  # waits for the import
    for _ in range(import_chunks.MAX_RECOVERIES + 1):  # every task it is given is lost
        clock.advance(minutes=11)
        dispatch(runtime)
    chunk_tasks = [t for t in enqueuer.of_kind("imports")]
    assert len(chunk_tasks) == 2 * (1 + import_chunks.MAX_RECOVERIES)
    progress = service.get_import(runtime, WS, result["import_id"])
    assert progress["status"] == "failed"
    assert "was not written after 6 tasks" in progress["error"]
    # The campaign no longer waits: it goes to the part of the list that was written.
    dispatch(runtime)
    assert service.get_campaign(runtime, WS, cid)["status"] != "scheduled"
