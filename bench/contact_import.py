"""Contact import at scale, end to end: a CSV of 100,000 rows uploaded to the api function
over HTTP (multipart, as the admin page sends it), validated and staged there, its chunks
written by the import tasks through the Cloud Tasks emulator; timed from the upload until
the import reads `done`. Then a campaign to the imported list is expanded by the
dispatcher in-process (counting client) for the reads it takes per 1,000 members.

While the import runs, the stack's function processes count writes per document
(shared.firestore_stats): the most any one document received is the hot-document figure.
Contacts are counted per collection (100,000 of them), and must be written once each.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import FunctionCounts, stack_runtime
from bench.report import Figure, Reporter
from local.stack import Stack
from shared.firestore_stats import DOCUMENTS_SWITCH, FirestoreCounter, read_totals

ROWS = 100_000
# The quick run imports a fifth: 100,000 rows and their expansion would take most of its
# three minutes on a busy machine.
QUICK_ROWS = 20_000
# An untimed import first: the emulator is a JVM that keeps compiling its hot paths
# through its first tens of thousands of writes (a create took ~140 µs of its CPU at
# first, ~60 once warm; Cloud Firestore has no such warm-up).
WARM_UP_ROWS = 20_000
QUICK_WARM_UP_ROWS = 6_000
PASSWORD = "bench import password"  # noqa: S105 - a throwaway user of the bench's own stack


def make_csv(rows: int, tag: str) -> tuple[bytes, int]:
    """A contacts file like a CRM export: quoted names with commas and doubled quotes,
    custom columns; every 1,000th row an invalid address, every 1,000th (offset) a
    duplicate. Returns the file and how many rows are valid and first-seen."""
    lines = ['Email,First name,Last name,Timezone,Company,"Notes, free text"']
    accepted = 0
    for i in range(rows):
        if i % 1000 == 7:
            lines.append(f"not-an-address-{i},X,,,,")
        elif i % 1000 == 9:
            lines.append(f"imp-{tag}-{i - 1}@example.com,Dup,,,,")
        else:
            accepted += 1
            lines.append(
                f'imp-{tag}-{i}@example.com,P{i},"O\'Neil, {i}",Europe/Paris,'
                f'Co{i % 97},"Met at ""Expo {i % 12}"", booth {i % 40}"'
            )
    return ("\r\n".join(lines) + "\r\n").encode(), accepted


class Api:
    """The stack's api function over HTTP, signed in as a new owner of a new workspace."""

    def __init__(self, stack: Stack) -> None:
        import requests

        from shared import tenancy

        runtime = stack_runtime(stack, FirestoreCounter())
        username = f"bench{uuid.uuid4().hex[:8]}"
        now = runtime.clock.now()
        user_id = tenancy.create_user(runtime.db, username, PASSWORD, now)
        self.ws = tenancy.create_workspace(runtime.db, "Import bench", user_id, now)
        self.base = stack.url("api") + "/api/v1"
        self.http = requests.Session()
        self.http.headers["Origin"] = stack.admin_url
        token = self.call("POST", "/auth/login", json={"username": username, "password": PASSWORD})
        self.http.headers["Authorization"] = f"Bearer {token['token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, self.base + path, timeout=600, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time (user + system) each of the stack's services has used so far, with the
    processes it started (functions-framework serves from a child): the part of the
    import's cost that a busy machine does not inflate the way it does wall time."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parent[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    out = {}
    for service in stack.services:
        tree, frontier = {service.process.pid}, [service.process.pid]
        while frontier:
            children = [pid for pid, ppid in parent.items() if ppid in frontier]
            frontier = [pid for pid in children if pid not in tree]
            tree.update(frontier)
        out[service.name] = sum(used.get(pid, 0.0) for pid in tree)
    return out


def _documents(stats_dir: Path, before: dict[str, int]) -> dict[str, int]:
    """Writes per document since `before`, summed over the function processes."""
    now = read_totals(stats_dir, "*.docs.json")
    return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0) > 0}


