"""Email throughput: a campaign to N recipients through the local stack (scheduler loop
→ dispatch → Cloud Tasks emulator → send_email → SMTP sink), against a plain smtplib
loop sending the same rendered messages into the same sink over the same number of
connections (one per batch of 50). Firestore reads/writes per delivered email on the
send path are counted in the function processes."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import smtplib
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from bench.common import FunctionCounts, scheduler_loop, stack_runtime
from bench.report import Figure, Reporter
from local.stack import Stack
from shared.firestore_stats import FirestoreCounter


def _delivered(mail_dir: Path, tag: str) -> list[Path]:
    return sorted(mail_dir.glob(f"*-bench-{tag}-*.eml"))


def baseline(messages: list[bytes], host: str, port: int, per_connection: int) -> float:
    """A plain smtplib loop: same messages, same number of connections. Returns seconds.

    Envelopes are read from the messages before the clock starts: the loop times only
    what an SMTP client must do.
    """
    envelopes = []
    for raw in messages:
        msg = message_from_bytes(raw, policy=default_policy)
        envelopes.append((str(msg["From"]), "baseline-" + str(msg["To"]), raw))
    started = time.perf_counter()
    for i in range(0, len(envelopes), per_connection):
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            for sender, rcpt, raw in envelopes[i : i + per_connection]:
                smtp.sendmail(sender, [rcpt], raw)
    return time.perf_counter() - started


def _timeline(mtimes: list[float], per_batch: int) -> str:
    """Where Herald's time went, from the sink's file times: the gaps between batches
    (taken as the largest len/per_batch - 1 gaps) against the time inside batches, and
    the rate in each fifth of the run (a slow start shows the expansion competing)."""
    if len(mtimes) < 2 * per_batch:
        return "too few messages"
    gaps = sorted((b - a for a, b in itertools.pairwise(mtimes)), reverse=True)
    boundaries = len(mtimes) // per_batch - 1
    between, inside = sum(gaps[:boundaries]), sum(gaps[boundaries:])
    span = mtimes[-1] - mtimes[0]
    fifths = []
    for k in range(5):
        lo, hi = mtimes[0] + span * k / 5, mtimes[0] + span * (k + 1) / 5
        fifths.append(sum(1 for t in mtimes if lo <= t < hi) / (hi - lo))
    return (
        f"between batches {1000 * between / max(1, boundaries):.1f} ms each "
        f"({100 * between / span:.0f}% of the run), inside a batch "
        f"{1000 * inside / (boundaries + 1):.1f} ms; emails/s by fifth: "
        + ", ".join(f"{r:.0f}" for r in fifths)
    )


def _log_entries(log_file: Path) -> list[dict[str, Any]]:
    """A function's JSON log lines, parsed (lines that are not JSON are skipped)."""
    entries = []
    for line in log_file.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entries.append(json.loads(line))
    return entries


def _at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["time"]).timestamp()


def _phases(entries: list[dict[str, Any]], campaign_id: str) -> str:
    """Median milliseconds per batch phase, from the worker's "batch finished" lines, and
    the time between one batch's end and the next one's start (HTTP, task queue)."""
    rows = [
        (_at(e), e["timing_ms"])
        for e in entries
        if e.get("message") == "batch finished"
        and e.get("timing_ms")
        and str(e.get("batch_id")).startswith(campaign_id + "__")
    ]
    rows.sort(key=lambda row: row[0])
    if len(rows) < 2:
        return "no timings logged"
    phases = ("read", "prepare", "smtp", "commit")
    med = {p: statistics.median(t.get(p, 0.0) for _, t in rows) for p in phases}
    # A batch's start is its log time less its phases; the gap is from the previous end.
    gaps = [
        1000 * (end - prev_end) - sum(t.get(p, 0.0) for p in phases)
        for (prev_end, _), (end, t) in itertools.pairwise(rows)
    ]
    each = ", ".join(f"{p} {med[p]:.1f}" for p in phases)
    between = statistics.median(gaps)
    return f"{each}, between tasks {between:.1f} (median ms per batch of {len(rows)})"


