"""Chaos: posts and emails through the local stack while faults are injected, then
count what the providers saw against what Herald recorded.

Faults: X answers 503 and 429-with-reset, and accepts posts whose answer is then cut
(the "timeout after the provider accepted" case); SMTP answers 451 and 550, accepts
messages whose 250 is then cut, and drops sessions; every task is delivered a second
time; the send_email and post_tweet processes are SIGKILLed mid-run and restarted; the
local Cloud Tasks is restarted with tasks still queued (full run), so dispatch must
recover them. The providers are fakes that, like the real ones, accept a repeat.

Figures: items sent twice (goal 0), items lost (goal 0), items ending in a terminal
state with a recorded reason (goal 100 %).

Over 400 lines because the fakes' faults, the kills and restarts, and the final tally
are one run: the counts only mean something against the faults injected.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from bench.common import scheduler_loop, stack_runtime
from bench.fakes import ChaosSMTPHandler, FakeX, Faults
from bench.report import Figure, Reporter
from local.stack import Ports, Stack, StackConfig, free_port
from shared.firestore_stats import FirestoreCounter
from shared.tasks import TaskSpec

X_TERMINAL = {"published", "failed", "cancelled"}
EMAIL_TERMINAL = {"sent", "failed", "suppressed", "unconfirmed", "cancelled"}
RESUME_GOAL_S = 120.0  # a batch whose worker was SIGKILLed is finished within this


def _kind_of(i: int) -> str:
    if i % 50 == 7:
        return "hard"  # 550: failed and suppressed
    if i % 40 == 3:
        return "soft"  # 451 once, then accepted on the retry ladder
    if i % 97 == 11:
        return "cut"  # accepted, answer lost: unconfirmed, never re-sent
    return "ok"


class Chaos:
    def __init__(self, stack: Stack, quick: bool) -> None:
        self.stack = stack
        self.quick = quick
        self.counter = FirestoreCounter()
        self.runtime = stack_runtime(stack, self.counter)
        self.ws = f"chaos-{uuid.uuid4().hex[:8]}"
        self.events: list[str] = []
        self.email_killed_at: datetime | None = None

    def log(self, message: str) -> None:
        self.events.append(message)
        print(f"# chaos: {message}", file=sys.stderr, flush=True)

    # -- setup ------------------------------------------------------------------------

    def x_account(self) -> str:
        from shared.secrets import user_secret_name
        from shared.x.models import TIERS, XAccount
        from shared.x.prices import tier_pricing
        from shared.x.store import order_key

        account_id = uuid.uuid4().hex[:20]
        ref = self.runtime.secrets.put(
            user_secret_name(self.ws, "x-token", account_id),
            json.dumps({"access_token": f"at-{account_id}", "access_token_secret": "ats"}),
        )
        now = self.runtime.clock.now()
        limits = {
            **TIERS["enterprise"].__dict__,
            "posts_per_15min": 100_000,
            "posts_per_24h": 1_000_000,
        }
        # Enterprise limits (the run posts far past a self-serve quota), billed at the
        # configured pay-per-use prices: what Herald counts is then worth checking.
        pay_per_use = dataclasses.asdict(tier_pricing(self.runtime.settings, "pay_per_use"))
        account = XAccount(
            id=account_id,
            workspace_id=self.ws,
            handle="chaos",
            x_user_id=account_id,
            tier="enterprise",
            limits=limits,
            pricing=pay_per_use,
            secret_ref=ref,
            created_at=now,
            updated_at=now,
            extra={"created_key": order_key(now, account_id)},
        )
        self.runtime.db.collection("x_accounts").document(account_id).set(account.to_doc())
        return account_id

    def posts(self, count: int, start_in_s: float, window_s: float, accounts: int) -> list[str]:
        """`count` posts (every fifth a two-part thread) over `accounts` X accounts: one
        X user cannot post more than a few hundred per 15 minutes."""
        from shared.x import service

        account_ids = [self.x_account() for _ in range(accounts)]
        start = self.runtime.clock.now() + timedelta(seconds=start_in_s)
        ids = []
        for i in range(count):
            parts = [f"chaos {self.ws} post {i} part {k}" for k in range(1 + (i % 5 == 0))]
            post = service.create_post(
                self.runtime,
                self.ws,
                account_id=account_ids[i % accounts],
                text=parts[0],
                parts=parts,
                due_at=start + timedelta(seconds=window_s * i / count),
            )
            service.schedule_post(self.runtime, self.ws, post["id"])
            ids.append(post["id"])
        return ids

    def campaign(self, recipients: int, smtp_port: int) -> tuple[str, list[str]]:
        from shared.email import service

        service.put_smtp_settings(
            self.runtime,
            self.ws,
            {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "from_address": "news@herald.example",
                "from_name": "Chaos",
                "postal_address": "Herald bench, 1 Example Street, Springfield",
                "daily_quota": 10_000_000,
                "per_minute_rate": 1_000_000,
            },
        )
        lst = service.create_contact_list(self.runtime, self.ws, "chaos")
        addresses = [f"c{i}-{_kind_of(i)}-{self.ws}@example.com" for i in range(recipients)]
        csv = "Email\n" + "".join(a + "\n" for a in addresses)
        service.import_contacts(
            self.runtime, self.ws, csv.encode(), "chaos.csv", {"email": "Email"}, lst["id"]
        )
        campaign = service.create_campaign(
            self.runtime,
            self.ws,
            {"name": "chaos", "subject": "Hello", "html": "<p>Chaos run</p>", "list_id": lst["id"]},
        )
        service.schedule_campaign(
            self.runtime,
            self.ws,
            campaign["id"],
            (self.runtime.clock.now() + timedelta(seconds=3)).isoformat(),
        )
        return campaign["id"], addresses

    # -- faults -----------------------------------------------------------------------

    def duplicate_tasks(self, campaign_id: str, stop: threading.Event) -> None:
        """Deliver every post and batch task a second time, as Cloud Tasks may."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        seen: set[str] = set()
        db = self.runtime.db
        while not stop.wait(2.0):
            try:
                posts = (
                    db.collection("posts")
                    .where(filter=FieldFilter("workspace_id", "==", self.ws))
                    .where(filter=FieldFilter("status", "==", "queued"))
                    .stream()
                )
                for snap in posts:
                    key = f"p:{snap.id}:{snap.get('try_n')}"
                    if key not in seen:
                        seen.add(key)
                        self.runtime.enqueuer.enqueue(
                            TaskSpec(
                                "tweets",
                                "post_tweet",
                                {
                                    "post_id": snap.id,
                                    "workspace_id": self.ws,
                                    "try_n": int(snap.get("try_n") or 0),
                                },
                            )
                        )
                batches = (
                    db.collection("email_batches")
                    .where(filter=FieldFilter("campaign_id", "==", campaign_id))
                    .stream()
                )
                for snap in batches:
                    if f"b:{snap.id}" not in seen:
                        seen.add(f"b:{snap.id}")
                        self.runtime.enqueuer.enqueue(
                            TaskSpec(
                                "emails",
                                "send_email",
                                {
                                    "batch_id": snap.id,
                                    "workspace_id": self.ws,
                                    "campaign_id": campaign_id,
                                },
                            )
                        )
            except Exception as exc:  # the tasks emulator may be restarting
                self.log(f"duplicate delivery skipped: {type(exc).__name__}")

    def kill_and_restart(self, name: str) -> None:
        self.stack.kill(name)
        if name == "send_email":
            self.email_killed_at = datetime.now(UTC)
        self.log(f"{name} killed (SIGKILL)")
        time.sleep(1.0)
        self.stack.restart(name, self.stack.config.ports.functions[name])
        self.log(f"{name} restarted")

    def restart_tasks_emulator(self) -> None:
        self.stack.kill("cloud-tasks")
        self.log("cloud tasks emulator killed with tasks queued")
        time.sleep(1.0)
        self.stack.restart("cloud-tasks", self.stack.config.ports.tasks)
        self.log("cloud tasks emulator restarted (empty)")