def import_through_stack(
    stack: Stack, stats_dir: Path, rows: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Uploads `rows` rows; waits for the import. Returns (figures, the list and import)."""
    api = Api(stack)
    tag = uuid.uuid4().hex[:6]
    data, accepted = make_csv(rows, tag)
    lst = api.call("POST", f"/workspaces/{api.ws}/lists", json={"name": "bench import"})
    mapping = {
        "email": "Email",
        "first_name": "First name",
        "last_name": "Last name",
        "timezone": "Timezone",
        "fields": {"company": "Company", "notes": "Notes, free text"},
    }
    switch = stats_dir / DOCUMENTS_SWITCH
    switch.write_text("contacts")
    try:
        docs_before = read_totals(stats_dir, "*.docs.json")
        functions = FunctionCounts(stats_dir)
        cpu_before = cpu_seconds(stack)
        started = time.perf_counter()
        answer = api.call(
            "POST",
            f"/workspaces/{api.ws}/lists/{lst['id']}/import",
            files={"file": ("contacts.csv", data, "text/csv")},
            data={"mapping": json.dumps(mapping)},
        )
        answered = time.perf_counter() - started
        state = answer
        deadline = time.monotonic() + 1800
        while state.get("status") not in ("done", "failed", "partial"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the import did not finish: {state}")
            time.sleep(0.5)  # each look is a read and an aggregation: not too often
            state = api.call("GET", f"/workspaces/{api.ws}/imports/{answer['import_id']}")
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(stack)
        counts = functions.delta()
        per_document = _documents(stats_dir, docs_before)
    finally:
        switch.unlink(missing_ok=True)
    if state.get("status") != "done" or state.get("imported") != accepted:
        raise RuntimeError(f"the import ended {state.get('status')}: {state}")
    hottest = max(per_document.items(), key=lambda kv: kv[1], default=("", 0))
    figures = {
        "rows": rows,
        "accepted": accepted,
        "seconds": elapsed,
        "answered_s": answered,
        "reads": counts.get("reads", 0),
        "writes": counts.get("writes", 0),
        "contact_writes": counts.get("writes.contacts", 0),
        "hottest": hottest,
        "documents": len(per_document),
        "cpu_s": {
            k: round(v - cpu_before.get(k, 0.0), 2)
            for k, v in cpu_after.items()
            if v - cpu_before.get(k, 0.0) >= 0.05
        },
        "load": os.getloadavg()[0],
    }
    return figures, {"ws": api.ws, "list_id": lst["id"], "import_id": answer["import_id"]}


def expansion_reads(stack: Stack, ws: str, list_id: str) -> dict[str, float]:
    """A campaign to the list expanded by the dispatcher in-process: reads it took."""
    from shared.dispatch import DispatchContext
    from shared.email import service
    from shared.email.dispatch import EmailSource
    from shared.tasks import RecordingEnqueuer

    os.environ["HERALD_LOCAL_SMTP"] = stack.env()["HERALD_LOCAL_SMTP"]  # the sandbox sink
    counter = FirestoreCounter()
    runtime = stack_runtime(stack, counter)
    runtime._enqueuer = RecordingEnqueuer()  # tasks are counted, not delivered
    campaign = service.create_campaign(
        runtime,
        ws,
        {"name": "expand", "subject": "Hi", "html": "<p>{{ first_name }}</p>", "list_id": list_id},
    )
    service.schedule_campaign(runtime, ws, campaign["id"], runtime.clock.now().isoformat())
    source = EmailSource()
    reads = 0
    started = time.perf_counter()
    for _ in range(20):
        now = runtime.clock.now()
        ctx = DispatchContext(runtime=runtime, now=now, horizon=now + timedelta(seconds=90))
        before = counter.reads
        source.run(ctx)
        reads += counter.reads - before  # the dispatcher's reads, not this loop's checks
        if service.get_campaign(runtime, ws, campaign["id"]).get("expanded"):
            break
    seconds = time.perf_counter() - started
    done = service.get_campaign(runtime, ws, campaign["id"])
    return {
        "reads": reads,
        "recipients": int(done.get("total") or 0),
        "seconds": seconds,
        "expanded": bool(done.get("expanded")),
    }


def _chunk_phases(stack: Stack, import_id: str) -> str:
    """Median milliseconds per chunk phase (read, write, settle) from import_contacts'
    log. Chunks run up to the queue's 10 at once, so their times overlap: these are the
    cost of one chunk, not a share of the import's wall time."""
    rows = []
    log = stack.config.data_dir / "logs" / "import_contacts.log"
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == "import chunk written" and str(entry.get("chunk_id")).startswith(
            import_id
        ):
            rows.append(entry["timing_ms"])
    if not rows:
        return "no chunk logged"
    each = ", ".join(
        f"{p} {statistics.median(t[p] for t in rows):.0f}" for p in ("read", "write", "settle")
    )
    return f"{each} (median ms of {len(rows)} chunks)"


def run(reporter: Reporter, stack: Stack, quick: bool, context: dict[str, Any]) -> None:
    rows = QUICK_ROWS if quick else ROWS
    import_through_stack(stack, context["stats_dir"], QUICK_WARM_UP_ROWS if quick else WARM_UP_ROWS)
    got, made = import_through_stack(stack, context["stats_dir"], rows)
    rate = got["rows"] / got["seconds"]
    cpu = sum(got["cpu_s"].values())
    reporter.add(
        Figure(
            "contact_import_rows_per_s",
            rate,
            "rows/s",
            note=f"{got['rows']:,} rows ({got['accepted']:,} accepted) uploaded → done in "
            f"{got['seconds']:.1f} s (the upload answered after {got['answered_s']:.1f} s; "
            f"load average {got['load']:.1f} on {os.cpu_count()} cores); "
            "goal ≥ 5,000; listmonk ≈ 10,000",
        )
    )
    reporter.add(
        Figure(
            "contact_import_rows_per_cpu_s",
            got["rows"] / cpu,
            "rows/s",
            note="rows per CPU-second of the stack's processes: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(got["cpu_s"].items())),
        )
    )
    name, most = got["hottest"]
    once = got["contact_writes"] == got["accepted"]
    reporter.add(
        Figure(
            "contact_import_max_writes_per_doc",
            most,
            "writes",
            note=f"{name.rpartition('/')[0] or '-'} ({got['documents']} documents counted); "
            f"contacts {'written once each' if once else 'written ' + str(got['contact_writes'])}",
        )
    )
    reporter.add(Figure("contact_import_writes_per_row", got["writes"] / got["accepted"], "writes"))
    reporter.add(Figure("contact_import_reads_per_row", got["reads"] / got["accepted"], "reads"))
    expand = expansion_reads(stack, made["ws"], made["list_id"])
    per_thousand = 1000 * expand["reads"] / max(1, expand["recipients"])
    reporter.add(
        Figure(
            "dispatch_expand_reads_per_1000_members",
            per_thousand,
            "reads",
            note=f"{expand['recipients']:,} members expanded in {expand['seconds']:.1f} s"
            + ("" if expand["expanded"] else " (NOT fully expanded)"),
        )
    )
    print(
        f"# contact_import: {json.dumps({k: v for k, v in got.items() if k != 'hottest'})}; "
        f"hottest {got['hottest']}; expansion {expand}",
        file=sys.stderr,
    )
    print(f"# import chunks: {_chunk_phases(stack, made['import_id'])}", file=sys.stderr)
    context["results"]["contact_import_rows_per_s"] = rate
