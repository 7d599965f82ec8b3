"""List member pages: one writer per page under concurrent import chunks, bounded sizes,
idempotent chunks, and dispatch reading each member once across splits."""

from __future__ import annotations

import hashlib
import itertools
import threading
from array import array

import pytest

from shared.email import import_chunks, imports, members, service
from shared.email.model import BATCHES, CONTACT_IMPORTS, CONTACTS, email_hash
from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter
from shared.runtime import Runtime
from tests.email.conftest import MAPPING, WS, campaign, csv_bytes, dispatch


def _rows(n: int, tag: str = "m", **extra: str) -> bytes:
    first = extra.get("first", "F")
    return csv_bytes([(f"{tag}{i:05d}@example.com", f"{first}{i}", "", "", "") for i in range(n)])


def _pages(db, list_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    docs = [d.to_dict() for d in db.collection(members.MEMBERS).stream()]
    return sorted((d for d in docs if d["list_id"] == list_id), key=lambda d: d["lo"])


def _check_partition(db, list_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The pages cover the hash space end to end, each entry inside its page; returns
    every entry (a hash appearing twice fails)."""
    pages = _pages(db, list_id)
    assert pages[0]["lo"] == members.LOW and pages[-1]["hi"] == members.END
    entries: dict[str, str] = {}
    for before, after in itertools.pairwise(pages):
        assert before["hi"] == after["lo"]
    for page in pages:
        found = members.unpack(page["members"])
        assert page["n"] == len(found) and page["size"] == len(page["members"])
        assert page["size"] <= members.MAX_BYTES
        for digest, text in found.items():
            assert page["lo"] <= digest < page["hi"] and digest not in entries
            entries[digest] = text
    return entries


def _counting(runtime: Runtime, counter: FirestoreCounter, summed: frozenset[str]) -> Runtime:
    db = counting_client(
        runtime.settings.project_id, CountingInterceptor(counter, documents_switch=lambda: summed)
    )
    return Runtime(
        settings=runtime.settings,
        clock=runtime.clock,
        _db=db,
        _enqueuer=runtime.enqueuer,
        _secrets=runtime.secrets,
    )


def _run_all(runtime: Runtime, tasks: list, at_once: int) -> None:  # type: ignore[type-arg]
    """Run chunk tasks `at_once` at a time, as a queue with that many dispatches would."""
    errors: list[BaseException] = []
    pending = list(tasks)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                task = pending.pop(0)
            try:
                import_chunks.run_chunk(runtime, WS, task.payload["import_chunk"])
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(at_once)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_concurrent_chunks_write_each_page_once(runtime, enqueuer, monkeypatch):
    """The hot-document regression: 10 chunks at once, as the imports queue allows. Each
    member page is written by the one chunk that owns it (plus its making), each contact
    once. The member buckets this replaces took a write from every chunk."""
    monkeypatch.setattr(imports, "SYNC_ROWS", 10)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 40)
    counter = FirestoreCounter()
    counted = _counting(runtime, counter, frozenset({CONTACTS}))
    lst = service.create_contact_list(runtime, WS, "Hot")
    result = service.import_contacts(counted, WS, _rows(400), "h.csv", MAPPING, lst["id"])
    tasks = enqueuer.of_kind("imports")
    assert result["chunks_total"] == len(tasks) == 10
    _run_all(counted, tasks, at_once=10)
    written = counter.documents_snapshot()
    page_writes = {k: v for k, v in written.items() if k.startswith(members.MEMBERS + "/")}
    assert len(page_writes) == 10
    assert max(page_writes.values()) <= 2, page_writes  # made (the split), then merged
    assert counter.snapshot()["writes.contacts"] == 400  # once each
    # Every other document the import wrote: its chunks twice (staged, done), the import
    # record three times (staging, importing, done), however many chunks ran at once.
    hottest = max(written, key=written.__getitem__)
    assert hottest == f"{CONTACT_IMPORTS}/{result['import_id']}" and written[hottest] == 3
    assert {v for k, v in written.items() if k.startswith(import_chunks.CHUNKS)} == {2}
    assert len(_check_partition(counted.db, lst["id"])) == 400
    assert service.get_import(counted, WS, result["import_id"])["status"] == "done"
    assert service.get_contact_list(counted, WS, lst["id"])["contact_count"] == 400


def test_a_chunk_delivered_twice_at_once_writes_the_same_documents(runtime, enqueuer, monkeypatch):
    monkeypatch.setattr(imports, "SYNC_ROWS", 10)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 30)
    lst = service.create_contact_list(runtime, WS, "Twice")
    result = service.import_contacts(runtime, WS, _rows(60), "t.csv", MAPPING, lst["id"])
    tasks = enqueuer.of_kind("imports")
    assert len(tasks) == 2
    _run_all(runtime, [tasks[0], tasks[0], tasks[1], tasks[1], tasks[0]], at_once=4)
    assert len(_check_partition(runtime.db, lst["id"])) == 60
    assert len(list(runtime.db.collection(CONTACTS).stream())) == 60
    progress = service.get_import(runtime, WS, result["import_id"])
    assert (progress["status"], progress["imported"]) == ("done", 60)


def _noise(seed: str, chars: int) -> str:
    """Text that compresses about as badly as real free text does."""
    text = "".join(hashlib.sha256(f"{seed}{k}".encode()).hexdigest() for k in range(chars // 64))
    return text[:chars]


def test_pages_split_by_size_and_stay_under_a_mebibyte(runtime):
    """Fat contacts (ten custom fields of 1,000 characters each): 3 MB of entries, far
    more than one page takes; the pages split by their compressed size."""
    fields = {f"f{k}": f"C{k}" for k in range(10)}
    header = "Email," + ",".join(fields.values())
    rows = [
        f"fat{i:04d}@example.com," + ",".join(_noise(f"{i}-{k}", 1000) for k in range(10))
        for i in range(300)
    ]
    data = ("\n".join([header, *rows]) + "\n").encode()
    lst = service.create_contact_list(runtime, WS, "Fat")
    mapping = {"email": "Email", "fields": fields}
    assert (
        service.import_contacts(runtime, WS, data, "f.csv", mapping, lst["id"])["imported"] == 300
    )
    entries = _check_partition(runtime.db, lst["id"])  # each page's size <= MAX_BYTES
    assert len(entries) == 300
    assert len(members.pack(entries)) > 2 * members.MAX_BYTES  # one page could not hold it
    assert len(_pages(runtime.db, lst["id"])) >= len(members.pack(entries)) // members.MAX_BYTES


def test_a_concurrent_split_makes_a_merge_read_the_layout_again(runtime, monkeypatch):
    """A merge whose page was split after it read the layout (another import) is refused
    by the page's update time and redone against the new pages: nothing lands outside
    its page, nothing is lost."""
    db = runtime.db
    lst = service.create_contact_list(runtime, WS, "Race")["id"]
    first = {email_hash(f"a{i}@example.com"): f'{{"email":"a{i}@example.com"}}' for i in range(50)}
    members.merge(db, WS, lst, first)
    real_layout = members.layout
    calls = []

    def layout_then_split(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = real_layout(*args, **kwargs)
        if not calls:  # between this read and the merge's write, the page is split
            members.split(db, WS, lst, members.LOW, at=["8" + "0" * 31])
        calls.append(found)
        return found

    monkeypatch.setattr(members, "layout", layout_then_split)
    more = {email_hash(f"b{i}@example.com"): f'{{"email":"b{i}@example.com"}}' for i in range(50)}
    members.merge(db, WS, lst, more)
    assert len(calls) == 2  # the stale layout, then the new one
    assert _check_partition(db, lst) == first | more


def test_dispatch_reads_each_member_once_across_splits(runtime):
    db = runtime.db
    lst = service.create_contact_list(runtime, WS, "Cursor")["id"]
    entries = {
        email_hash(f"c{i}@example.com"): f'{{"email":"c{i}@example.com"}}' for i in range(300)
    }
    members.merge(db, WS, lst, entries)
    cuts = sorted(entries)[50::50]
    members.split(db, WS, lst, members.LOW, at=cuts)  # six pages
    reader = members.pages(db, WS, lst)
    seen, cursor = [], None
    for _ in range(2):
        cursor, got = next(reader)
        seen += [m["email"] for m in got]
    # Split a page already read and one not yet read, then go on from the cursor.
    pages = _pages(db, lst)
    members.split(db, WS, lst, pages[0]["lo"], at=[sorted(members.unpack(pages[0]["members"]))[20]])
    members.split(db, WS, lst, pages[4]["lo"], at=[sorted(members.unpack(pages[4]["members"]))[10]])
    seen += [m["email"] for _, got in members.pages(db, WS, lst, cursor) for m in got]
    assert sorted(seen) == sorted(f"c{i}@example.com" for i in range(300))


def test_expanding_a_list_reads_about_one_page_per_thousand_members(runtime, monkeypatch):
    """The send path's cost grows with pages, not members: 3,000 members in 2-3 pages."""
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    lst = service.create_contact_list(runtime, WS, "Big")["id"]
    report = service.import_contacts(runtime, WS, _rows(3000), "b.csv", MAPPING, lst)
    tasks = runtime.enqueuer.of_kind("imports")  # type: ignore[attr-defined]
    _run_all(runtime, tasks, at_once=3)
    assert service.get_import(runtime, WS, report["import_id"])["status"] == "done"
    cid = campaign(runtime, lst)
    service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    counter = FirestoreCounter()
    dispatch(_counting(runtime, counter, frozenset()))
    assert service.get_campaign(runtime, WS, cid)["total"] == 3000
    page_reads = len(_pages(runtime.db, lst))
    assert page_reads <= 3
    # The pages plus the dispatcher's own reads, whatever the list's size (campaigns,
    # the shared quota's transactions, claims, settings, the import check): 16 here.
    assert counter.reads <= page_reads + 20, counter.snapshot()


def test_a_reimport_updates_members_in_place(runtime, monkeypatch):
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    lst = service.create_contact_list(runtime, WS, "Again")["id"]
    service.import_contacts(runtime, WS, _rows(30), "a.csv", MAPPING, lst)
    service.import_contacts(runtime, WS, _rows(30, first="New"), "a.csv", MAPPING, lst)
    entries = _check_partition(runtime.db, lst)
    assert len(entries) == 30 and all('"first_name":"New' in t for t in entries.values())
    assert service.get_contact_list(runtime, WS, lst)["contact_count"] == 30
    cid = campaign(runtime, lst)
    service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    dispatch(runtime)
    recipients = [r for b in runtime.db.collection(BATCHES).stream() for r in b.get("recipients")]
    assert sorted(r["first_name"] for r in recipients) == sorted(f"New{i}" for i in range(30))


def test_contact_updates_and_removals_reach_the_pages(runtime, monkeypatch):
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    one = service.create_contact_list(runtime, WS, "One")["id"]
    two = service.create_contact_list(runtime, WS, "Two")["id"]
    for lst in (one, two):
        service.import_contacts(runtime, WS, _rows(5), "u.csv", MAPPING, lst)
    cid_of = {c["email"]: c["id"] for c in service.list_contacts(runtime, WS)["items"]}
    ann = cid_of["m00001@example.com"]
    updated = service.update_contact(
        runtime, WS, ann, {"first_name": "Annie", "fields": {"company": "Initech"}}
    )
    assert updated["first_name"] == "Annie" and updated["fields"]["company"] == "Initech"
    service.remove_from_list(runtime, WS, one, cid_of["m00002@example.com"])
    for lst, count in ((one, 4), (two, 5)):
        entries = _check_partition(runtime.db, lst)
        assert len(entries) == count
        assert '"first_name":"Annie"' in entries[ann.partition("__")[2]]
        assert service.get_contact_list(runtime, WS, lst)["contact_count"] == count
    listed = service.list_contacts(runtime, WS, list_id=one)["items"]
    assert "m00002@example.com" not in [c["email"] for c in listed]
    cid = campaign(runtime, one)
    service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    dispatch(runtime)
    recipients = {
        r["email"]: r for b in runtime.db.collection(BATCHES).stream() for r in b.get("recipients")
    }
    assert sorted(recipients) == [f"m{i:05d}@example.com" for i in (0, 1, 3, 4)]
    assert recipients["m00001@example.com"]["first_name"] == "Annie"
    assert recipients["m00001@example.com"]["fields"] == {"company": "Initech"}


def test_a_list_made_before_pages_gets_its_first_page_on_import(runtime):
    lst = service.create_contact_list(runtime, WS, "Old")["id"]
    runtime.db.collection(members.MEMBERS).document(members.page_id(lst, members.LOW)).delete()
    assert service.import_contacts(runtime, WS, _rows(3), "o.csv", MAPPING, lst)["imported"] == 3
    assert len(_check_partition(runtime.db, lst)) == 3


def test_a_list_made_before_pages_takes_a_contact_edit_and_removal(runtime, monkeypatch):
    """A contact of such a list edited or taken out of it: the list gets its first page
    (this answered 500, "no member page")."""
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    lst = service.create_contact_list(runtime, WS, "Older")["id"]
    service.import_contacts(runtime, WS, _rows(2, tag="old"), "o.csv", MAPPING, lst)
    for page in _pages(runtime.db, lst):  # as before member pages existed
        runtime.db.collection(members.MEMBERS).document(members.page_id(lst, page["lo"])).delete()
    ids = {c["email"]: c["id"] for c in service.list_contacts(runtime, WS, list_id=lst)["items"]}
    service.update_contact(runtime, WS, ids["old00000@example.com"], {"first_name": "Ada"})
    service.remove_from_list(runtime, WS, lst, ids["old00001@example.com"])
    entries = _check_partition(runtime.db, lst)
    assert len(entries) == 1 and '"first_name":"Ada"' in next(iter(entries.values()))


def _page(lo: str, hi: str) -> members.Page:
    return members.Page(None, lo, hi, 0, 0, None)


@pytest.mark.parametrize("per_chunk", [1, 3, 10])
def test_plan_cuts_chunks_along_whole_pages(per_chunk: int) -> None:
    layout = [_page(members.LOW, "4" + "0" * 31), _page("4" + "0" * 31, members.END)]
    positions = array("Q", sorted([1 << 60, 2 << 60, 3 << 60, 5 << 60, 6 << 60, 7 << 60, 9 << 60]))
    splits, chunks = imports.plan(layout, positions, per_chunk)
    bounds = {members.LOW, "4" + "0" * 31, members.END} | {c for cs in splits.values() for c in cs}
    assert chunks[0][0] == members.LOW and chunks[-1][1] == members.END
    for (_, hi), (lo, _) in itertools.pairwise(chunks):
        assert hi == lo and hi in bounds  # chunks meet at page boundaries
    for lo, hi in chunks:
        inside = [p for p in positions if imports._position(lo) <= p < imports._position(hi)]
        assert len(inside) <= per_chunk
    if per_chunk == 10:
        assert splits == {} and len(chunks) == 1


class Killed(BaseException):
    """The worker process dying: nothing after it runs, in any thread of the chunk."""


def test_a_worker_killed_midway_loses_and_duplicates_no_contact(runtime, clock, monkeypatch):
    """A chunk's worker dies after some of its contact commits and some of its page
    merges landed; its task is lost with it. The dispatcher's recovery gives the chunk a
    new task, whose run finishes it: every contact once, in one page, counted once."""
    from shared import firestore_writes as fw

    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    monkeypatch.setattr(imports, "SYNC_ROWS", 10)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 40)
    lst = service.create_contact_list(runtime, WS, "Killed")["id"]
    service.import_contacts(runtime, WS, _rows(400, tag="a"), "a.csv", MAPPING, lst)
    _run_all(runtime, runtime.enqueuer.of_kind("imports"), at_once=4)  # type: ignore[attr-defined]
    assert len(_pages(runtime.db, lst)) == 10
    # One chunk over all ten pages: 300 new contacts and 100 already there.
    monkeypatch.setattr(imports, "CHUNK_ROWS", 1000)
    data = _rows(300, tag="k") + _rows(100, tag="a").split(b"\n", 1)[1]
    result = service.import_contacts(runtime, WS, data, "k.csv", MAPPING, lst)
    tasks = runtime.enqueuer.of_kind("imports")[10:]  # type: ignore[attr-defined]
    assert result["chunks_total"] == len(tasks) == 1
    monkeypatch.setattr(fw, "MAX_WRITES", 50)  # eight contact commits
    real_commit, real_rewrite = fw.commit, members.rewrite
    done = {"commits": 0, "pages": 0}
    lock = threading.Lock()

    def commit_then_die(db, writes):  # type: ignore[no-untyped-def]
        with lock:
            if done["commits"] >= 3:  # three commits landed (creates that met an
                raise Killed  # existing contact failed whole and do not count)
        result = real_commit(db, writes)
        with lock:
            done["commits"] += 1
        return result

    def rewrite_then_die(*args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            if done["pages"] >= 4:  # four of the ten pages merged
                raise Killed
        result = real_rewrite(*args, **kwargs)
        with lock:
            done["pages"] += 1
        return result

    monkeypatch.setattr(fw, "commit", commit_then_die)
    monkeypatch.setattr(members, "rewrite", rewrite_then_die)
    with pytest.raises(Killed):
        import_chunks.run_chunk(runtime, WS, tasks[0].payload["import_chunk"])
    monkeypatch.setattr(fw, "commit", real_commit)
    monkeypatch.setattr(members, "rewrite", real_rewrite)
    written = len(list(runtime.db.collection(CONTACTS).stream()))
    assert 400 < written < 700  # some of the chunk's contacts landed, not all
    assert 400 < len(_check_partition(runtime.db, lst)) < 700  # and some of its pages
    assert service.get_import(runtime, WS, result["import_id"])["status"] == "importing"

    clock.advance(minutes=11)  # the task died with the worker: recovery gives a new one
    dispatch(runtime)
    again = runtime.enqueuer.of_kind("imports")[11:]  # type: ignore[attr-defined]
    assert [t.payload["import_chunk"] for t in again] == [tasks[0].payload["import_chunk"]]
    _run_all(runtime, again, at_once=1)

    entries = _check_partition(runtime.db, lst)  # each hash in one page only
    expected = {email_hash(f"a{i:05d}@example.com") for i in range(400)}
    expected |= {email_hash(f"k{i:05d}@example.com") for i in range(300)}
    assert set(entries) == expected
    contacts = [d.to_dict() for d in runtime.db.collection(CONTACTS).stream()]
    assert len(contacts) == 700 and all(c["list_ids"] == [lst] for c in contacts)
    progress = service.get_import(runtime, WS, result["import_id"])
    assert (progress["status"], progress["imported"], progress["chunks_done"]) == ("done", 400, 1)
    assert service.get_contact_list(runtime, WS, lst)["contact_count"] == 700