def run(reporter: Reporter, stack: Stack, quick: bool, context: dict[str, Any]) -> None:
    del stack  # chaos runs its own stack, pointed at the fault-injecting providers
    from shared.email import service as email_service

    posts_n, emails_n = (100, 500) if quick else (1_000, 10_000)
    fake_x = FakeX(Faults())
    smtp_handler = ChaosSMTPHandler()
    smtp_port = free_port()
    controller = Controller(smtp_handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    with tempfile.TemporaryDirectory(prefix="herald-chaos-") as tmp:
        config = StackConfig(
            ports=Ports.free(),
            data_dir=Path(tmp),
            project_id="herald-chaos",
            scheduler=False,
            admin=False,
            smtp_sink=False,
            functions=("dispatch", "post_tweet", "send_email", "track"),
            extra_env={
                "HERALD_X_API_BASE": fake_x.base_url,
                "HERALD_SECRET_X_CONSUMER_KEY": "chaos-consumer-key",
                "HERALD_SECRET_X_CONSUMER_SECRET": "chaos-consumer-secret",
                "HERALD_RECOVERY_GRACE_S": "20",
            },
        )
        chaos_stack = Stack(config).start()
        try:
            _run(
                reporter,
                chaos_stack,
                quick,
                posts_n,
                emails_n,
                fake_x,
                smtp_handler,
                smtp_port,
                email_service,
            )
        finally:
            chaos_stack.stop()
            controller.stop()
            fake_x.stop()


def _run(
    reporter: Reporter,
    stack: Stack,
    quick: bool,
    posts_n: int,
    emails_n: int,
    fake_x: FakeX,
    smtp: ChaosSMTPHandler,
    smtp_port: int,
    email_service: Any,
) -> None:
    from google.cloud.firestore_v1.base_query import FieldFilter

    chaos = Chaos(stack, quick)
    window_s = 20.0 if quick else 60.0
    post_ids = chaos.posts(posts_n, start_in_s=5.0, window_s=window_s, accounts=2 if quick else 10)
    campaign_id, addresses = chaos.campaign(emails_n, smtp_port)
    chaos.log(f"{posts_n} posts due over {window_s:.0f}s, {emails_n} recipients scheduled")
    stop = threading.Event()
    duplicator = threading.Thread(
        target=chaos.duplicate_tasks, args=(campaign_id, stop), daemon=True
    )
    started = time.monotonic()
    deadline = started + (80 if quick else 1200)
    killed_email = killed_post = restarted_tasks = False
    with scheduler_loop(stack, 2.0):
        duplicator.start()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            elapsed = time.monotonic() - started
            progress = email_service.campaign_progress(chaos.runtime, chaos.ws, campaign_id)
            if not killed_email and progress.get("sent", 0) > emails_n // 5:
                chaos.kill_and_restart("send_email")
                killed_email = True
                # A killed worker's batch resumes within 2 minutes: the run waits for it.
                deadline = max(deadline, time.monotonic() + RESUME_GOAL_S)
            if not killed_post and elapsed > window_s / 3:
                chaos.kill_and_restart("post_tweet")
                killed_post = True
            if not quick and not restarted_tasks and elapsed > window_s / 2:
                chaos.restart_tasks_emulator()
                restarted_tasks = True
            posts_done = (
                chaos.runtime.db.collection("posts")
                .where(filter=FieldFilter("workspace_id", "==", chaos.ws))
                .where(filter=FieldFilter("status", "in", sorted(X_TERMINAL)))
                .count()
                .get()
            )
            emails_pending = progress.get("pending", 1) + progress.get("deferred", 0)
            if int(posts_done[0][0].value) >= posts_n and emails_pending == 0 and killed_email:
                break
        stop.set()
        duplicator.join(10)
    chaos.log(f"settled after {time.monotonic() - started:.0f}s")
    _report(reporter, chaos, post_ids, campaign_id, addresses, fake_x, smtp, email_service)


def _leased_batches(chaos: Chaos, campaign_id: str) -> dict[str, int]:
    """Unfinished batches whose run still holds its lease (a killed worker's batch is
    taken over when the lease ends): batch id -> recipients without outcome."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = chaos.runtime.db
    now = chaos.runtime.clock.now()
    held = {}
    for snap in (
        db.collection("email_batches")
        .where(filter=FieldFilter("campaign_id", "==", campaign_id))
        .stream()
    ):
        batch = snap.to_dict()
        if batch.get("status") == "done":
            continue
        lease = batch.get("lease_until")
        if batch.get("status") == "sending" and lease and lease > now:
            held[snap.id] = len(batch.get("recipients") or []) - len(batch.get("outcomes") or {})
    return held


def _killed_batches_done_after(chaos: Chaos, campaign_id: str) -> float | None:
    """Seconds from the kill of send_email until the last batch it left in doubt (a
    recipient unconfirmed because the worker stopped) was finished by its new run."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared.email.ownership import UNCONFIRMED_CRASH

    if chaos.email_killed_at is None:
        return None
    query = chaos.runtime.db.collection("email_batches").where(
        filter=FieldFilter("campaign_id", "==", campaign_id)
    )
    finished = [
        b.get("finished_at")
        for b in (d.to_dict() for d in query.stream())
        if any(o.get("reason") == UNCONFIRMED_CRASH for o in (b.get("outcomes") or {}).values())
    ]
    if not finished or None in finished:
        return None
    return round((max(finished) - chaos.email_killed_at).total_seconds(), 1)


def _report(
    reporter: Reporter,
    chaos: Chaos,
    post_ids: list[str],
    campaign_id: str,
    addresses: list[str],
    fake_x: FakeX,
    smtp: ChaosSMTPHandler,
    email_service: Any,
) -> None:
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = chaos.runtime.db
    # X: each part's text is unique, so the fake's per-text count is per part.
    sent_twice = lost = terminal = 0
    refs = [db.collection("posts").document(post_id) for post_id in post_ids]
    posts = {snap.id: snap.to_dict() for snap in db.get_all(refs)}  # one round trip
    for post_id in post_ids:
        post = posts[post_id]
        accepted = [len(fake_x.state.accepted.get(part, [])) for part in post["parts"]]
        sent_twice += sum(1 for a in accepted if a > 1)
        if any(a > 1 for a in accepted) or (post["status"] not in X_TERMINAL):
            _explain_post(chaos, post_id, post, fake_x)
        published_claim = post["status"] == "published"
        if published_claim and not all(accepted):
            lost += 1  # Herald says published, X never got a part
        elif post["status"] not in X_TERMINAL and not all(accepted):
            lost += 1
        reason = (post.get("last_error") or {}).get("reason")
        if (published_claim and all(accepted)) or (
            post["status"] in X_TERMINAL - {"published"} and reason
        ):
            terminal += 1
    items = len(post_ids)
    # Email: per recipient, what the SMTP server accepted against Herald's outcome.
    outcomes: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        page = email_service.list_outcomes(
            chaos.runtime, chaos.ws, campaign_id, after=after, limit=100
        )
        for item in page["items"]:
            # A resent recipient appears in its retry batch too; the later outcome wins.
            if item.get("status") != "deferred" or item["email"] not in outcomes:
                outcomes[item["email"]] = item
        after = page["next"]
        if not after:
            break
    # Batches still leased at the deadline: their recipients are in progress, not lost.
    leased = set(_leased_batches(chaos, campaign_id))
    in_progress = 0
    stuck_batches = {
        o.get("batch_id") for o in outcomes.values() if o.get("status") not in EMAIL_TERMINAL
    }
    for batch_id in sorted(b for b in stuck_batches if b):
        b = db.collection("email_batches").document(batch_id).get().to_dict() or {}
        claims = [
            d.id
            for d in db.collection("claims")
            .where(filter=FieldFilter("workspace_id", "==", chaos.ws))
            .stream()
            if batch_id in d.id
        ]
        print(
            f"# chaos batch {batch_id}: "
            + str(
                {
                    k: b.get(k)
                    for k in (
                        "status",
                        "run_gen",
                        "ckpt_gen",
                        "lease_until",
                        "due_at",
                        "inflight",
                        "attempt",
                    )
                }
            )
            + f" outcomes={len(b.get('outcomes') or {})} claims={claims}",
            file=sys.stderr,
        )
    for address in addresses:
        times = smtp.accepted.get(address, 0)
        outcome = outcomes.get(address, {"status": "missing"})
        status = outcome.get("status")
        if status not in EMAIL_TERMINAL and outcome.get("batch_id") in leased and not times:
            in_progress += 1
            continue
        sent_twice += int(times > 1)
        if times > 1 or status not in EMAIL_TERMINAL:
            print(f"# chaos email {address}: accepted {times} outcome {outcome}", file=sys.stderr)
        if (status == "sent" and times == 0) or (status not in EMAIL_TERMINAL and not times):
            lost += 1
        has_reason = bool(outcome.get("text") or outcome.get("reason") or outcome.get("code"))
        if (status == "sent" and accepted) or (
            status in EMAIL_TERMINAL - {"sent"} and (has_reason or status == "suppressed")
        ):
            terminal += 1
    items += len(addresses)
    note = (
        f"{len(post_ids)} posts + {len(addresses)} emails; injected X "
        f"{dict(fake_x.state.injected)}, SMTP {dict(smtp.injected)}; " + "; ".join(chaos.events)
    )
    reporter.add(Figure("chaos_sent_twice", sent_twice, "items", note="goal 0"))
    reporter.add(Figure("chaos_lost", lost, "items", note="goal 0"))
    reporter.add(
        Figure(
            "chaos_in_progress_at_deadline",
            in_progress,
            "items",
            note="held by a batch's lease at the deadline; resumed when it ends",
        )
    )
    resumed = _killed_batches_done_after(chaos, campaign_id)
    if resumed is not None:
        reporter.add(
            Figure(
                "chaos_killed_batch_done_after_s",
                resumed,
                "s",
                note=f"SIGKILL of send_email to its batches done; goal ≤ {RESUME_GOAL_S:.0f}",
            )
        )
    reporter.add(Figure("chaos_terminal_with_reason_pct", 100.0 * terminal / items, "%", note=note))
    _report_x_cost(reporter, chaos.runtime.settings, posts, fake_x)


def _report_x_cost(
    reporter: Reporter, settings: Any, posts: dict[str, dict[str, Any]], fake_x: FakeX
) -> None:
    """What Herald counted X would bill (x_cost_usd on each post) against what the fake X
    saw: every create it accepted (a URL in it costs more) and every post a timeline read
    returned (owned reads), at the configured pay-per-use prices."""
    from shared.text import has_url
    from shared.x.prices import tier_pricing

    prices = tier_pricing(settings, "pay_per_use")
    counted = sum(float(p.get("x_cost_usd") or 0) for p in posts.values())
    with fake_x.state.lock:
        creates = [t["text"] for t in fake_x.state.tweets]
        reads = sum(len(r["ids"]) for r in fake_x.state.reads)
    seen = sum(prices.post_with_url_usd if has_url(t) else prices.post_usd for t in creates)
    seen += reads * prices.owned_read_usd
    published = sum(1 for p in posts.values() if p.get("status") == "published") or 1
    reporter.add(
        Figure(
            "chaos_x_cost_usd_per_post",
            counted / published,
            "USD",
            note=f"counted by Herald; {len(creates)} creates and {reads} posts read at the fake X",
        )
    )
    reporter.add(
        Figure(
            "chaos_x_cost_counted_vs_x_ratio",
            counted / seen if seen else 1.0,
            "ratio",
            note=f"Herald's count ${counted:.3f} / what the fake X saw ${seen:.3f}; goal 1.0",
        )
    )


def _explain_post(chaos: Chaos, post_id: str, post: dict[str, Any], fake_x: FakeX) -> None:
    """Everything needed to tell why a post went out twice or did not settle: its
    document, each copy X accepted, the timeline reads X served for its account, and
    the post_tweet log lines that name it."""
    fields = {
        k: post.get(k)
        for k in (
            "status",
            "try_n",
            "attempts",
            "x_ids",
            "last_error",
            "unknown_outcome",
            "unconfirmed_at",
            "sent_after",
            "reconcile_tries",
            "next_at",
            "queued_at",
            "published_at",
        )
    }
    print(f"# chaos post {post_id}: {fields}", file=sys.stderr)
    copies = [t for t in fake_x.state.tweets if t["text"] in set(post["parts"])]
    for tweet in copies:
        print(f"#   accepted {tweet}", file=sys.stderr)
    users = {t["user"] for t in copies}
    first = min((t["created_at"] for t in copies), default="")
    for read in fake_x.state.reads:
        if read["user"] in users and read["at"] >= first:
            hit = [i for i in read["ids"] if i in {t["id"] for t in copies}]
            print(
                f"#   read at {read['at']} since {read['since']} until {read['until']} "
                f"offset {read['offset']}: {len(read['ids'])} ids, ours {hit}",
                file=sys.stderr,
            )
    for name in ("post_tweet", "dispatch"):
        log_file = chaos.stack.config.data_dir / "logs" / f"{name}.log"
        if log_file.exists():
            with log_file.open(errors="replace") as lines:
                for line in lines:
                    if post_id in line:
                        print(f"#   {name} {line.strip()[:600]}", file=sys.stderr)