def run(reporter: Reporter, stack: Stack, quick: bool, context: dict[str, Any]) -> None:
    from shared.email import service

    recipients = 1_000 if quick else 20_000
    os.environ["HERALD_LOCAL_SMTP"] = stack.env()["HERALD_LOCAL_SMTP"]
    counter = FirestoreCounter()
    runtime = stack_runtime(stack, counter)
    ws = f"bench-email-{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:6]
    lst = service.create_contact_list(runtime, ws, "bench")
    csv = "Email,First\n" + "".join(
        f"bench-{tag}-{i}@example.com,P{i}\n" for i in range(recipients)
    )
    import_started = time.perf_counter()
    imported = service.import_contacts(
        runtime,
        ws,
        csv.encode(),
        "bench.csv",
        {"email": "Email", "first_name": "First"},
        lst["id"],
    )
    # Large files import in the background (chunk tasks through the stack): wait for it,
    # so the import is timed whole and the send is measured on its own.
    if imported.get("import_id") and imported.get("status") not in ("done", None):
        import_deadline = time.monotonic() + 900
        while time.monotonic() < import_deadline:
            state = service.get_import(runtime, ws, imported["import_id"])
            if state.get("status") in ("done", "failed"):
                break
            time.sleep(0.5)
    import_s = time.perf_counter() - import_started
    campaign = service.create_campaign(
        runtime,
        ws,
        {
            "name": "bench",
            "subject": "Hello {{ first_name }}",
            "html": "<h1>Hi {{ first_name }}</h1><p>Our news this week, in a few lines of text "
            "that look like a real newsletter.</p>" * 3,
            "list_id": lst["id"],
        },
    )
    functions = FunctionCounts(context["stats_dir"])
    tick_s = 2.0 if quick else 10.0
    service.schedule_campaign(
        runtime, ws, campaign["id"], (runtime.clock.now() + timedelta(seconds=2)).isoformat()
    )
    deadline = time.monotonic() + (120 if quick else 900)
    progress: dict[str, Any] = {}
    with scheduler_loop(stack, tick_s):
        while time.monotonic() < deadline:
            progress = service.campaign_progress(runtime, ws, campaign["id"])
            if progress.get("status") in ("done", "cancelled") or (
                progress.get("total")
                and progress.get("pending") == 0
                and progress.get("deferred") == 0
            ):
                break
            time.sleep(1.0)
    time.sleep(1.0)
    worker = functions.delta()
    files = _delivered(stack.mail_dir, tag)
    mtimes = sorted(p.stat().st_mtime for p in files)
    herald_s = mtimes[-1] - mtimes[0] if len(mtimes) > 1 else float("nan")
    sent = len(files)
    per_connection = runtime.settings.email_batch_size
    base_s = baseline(
        [p.read_bytes() for p in files], "127.0.0.1", stack.config.ports.smtp, per_connection
    )
    herald_rate = (sent - 1) / herald_s
    base_rate = sent / base_s
    reporter.add(
        Figure(
            "email_throughput_ratio",
            herald_rate / base_rate,
            "x",
            baseline=base_rate,
            ratio=herald_rate / base_rate,
            note=f"{sent}/{recipients} delivered; herald {herald_rate:.0f}/s vs "
            f"smtplib {base_rate:.0f}/s; goal ≥ 0.6",
        )
    )
    reporter.add(Figure("email_throughput_per_s", herald_rate, "emails/s"))
    reporter.add(
        Figure("email_duplicates", sent - len({p.name.split("-", 1)[1] for p in files}), "emails")
    )
    n = max(1, sent)
    reads, writes = worker.get("reads", 0) / n, worker.get("writes", 0) / n
    batches = int(service.get_campaign(runtime, ws, campaign["id"]).get("batches_total") or 0)
    reporter.add(Figure("firestore_reads_per_email", reads, "reads", note="goal ≤ 0.2"))
    reporter.add(Figure("firestore_writes_per_email", writes, "writes", note="goal ≤ 0.1"))
    reporter.add(Figure("tasks_per_email", batches / n, "tasks"))
    reporter.add(Figure("contact_import_rows_per_s", recipients / import_s, "rows/s"))
    print(f"# email function processes: {worker}; progress {progress}", file=sys.stderr)
    print(f"# herald timeline: {_timeline(mtimes, per_connection)}", file=sys.stderr)
    logs = stack.config.data_dir / "logs"
    phases = _phases(_log_entries(logs / "send_email.log"), campaign["id"])
    print(f"# send_email phases: {phases}", file=sys.stderr)
    expanded = [
        _at(e)
        for e in _log_entries(logs / "dispatch.log")
        if e.get("message") == "campaign expanded" and e.get("campaign_id") == campaign["id"]
    ]
    if expanded and mtimes:
        after = expanded[0] - mtimes[0]
        print(f"# expansion done {after:.1f}s after the first email", file=sys.stderr)
    context["results"].update(
        {
            "firestore_reads_per_email": reads,
            "firestore_writes_per_email": writes,
            "tasks_per_email": batches / n,
        }
    )
