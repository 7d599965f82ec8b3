"""Email throughput: a campaign to N recipients through the local stack (scheduler loop
→ dispatch → Cloud Tasks → send_email → SMTP sink), against a plain smtplib
loop sending the same rendered messages into the same sink over the same number of
connections (one per batch of 50). Firestore reads/writes per delivered email on the
send path are counted in the function processes.

The stack's sink offers PIPELINING (as Gmail, SES, SendGrid and Postfix do), which
Herald uses and the smtplib loop cannot; the same campaign is then sent again into a
sink that does not offer it (`email_throughput_ratio_no_pipelining`).

DKIM signing is on for both sends (a key generated as the page does; the loop sends the
signed messages as they arrived): a sample of the delivered messages is verified with
dkimpy, and `dkim_sign_ms_per_message` times the signer alone.

Over 400 lines because the two sends (Herald and the smtplib loop), their sinks and
the DKIM sample are one measurement and must run against the same setup.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from bench.common import FunctionCounts, Ticks, counted_scheduler_loop, fixed_tick, stack_runtime
from bench.report import Figure, Reporter
from local.stack import ROOT, Stack, free_port, port_open
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


@dataclass
class _Send:
    """One measured campaign send and its smtplib baseline into the same sink."""

    campaign_id: str
    files: list[Path]
    mtimes: list[float]
    progress: dict[str, Any]
    herald_rate: float
    base_rate: float
    ticks: Ticks

    @property
    def ratio(self) -> float:
        return self.herald_rate / self.base_rate

    def figure(self, name: str, recipients: int, sink: str) -> Figure:
        return Figure(
            name,
            self.ratio,
            "x",
            baseline=self.base_rate,
            ratio=self.ratio,
            note=f"{len(self.files)}/{recipients} delivered; herald {self.herald_rate:.0f}/s "
            f"vs smtplib {self.base_rate:.0f}/s; {sink}; goal ≥ 0.6",
        )


def _send(
    runtime: Any,
    stack: Stack,
    ws: str,
    list_id: str,
    tag: str,
    mail_dir: Path,
    smtp_port: int,
    quick: bool,
    ticks: Ticks,
) -> _Send:
    """Schedules a campaign to the list, waits until every recipient has an outcome,
    then times the smtplib loop over the messages the sink kept."""
    from shared.email import service

    campaign = service.create_campaign(
        runtime,
        ws,
        {
            "name": "bench",
            "subject": "Hello {{ first_name }}",
            "html": "<h1>Hi {{ first_name }}</h1><p>Our news this week, in a few lines of text "
            "that look like a real newsletter.</p>" * 3,
            "list_id": list_id,
        },
    )
    tick_s = 2.0 if quick else 10.0
    service.schedule_campaign(
        runtime, ws, campaign["id"], (runtime.clock.now() + timedelta(seconds=2)).isoformat()
    )
    deadline = time.monotonic() + (120 if quick else 900)
    progress: dict[str, Any] = {}
    with counted_scheduler_loop(stack, tick_s, ticks):
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
    files = _delivered(mail_dir, tag)
    mtimes = sorted(p.stat().st_mtime for p in files)
    herald_s = mtimes[-1] - mtimes[0] if len(mtimes) > 1 else float("nan")
    base_s = baseline(
        [p.read_bytes() for p in files], "127.0.0.1", smtp_port, runtime.settings.email_batch_size
    )
    return _Send(
        campaign["id"],
        files,
        mtimes,
        progress,
        (len(files) - 1) / herald_s,
        len(files) / base_s,
        ticks,
    )


@contextlib.contextmanager
def _sink_without_pipelining(directory: Path) -> Iterator[int]:
    """The local SMTP sink in its own process (as the stack runs it), not offering
    PIPELINING; yields its port."""
    port = free_port()
    argv = [sys.executable, "-m", "local.smtp_sink", "--port", str(port), "--dir", str(directory)]
    process = subprocess.Popen([*argv, "--no-pipelining"], cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not port_open(port):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the SMTP sink without PIPELINING did not start")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def campaign_fixed_cost(stack: Stack) -> dict[str, float]:
    """What a campaign costs the dispatcher beyond its recipients, measured in-process
    on a fresh project: the email source's tick that expands it (loading it, the
    expansion's lease claim, quota ledger, settings and import check, the campaign's
    saves, and the list's member pages: one for these 2,000 contacts, about one per
    1,000-4,000 members of a larger list) less the same tick with
    nothing due and less its batches' creates (one per batch: per recipient); and a tick
    while it sends (the done check: its batch tallies) less an empty one."""
    from shared.dispatch import DispatchContext
    from shared.email import service
    from shared.email.dispatch import EmailSource
    from shared.email.imports import SYNC_ROWS
    from shared.settings import Settings
    from shared.tasks import RecordingEnqueuer

    counter = FirestoreCounter()
    env = stack.env() | {"GOOGLE_CLOUD_PROJECT": f"fixed-{uuid.uuid4().hex[:8]}"}
    runtime = stack_runtime(stack, counter, Settings.from_env(env))
    runtime._enqueuer = RecordingEnqueuer()
    ws = "bench-fixed"
    lst = service.create_contact_list(runtime, ws, "fixed")
    rows = "".join(f"fixed-{i}@example.com\n" for i in range(SYNC_ROWS))  # written at once
    service.import_contacts(
        runtime, ws, f"Email\n{rows}".encode(), "fixed.csv", {"email": "Email"}, lst["id"]
    )
    source = EmailSource()
    now = runtime.clock.now()
    ctx = DispatchContext(runtime=runtime, now=now, horizon=now + timedelta(seconds=90))
    # Recovery is a periodic pass of every tick, not the campaign's: not this minute.
    source._next_recovery[runtime.settings.project_id] = now + timedelta(seconds=60)

    def tick_cost() -> dict[str, int]:
        counter.reset()
        counts = source.run(ctx)
        return {"reads": counter.reads, "writes": counter.writes, "batches": counts["batches"]}

    empty = tick_cost()
    campaign = service.create_campaign(
        runtime, ws, {"name": "fixed", "subject": "Hi", "html": "<p>Hi</p>", "list_id": lst["id"]}
    )
    service.schedule_campaign(runtime, ws, campaign["id"], now.isoformat())
    expand = tick_cost()
    sending = tick_cost()
    return {
        "reads": expand["reads"] - empty["reads"],
        "writes": expand["writes"] - empty["writes"] - expand["batches"],
        "done_check_reads": sending["reads"] - empty["reads"],
    }


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
    # so the send is measured on its own.
    if imported.get("import_id") and imported.get("status") not in ("done", None):
        import_deadline = time.monotonic() + 900
        while time.monotonic() < import_deadline:
            state = service.get_import(runtime, ws, imported["import_id"])
            if state.get("status") in ("done", "failed"):
                break
            time.sleep(0.5)
    import_s = time.perf_counter() - import_started
    campaign_fixed = campaign_fixed_cost(stack)
    dkim_conf = _dkim_on(runtime, ws)
    functions = FunctionCounts(context["stats_dir"])
    # The stack's sink offers PIPELINING, as the providers Herald sends through do.
    sent = _send(
        runtime,
        stack,
        ws,
        lst["id"],
        tag,
        stack.mail_dir,
        stack.config.ports.smtp,
        quick,
        fixed_tick(stack, context),
    )
    worker = functions.delta()
    n = len(sent.files)
    verified, sample = _verified(sent.files, dkim_conf)
    reporter.add(
        sent.figure(
            "email_throughput_ratio",
            recipients,
            f"sink offers PIPELINING; DKIM on ({verified}/{sample} sampled verify)",
        )
    )
    reporter.add(Figure("dkim_sign_ms_per_message", _sign_ms(runtime, dkim_conf, sent.files), "ms"))
    reporter.add(Figure("email_throughput_per_s", sent.herald_rate, "emails/s"))
    reporter.add(
        Figure("email_duplicates", n - len({p.name.split("-", 1)[1] for p in sent.files}), "emails")
    )
    n = max(1, n)
    # Per email, net of the run's ticks (each reads the sending campaign's tallies to
    # see whether it is done, besides every source's fixed queries) and of the campaign.
    net = sent.ticks.net(worker)
    reads = (net["reads"] - campaign_fixed["reads"]) / n
    writes = (net["writes"] - campaign_fixed["writes"]) / n
    batches = int(service.get_campaign(runtime, ws, sent.campaign_id).get("batches_total") or 0)
    gross = f"gross {worker.get('reads', 0) / n:.3f} / {worker.get('writes', 0) / n:.3f}"
    reporter.add(
        Figure(
            "firestore_reads_per_email",
            reads,
            "reads",
            note=f"{sent.ticks.note()}, and of the campaign's fixed cost; {gross}; goal ≤ 0.2",
        )
    )
    reporter.add(Figure("firestore_writes_per_email", writes, "writes", note="goal ≤ 0.1"))
    reporter.add(
        Figure(
            "email_fixed_reads_per_campaign",
            campaign_fixed["reads"],
            "reads",
            note="loading it, its expansion's lease, quota, settings and import check, "
            "its saves, and its list's member page (one for 2,000 contacts)",
        )
    )
    reporter.add(Figure("email_fixed_writes_per_campaign", campaign_fixed["writes"], "writes"))
    reporter.add(
        Figure(
            "email_done_check_reads_per_tick",
            campaign_fixed["done_check_reads"],
            "reads",
            note="each tick while a campaign sends (part of the ticks' fixed cost above)",
        )
    )
    reporter.add(Figure("tasks_per_email", batches / n, "tasks"))
    # The import's own figures come from bench/contact_import.py (100,000 rows, end to end).
    print(f"# email list of {recipients} imported in {import_s:.1f} s", file=sys.stderr)
    print(f"# email function processes: {worker}; progress {sent.progress}", file=sys.stderr)
    print(f"# dispatch ticks (reads, writes, answer): {sent.ticks.costs}", file=sys.stderr)
    _print_where_time_went(stack, sent, runtime.settings.email_batch_size)
    # The same campaign against a server that does not offer PIPELINING: three round
    # trips per message where the pipelined send makes one, as the smtplib loop does.
    with (
        tempfile.TemporaryDirectory(prefix="herald-sink-") as tmp,
        _sink_without_pipelining(Path(tmp)) as port,
    ):
        service.put_smtp_settings(
            runtime,
            ws,
            {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from_address": "news@herald.example",
                "from_name": "Bench",
                "postal_address": "Herald bench, 1 Example Street, Springfield",
                "daily_quota": 10_000_000,
                "per_minute_rate": 1_000_000,
            },
        )
        plain = _send(
            runtime, stack, ws, lst["id"], tag, Path(tmp), port, quick, fixed_tick(stack, context)
        )
    reporter.add(plain.figure("email_throughput_ratio_no_pipelining", recipients, "no PIPELINING"))
    _print_where_time_went(stack, plain, runtime.settings.email_batch_size)
    context["results"].update(
        {
            "firestore_reads_per_email": reads,
            "firestore_writes_per_email": writes,
            "tasks_per_email": batches / n,
        }
    )


def _dkim_on(runtime: Any, ws: str) -> dict[str, Any]:
    """A DKIM key for the sandbox sender's domain, generated and turned on as the page does."""
    from shared.email import deliverability

    view = deliverability.generate_dkim(
        runtime, ws, {"domain": "localhost.localdomain", "selector": "bench"}
    )
    return {**deliverability.load(runtime, ws)["dkim"], "dns": view["dkim"]["dns"]}


def _verified(files: list[Path], conf: dict[str, Any], sample: int = 20) -> tuple[int, int]:
    """How many of a sample of delivered messages dkimpy verifies with the DNS record."""
    import dkim

    record = "".join(conf["dns"]["strings"]).encode()
    picked = files[:: max(1, len(files) // sample)][:sample]
    ok = sum(
        1 for p in picked if dkim.verify(p.read_bytes(), dnsfunc=lambda _name, timeout=5: record)
    )
    return ok, len(picked)


def _sign_ms(runtime: Any, conf: dict[str, Any], files: list[Path], n: int = 300) -> float:
    """Milliseconds to sign one message (the delivered messages, their signature cut)."""
    from shared.email.signing import Signer

    signer = Signer(conf["domain"], conf["selector"], runtime.secrets.get(conf["key_ref"]))
    bodies = []
    for p in files[:n]:
        raw = p.read_bytes()
        # The field and its folded lines end where the next field starts.
        raw = re.sub(rb"\ADKIM-Signature:.*?\r\n(?![ \t])", b"", raw, flags=re.S)
        bodies.append(raw)
    started = time.perf_counter()
    for raw in bodies:
        signer.sign(raw)
    return (time.perf_counter() - started) * 1000 / max(1, len(bodies))


def _print_where_time_went(stack: Stack, sent: _Send, per_batch: int) -> None:
    print(f"# herald timeline: {_timeline(sent.mtimes, per_batch)}", file=sys.stderr)
    logs = stack.config.data_dir / "logs"
    phases = _phases(_log_entries(logs / "send_email.log"), sent.campaign_id)
    print(f"# send_email phases: {phases}", file=sys.stderr)
    expanded = [
        _at(e)
        for e in _log_entries(logs / "dispatch.log")
        if e.get("message") == "campaign expanded" and e.get("campaign_id") == sent.campaign_id
    ]
    if expanded and sent.mtimes:
        after = expanded[0] - sent.mtimes[0]
        print(f"# expansion done {after:.1f}s after the first email", file=sys.stderr)
